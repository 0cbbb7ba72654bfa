"""Atomistic stages of ``multiscale run``: live ML-MD at several fields, trajectory analysis
(RDF, D(z), ρ(z) → φ(z)), and the reactions stage (α from E_a(φ))."""
from __future__ import annotations

import logging

import numpy as np

from ..errors import DataFileError, InputError, NotBuiltError
from ..units import angstrom_m

log = logging.getLogger(__name__)


def _require_potential(name: str | None = None):
    try:
        from ..atomistic import load_potential

        return load_potential(name)
    except (ImportError, DataFileError) as exc:
        raise NotBuiltError(f"the shipped ML potential is not available ({exc})") from None


def _traj_name(field_V_per_A: float) -> str:
    return f"field_{field_V_per_A:+.3f}.traj"


def run_md(ctx) -> dict:
    """Live Langevin ML-MD of the default interface at each configured field (ensemble σ_F recorded)."""
    from ..atomistic import default_system
    from ..atomistic.md import relax
    from ..atomistic.md import run_md as md
    from ..atomistic.system import freeze_electrode

    cfg = ctx.config["md"]
    calc = _require_potential(cfg.get("potential"))
    fast = ctx.config["run"]["fast"]
    n_steps = 40 if fast else cfg["live_steps"]
    md_dir = ctx.out_dir / "md"
    md_dir.mkdir(parents=True, exist_ok=True)
    runs = {}
    for k, field in enumerate(cfg["fields_V_per_A"]):
        atoms = default_system(seed=ctx.config["run"]["seed"] + k, size="train" if fast else "md")
        freeze_electrode(atoms)  # rigid graphene electrode (its xTB forces are not local; see the model card)
        calc.set(field_V_per_A=field)
        atoms.calc = calc
        try:
            # a random packing starts with overlaps (and inside the core-repulsion walls): relax first
            start = relax(atoms, calc, steps=60 if fast else 300)
            res = md(atoms, calc, n_steps=n_steps, timestep_fs=cfg["timestep_fs"], ensemble="langevin",
                     temperature_K=cfg["temperature_K"], initial_temperature_K=cfg["temperature_K"], interval=2,
                     on_untrusted="flag", trajectory=md_dir / _traj_name(field),
                     seed=ctx.config["run"]["seed"] + k, progress=not ctx.quiet)
        except InputError as exc:
            # The potential refused a configuration (out of its training domain): keep the frames
            # written so far and say so, rather than analysing a trajectory it cannot describe.
            log.warning("ML-MD at F = %+.3f V/Å stopped: %s", field, exc)
            runs[f"{field:+.3f}"] = {"trajectory": str((md_dir / _traj_name(field)).relative_to(ctx.out_dir)),
                                     "stopped": f"out of the potential's domain: {exc}"}
            continue
        runs[f"{field:+.3f}"] = {
            "trajectory": str((md_dir / _traj_name(field)).relative_to(ctx.out_dir)),
            "n_atoms": res.n_atoms, "n_frames": int(len(res.time_fs)), "n_untrusted_frames": res.n_untrusted,
            "max_force_uncertainty_eV_per_A": float(np.max(res.max_force_uncertainty_eV_per_A)),
            "mean_temperature_K": float(np.mean(res.temperature_K[len(res.temperature_K) // 2:])),
            "start_relaxation": start,
        }
    from ..atomistic.production import shipped_runs

    shipped, shipped_note = shipped_runs(getattr(calc, "model_name", None))
    fields = {f"{f:+.3f}" for f in cfg["fields_V_per_A"]}
    shipped = {k: v for k, v in shipped.items() if k in fields}
    return {"runs": runs, "shipped": shipped, "model": calc.name if hasattr(calc, "name") else "ml potential",
            "reference": getattr(calc, "reference", ""), "source": "live + shipped" if shipped else "live",
            "note": (f"live ML-MD, {n_steps} steps of {cfg['timestep_fs']} fs per field from a FIRE-relaxed random "
                     f"packing, graphene electrode held fixed; {shipped_note}"
                     + (f" for F = {', '.join(sorted(shipped))} V/Å" if shipped else ""))}


def _trajectory_sets(ctx, md: dict) -> dict:
    """Per field label: live frames (this run), shipped frames (data/, same model) and the time step
    between stored frames of each [ps]."""
    import ase.io

    from ..atomistic.production import load_trajectory

    sets: dict = {}
    live_dt_ps = 1e-3 * ctx.config["md"]["timestep_fs"] * 2  # the md stage stores every 2nd step
    for label, run in md["runs"].items():
        path = ctx.out_dir / run["trajectory"]
        frames = ase.io.read(path, index=":") if path.is_file() else []
        sets.setdefault(label, {"live": [], "shipped": []})
        if len(frames) >= 8:
            sets[label].update(live=frames, live_dt_ps=live_dt_ps)
    for label, run in (md.get("shipped") or {}).items():
        sets.setdefault(label, {"live": [], "shipped": []})
        sets[label].update(shipped=load_trajectory(run["path"]), shipped_dt_ps=run["dt_ps"])
    return {k: v for k, v in sets.items() if v["live"] or v["shipped"]}


def _source(item: dict) -> str:
    parts = [f"{kind} ({len(item[kind])} frames)" for kind in ("live", "shipped") if item[kind]]
    return " + ".join(parts)


def run_analysis(ctx) -> dict:
    """Li–O RDF and shell metrics per field (live + shipped frames), solvent D(z), ρ(z) → φ(z) from
    the longest contiguous trajectory near zero field (shipped when available)."""
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

    sets = _trajectory_sets(ctx, md)
    if not sets:
        raise NotBuiltError("no ML-MD trajectory long enough to analyse (see the md stage's notes)")
    fig, ax = plt.subplots(figsize=(6, 4))
    sources = {}
    for label, item in sets.items():
        # RDFs are averages over frames: live and shipped frames of one field pool (blocks stay per
        # run) when they are the same cell; otherwise the kind with more frames is used alone
        kinds = [k for k in ("shipped", "live") if item[k]]
        sizes = {k: len(item[k][0]) for k in kinds}
        if len(set(sizes.values())) > 1:
            kinds = [max(kinds, key=lambda k: len(item[k]))]
        runs = [item[k] for k in kinds]
        frames = [a for run in runs for a in run]
        sources[label] = _source({k: (item[k] if k in kinds else []) for k in ("live", "shipped")})
        if len(kinds) < len([k for k in ("shipped", "live") if item[k]]):
            other = "live" if kinds == ["shipped"] else "shipped"
            sources[label] += f"; {other} frames ({len(item[other])}) are another cell size, not pooled"
        # In-plane periodic film with vacuum along z: minimum image only in x, y.
        r_max = min(6.0, 0.49 * min(frames[0].cell.lengths()[:2]))

        def li_o_rdf(fr, r_max=r_max):
            return RDF("Li", "O", r_max_A=r_max, n_bins=int(r_max / 0.05), pbc=(True, True, False)).run(fr).results

        rdf = li_o_rdf(frames)
        m = shell_metrics(rdf)
        # NaN (no first minimum in range) is stored as None: summaries are strict JSON
        structure[label] = {k: (float(v) if np.isfinite(v) else None) for k, v in m.items() if np.isscalar(v)}
        structure[label]["source"] = sources[label]
        per_block = [shell_metrics(li_o_rdf(b)) for run in runs for b in _blocks(run)]
        for key in ("first_peak_r_A", "coordination_number"):
            structure[label][f"{key}_interval95"] = block_interval(
                [b[key] for b in per_block if b["shell_found"]], m[key])
        ax.plot(np.asarray(rdf["r"]) / angstrom_m, rdf["g(r)"], label=f"F = {label} V/Å")  # results are SI (m)
    ax.set_xlabel("r [Å]")
    ax.set_ylabel("g_Li–O(r)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(ctx.figures_dir / "rdf_li_o.png", dpi=110)
    plt.close(fig)

    # D(z) and ρ(z) need one contiguous trajectory: the longest (shipped before live) near zero field.
    # (a live run stops early when the potential leaves its domain; the md stage says why).
    candidates = [(label, kind) for label, item in sets.items() for kind in ("shipped", "live")
                  if len(item[kind]) >= _MIN_FRAMES_PROFILE]
    if not candidates:
        notes = "; ".join(f"F = {lab} V/Å: {_source(item)}" for lab, item in sets.items())
        return {"structure": structure, "diffusion_profile": None, "interface_profile": None,
                "parameters": params_from_structure(structure),
                "note": (f"D(z) and φ(z) skipped: no ML-MD trajectory has the {_MIN_FRAMES_PROFILE} frames "
                         f"they need ({notes})")}
    zero, kind = min(candidates, key=lambda c: (abs(float(c[0])), c[1] != "shipped", -len(sets[c[0]][c[1]])))
    frames = sets[zero][kind]
    dt_ps = sets[zero][f"{kind}_dt_ps"]
    z_top = max(a.positions[:, 2].max() for a in frames)
    z_sheet = float(np.mean([a.positions[a.get_tags() == 0, 2].mean() for a in frames]))
    edges = np.linspace(z_sheet + 1.0, z_top + 0.5, 9)
    pos = np.array([a.positions for a in frames])
    solvent = np.array([s in ("C", "O", "H") for s in frames[0].get_chemical_symbols()]) & (frames[0].get_tags() > 0)
    dfz = diffusion_profile(pos, np.arange(len(frames)) * dt_ps, frames[0].cell.array, axis=2, bin_edges=edges,
                            species=np.flatnonzero(solvent), min_samples=5)
    def charge_density(fr):
        return ChargeDensity(np.linspace(z_sheet - 1.0, z_top + 0.5, 41), boundary="field",
                             relative_permittivity=1.0).run(fr).results

    rho = charge_density(frames)
    drop_interval = block_interval([float(charge_density(b).meta["potential_drop_V"]) for b in _blocks(frames)],
                                   float(rho.meta["potential_drop_V"]))
    # the layers with a D∥ ("no data" also flags a missing D⊥, which thin layers of a 3 ps run often lack
    # and which the in-plane transport below does not use)
    ok = dfz["D_parallel [m2.s-1]"].to_numpy() > 0
    source = f"{kind} trajectory at F = {zero} V/Å ({len(frames)} frames, {len(frames) * dt_ps:.2f} ps)"
    if ok.sum() >= 2:
        z_m = rho["z"]
        d_z = np.interp(z_m, dfz["z [m]"].to_numpy()[ok], dfz["D_parallel [m2.s-1]"].to_numpy()[ok])
        profile = {"z_m": z_m.tolist(), "diffusivity_m2_s": d_z.tolist(), "potential_V": rho["potential"].tolist(),
                   # the layer values the interpolation is made of, with their block errors (for intervals)
                   "layer_z_m": dfz["z [m]"].to_numpy()[ok].tolist(),
                   "layer_diffusivity_m2_s": dfz["D_parallel [m2.s-1]"].to_numpy()[ok].tolist(),
                   "layer_diffusivity_error_m2_s": dfz["D_parallel error [m2.s-1]"].to_numpy()[ok].tolist(),
                   "source": source}
    _plot_interface_profile(dfz, rho, z_sheet, source, ctx.figures_dir / "interface_profile.png")
    params.update(params_from_structure(structure))
    params[f"Potential drop across the interface (F = {zero} V/Å)"] = {
        "value": float(rho.meta["potential_drop_V"]), "unit": "V", "interval95": drop_interval,
        "provenance": (f"{kind}: ML charges → ρ(z) → Poisson (vacuum permittivity, field boundary), {source}; "
                       f"interval: {_BLOCKS} time blocks, Student t")}
    return {"structure": structure, "diffusion_profile": dfz.to_dict(orient="list"), "interface_profile": profile,
            "parameters": params, "profile_field_V_per_A": zero, "profile_source": source, "sources": sources}


def _plot_interface_profile(dfz, rho, z_sheet: float, source: str, path) -> None:
    """D∥(z), D⊥(z) of the solvent (layer values with block errors) and ρ(z), φ(z), against the
    distance from the electrode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6, 5.5), sharex=True)
    z0 = z_sheet * angstrom_m
    # the layers with a D∥ ("no data" also flags a missing D⊥, which thin layers of a 3 ps run often lack
    # and which the in-plane transport below does not use)
    ok = dfz["D_parallel [m2.s-1]"].to_numpy() > 0
    z_nm = (dfz["z [m]"].to_numpy()[ok] - z0) * 1e9
    for col, lab in (("D_parallel", "D∥"), ("D_perpendicular", "D⊥")):
        if f"{col} [m2.s-1]" in dfz:
            ax1.errorbar(z_nm, dfz[f"{col} [m2.s-1]"].to_numpy()[ok] * 1e9,
                         yerr=dfz.get(f"{col} error [m2.s-1]", dfz[f"{col} [m2.s-1]"] * 0).to_numpy()[ok] * 1e9,
                         fmt="o-", capsize=3, label=lab)
    ax1.set_ylabel("solvent D [10⁻⁹ m²/s]")
    ax1.legend()
    ax1.set_title(source, fontsize=8)
    zr = (np.asarray(rho["z"]) - z0) * 1e9
    ax2.plot(zr, rho["potential"], color="C2", label="φ(z) [V]")
    ax2.set_ylabel("φ [V]")
    ax2.set_xlabel("distance from the electrode [nm]")
    ax3 = ax2.twinx()
    ax3.plot(zr, np.asarray(rho["charge density"]) if "charge density" in rho else np.zeros_like(zr), color="C3",
             lw=0.8, label="ρ(z)")
    ax3.set_ylabel("ρ [C/m³]")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: Frames a trajectory needs for D(z) (5 time blocks of ≥ 3 frames, with a margin for lags).
_MIN_FRAMES_PROFILE = 20


#: Time blocks for the intervals of trajectory averages (frames within a block are correlated,
#: blocks are treated as independent: a short run gives wide, honest intervals).
_BLOCKS = 4


def _blocks(frames):
    n = len(frames) // _BLOCKS
    return [frames[k * n:(k + 1) * n] for k in range(_BLOCKS)]


def block_interval(block_values, value: float, level: float = 0.95):
    """Interval of a trajectory average from its per-block values: value ± t·s/√n (Student t,
    n − 1 degrees of freedom). None when fewer than 3 blocks give a value (no honest interval)."""
    from ..uq import interval

    v = np.asarray([x for x in block_values if np.isfinite(x)], dtype=float)
    if v.size < 3:
        return None
    low, high = interval(float(value), float(v.std(ddof=1) / np.sqrt(v.size)), level, dof=v.size - 1)
    return [float(low), float(high)]


def params_from_structure(structure: dict) -> dict:
    """Summary parameters (first-shell radius, coordination number) from per-field shell metrics."""
    params = {}
    for label, m in structure.items():
        if m.get("shell_found"):
            for key, name, unit, what in (
                    ("first_peak_r_A", "first-shell radius", "Å", "ML-MD RDF first peak"),
                    ("coordination_number", "coordination number", "1", "ML-MD RDF integrated to the first minimum")):
                iv = m.get(f"{key}_interval95")
                params[f"Li–O {name} (F = {label} V/Å)"] = {
                    "value": m[key], "unit": unit, "interval95": iv,
                    "provenance": f"{m.get('source', 'live')}: {what}; " + (
                        f"interval: {_BLOCKS} time blocks per run, Student t" if iv else
                                                      f"no interval: fewer than 3 of {_BLOCKS} time blocks show a shell")}
    return params


def run_reactions(ctx) -> dict:
    """α for the export: CI-NEB barriers of Li⁺ transfer to the basal plane at three fields with
    the shipped potential → ``fit_transfer_coefficient`` (see :mod:`.reactions_stage`). The negative
    electrode takes that α when it is usable; otherwise, and for the positive electrode (no
    atomistic model), the base set's α, and the provenance says which."""
    import pybamm

    from ..errors import ConvergenceError, OutOfDomainError
    from .reactions_stage import alpha_from_neb, plot_barriers

    base = ctx.config["cell"]["parameter_set"]
    pv = pybamm.ParameterValues(base)
    out = {"source": "live CI-NEB", "parameters": {}}
    try:
        scan = alpha_from_neb(seed=ctx.config["run"]["seed"], fast=ctx.config["run"]["fast"], progress=not ctx.quiet,
                              model=ctx.config["md"].get("potential"))
    except (ConvergenceError, OutOfDomainError, InputError, NotBuiltError, DataFileError) as exc:
        scan = {"usable": False, "why": f"the CI-NEB scan failed: {exc}"}
    fit = scan.pop("_fit", None)
    scan.pop("_scan", None)
    out["neb_scan"] = scan
    if fit is not None:
        plot_barriers(fit, ctx.figures_dir / "barrier_vs_potential.png")
        lo, hi = scan["alpha_ci95"]
        prov = (f"live: CI-NEB of Li⁺ from its solvated place to the contact layer of the basal plane "
                f"(packing seed {scan.get('packing_seed', ctx.config['run']['seed'])}) at F = {scan['fields_V_per_A']} V/Å "
                f"(φ = F·d, d = {scan['distance_A']:.2f} Å), reduction branch E_a(φ) = E_a(0) + (1 − α)eφ, "
                "weighted by the spread of the ensemble members' own barriers; interval: the members' own α, Student t")
        out["parameters"]["Li⁺ transfer barrier to the contact layer at φ = 0 (CI-NEB)"] = {
            "value": scan["barrier0_eV"], "unit": "eV", "provenance": prov}
        out["parameters"]["Negative charge-transfer coefficient α (CI-NEB fit)"] = {
            "value": scan["alpha"], "unit": "1", "interval95": [lo, hi], "provenance": prov}
        if scan["usable"]:
            out["derived"] = [{"pybamm_name": "Negative electrode charge transfer coefficient", "value": scan["alpha"],
                               "unit": "1", "interval95": [lo, hi], "provenance": prov}]
    sides = ("Positive",) if scan["usable"] else ("Negative", "Positive")
    for side in sides:
        why = ("no atomistic model of the positive electrode" if side == "Positive" else scan["why"])
        out["parameters"][f"{side} charge-transfer coefficient α"] = {
            "value": float(pv[f"{side} electrode charge transfer coefficient"]), "unit": "1",
            "provenance": f"base set {base} ({why})"}
    if not scan["usable"]:
        out["note"] = f"fallback: base set α for the cell; {scan['why']}"
    return out
