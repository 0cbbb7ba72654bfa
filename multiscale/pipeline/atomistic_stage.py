"""Atomistic stages of ``multiscale run``: live ML-MD at several fields, trajectory analysis
(RDF, D(z), ρ(z) → φ(z)), and the reactions stage (α from E_a(φ))."""
from __future__ import annotations

import logging

import numpy as np

from ..errors import DataFileError, NotBuiltError

log = logging.getLogger(__name__)


def _require_potential():
    try:
        from ..atomistic import load_potential

        return load_potential()
    except (ImportError, DataFileError) as exc:
        raise NotBuiltError(f"the shipped ML potential is not available ({exc})") from None


def _traj_name(field_V_per_A: float) -> str:
    return f"field_{field_V_per_A:+.3f}.traj"


def run_md(ctx) -> dict:
    """Live Langevin ML-MD of the default interface at each configured field (ensemble σ_F recorded)."""
    from ase.optimize import FIRE

    from ..atomistic import default_system
    from ..atomistic.md import run_md as md

    calc = _require_potential()
    cfg = ctx.config["md"]
    fast = ctx.config["run"]["fast"]
    n_steps = 40 if fast else cfg["live_steps"]
    md_dir = ctx.out_dir / "md"
    md_dir.mkdir(parents=True, exist_ok=True)
    runs = {}
    for k, field in enumerate(cfg["fields_V_per_A"]):
        atoms = default_system(seed=ctx.config["run"]["seed"] + k, size="train" if fast else "md")
        calc.set(field_V_per_A=field)
        atoms.calc = calc
        # A random packing has close contacts: relax them before dynamics.
        FIRE(atoms, logfile=None).run(fmax=1.0, steps=30 if fast else 100)
        res = md(atoms, calc, n_steps=n_steps, timestep_fs=cfg["timestep_fs"], ensemble="langevin",
                 temperature_K=cfg["temperature_K"], initial_temperature_K=cfg["temperature_K"], interval=2,
                 on_untrusted="flag", trajectory=md_dir / _traj_name(field), seed=ctx.config["run"]["seed"] + k,
                 progress=not ctx.quiet)
        runs[f"{field:+.3f}"] = {
            "trajectory": str((md_dir / _traj_name(field)).relative_to(ctx.out_dir)),
            "n_atoms": res.n_atoms, "n_frames": int(len(res.time_fs)), "n_untrusted_frames": res.n_untrusted,
            "max_force_uncertainty_eV_per_A": float(np.max(res.max_force_uncertainty_eV_per_A)),
            "mean_temperature_K": float(np.mean(res.temperature_K[len(res.temperature_K) // 2:])),
        }
    return {"runs": runs, "model": calc.name if hasattr(calc, "name") else "ml potential",
            "reference": getattr(calc, "reference", ""), "source": "live",
            "note": f"live ML-MD, {n_steps} steps of {cfg['timestep_fs']} fs per field (no shipped long trajectories)"}


def run_analysis(ctx) -> dict:
    """Li–O RDF and shell metrics per field, solvent D(z), ρ(z) → φ(z) at zero field."""
    import ase.io

    from ..analysis import diffusion_profile
    from ..analysis.electrostatics import ChargeDensity
    from ..analysis.rdf import RDF, shell_metrics

    md = ctx.results.get("md")
    if md is None:
        raise NotBuiltError("trajectory analysis needs the md stage, which did not run")
    structure, profile, params = {}, None, {}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, run in md["runs"].items():
        path = ctx.out_dir / run["trajectory"]
        frames = ase.io.read(path, index=":")
        rdf = RDF("Li", "O", r_max_A=6.0, n_bins=120).run(frames).results
        m = shell_metrics(rdf)
        structure[label] = {k: float(v) for k, v in m.items() if np.isscalar(v)}
        ax.plot(rdf["r"], rdf["rdf"], label=f"F = {label} V/Å")
    ax.set_xlabel("r [Å]")
    ax.set_ylabel("g_Li–O(r)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(ctx.figures_dir / "rdf_li_o.png", dpi=110)
    plt.close(fig)

    zero = min(md["runs"], key=lambda s: abs(float(s)))
    frames = ase.io.read(ctx.out_dir / md["runs"][zero]["trajectory"], index=":")
    z_top = max(a.positions[:, 2].max() for a in frames)
    z_sheet = float(np.mean([a.positions[a.get_tags() == 0, 2].mean() for a in frames]))
    edges = np.linspace(z_sheet + 1.0, z_top + 0.5, 9)
    pos = np.array([a.positions for a in frames])
    dt_ps = 1e-3 * ctx.config["md"]["timestep_fs"] * 2  # trajectory written every 2 steps
    solvent = np.array([s in ("C", "O", "H") for s in frames[0].get_chemical_symbols()]) & (frames[0].get_tags() > 0)
    dfz = diffusion_profile(pos, np.arange(len(frames)) * dt_ps, frames[0].cell.array, axis=2, bin_edges=edges,
                            species=np.flatnonzero(solvent), min_samples=5)
    rho = ChargeDensity(np.linspace(z_sheet - 1.0, z_top + 0.5, 41), boundary="field",
                        relative_permittivity=1.0).run(frames).results
    ok = ~dfz["no data"].to_numpy() if "no data" in dfz else np.ones(len(dfz), bool)
    if ok.sum() >= 2:
        z_m = rho["z"]
        d_z = np.interp(z_m, dfz["z [m]"].to_numpy()[ok], dfz["D_parallel [m2.s-1]"].to_numpy()[ok])
        profile = {"z_m": z_m.tolist(), "diffusivity_m2_s": d_z.tolist(), "potential_V": rho["potential"].tolist()}
    params["Potential drop across the interface (zero field)"] = {
        "value": float(rho.meta["potential_drop_V"]), "unit": "V",
        "provenance": "live: ML charges → ρ(z) → Poisson (vacuum permittivity, field boundary), short ML-MD"}
    return {"structure": structure, "diffusion_profile": dfz.to_dict(orient="list"), "interface_profile": profile,
            "parameters": params}


def run_reactions(ctx) -> dict:
    if "md" not in ctx.results:
        raise NotBuiltError("the reactions stage needs the ML potential, which is not available")
    raise NotBuiltError("a charge-transfer reaction path for the default interface is not built yet")
