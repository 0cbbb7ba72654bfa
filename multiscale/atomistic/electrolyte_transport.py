"""Bulk electrolyte transport from ML-MD: self-diffusion of Li⁺, BF₄⁻ and EC at several salt
concentrations and temperatures, and the salt diffusivity D_e(c, T) that PyBaMM takes.

One Langevin ML-MD run per state point (n_EC, n_LiBF₄, T) in a cubic periodic cell
(:func:`~multiscale.atomistic.system.build_bulk_electrolyte`), weak friction (0.001 fs⁻¹ by
default: k_B T/(mγ) for Li is ~10³× the diffusivities measured, so the thermostat does not slow
diffusion measurably). Each run keeps the unwrapped tracer positions only — Li, B (the BF₄⁻
centre) and the EC centres of mass — so a 30 ps run is ~1 MB.

Analysis (:func:`analyse_runs`):

- Self-diffusion coefficients from the Einstein MSD (:class:`multiscale.analysis.msd.MSD`,
  all time origins, 5 contiguous blocks for the error) after discarding ``equilibration_ps``.
- Salt diffusivity of a 1:1 salt from the ion self-diffusivities (Nernst–Hartley)::

      D_salt = 2 D₊ D₋ / (D₊ + D₋)

  This is the ideal-solution (thermodynamic factor 1), uncorrelated-ion limit; it is what
  PyBaMM's ``Electrolyte diffusivity [m2.s-1]`` holds. Errors by linear propagation.
- Finite size: D in a periodic cube of edge L is low by ξ k_B T/(6π η L) (Yeh & Hummer 2004).
  Without a computed viscosity the correction is *reported* for the literature viscosity of
  EC (``EC_VISCOSITY_PA_S``, 1.90 mPa s at 40 °C, K. Xu, Chem. Rev. 104, 4303 (2004), Table 1),
  not applied: the exported values are the cell's D_PBC, a lower bound.
- Temperature: per concentration, an Arrhenius fit ln D = ln D(T_ref) − E_a/R (1/T − 1/T_ref)
  over the runs' measured mean temperatures (after equilibration), weighted by the errors; D_e(c, T_ref) becomes a table in c and one E_a (error-weighted mean
  over concentrations) gives the temperature dependence, exactly the form
  :class:`multiscale.battery.export.DerivedParameter` maps onto PyBaMM.

Trust: every frame's ensemble σ_F is stored; the analysis reports the untrusted fraction and
a run that left the potential's domain keeps its frames up to there (``stop_reason``).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..errors import DataFileError, InputError, check_range
from ..units import gas_constant_J_mol_K

DATASET = "mlmd_bulk_transport"
#: viscosity of ethylene carbonate at 40 °C [Pa s] (K. Xu, Chem. Rev. 104, 4303 (2004), Table 1),
#: for the *reported* Yeh–Hummer finite-size correction
EC_VISCOSITY_PA_S = 1.90e-3
SPECIES = ("Li", "BF4", "EC")


def state_name(n_ec: int, n_salt: int, temperature_K: float) -> str:
    return f"ec{int(n_ec)}_salt{int(n_salt)}_T{float(temperature_K):.0f}.npz"


def salt_diffusivity(d_plus, d_minus, err_plus=0.0, err_minus=0.0) -> tuple[float, float]:
    """Nernst–Hartley salt diffusivity of a 1:1 salt, 2 D₊D₋/(D₊ + D₋), and its propagated error.

    Equal ion diffusivities give D itself; D₋ → ∞ gives 2 D₊ (the slower ion limits, twice).
    """
    dp, dm = float(d_plus), float(d_minus)
    if not (dp > 0 and dm > 0):
        raise InputError(f"ion diffusivities D+ = {dp:g}, D- = {dm:g} m2/s must be > 0 for a salt diffusivity")
    d = 2 * dp * dm / (dp + dm)
    dd_dp = 2 * dm**2 / (dp + dm) ** 2
    dd_dm = 2 * dp**2 / (dp + dm) ** 2
    return d, float(np.hypot(dd_dp * float(err_plus), dd_dm * float(err_minus)))


def arrhenius_fit(temperatures_K, d_m2_s, err_m2_s, *, reference_temperature_K: float) -> dict:
    """Weighted fit of ln D = ln D_ref − E_a/R (1/T − 1/T_ref); one temperature gives E_a = NaN.

    Returns ``d_ref_m2_s``, ``d_ref_error_m2_s``, ``activation_energy_J_mol``,
    ``activation_energy_error_J_mol``.
    """
    t = np.asarray(temperatures_K, dtype=float)
    d = np.asarray(d_m2_s, dtype=float)
    e = np.asarray(err_m2_s, dtype=float)
    if t.shape != d.shape or t.shape != e.shape or t.size < 1:
        raise InputError("temperatures_K, d_m2_s and err_m2_s must be 1D of equal length >= 1")
    if np.any(d <= 0) or np.any(t <= 0):
        raise InputError("Arrhenius fit needs D > 0 and T > 0 at every point")
    y = np.log(d)
    sy = np.where(e > 0, e / d, np.nan)
    w = 1.0 / np.where(np.isfinite(sy), sy, np.nanmax(np.r_[sy, 1.0])) ** 2
    x = 1.0 / t - 1.0 / float(reference_temperature_K)
    if np.unique(t).size < 2:
        k = int(np.argmin(np.abs(x)))
        return dict(d_ref_m2_s=float(d[k]), d_ref_error_m2_s=float(e[k]), activation_energy_J_mol=float("nan"),
                    activation_energy_error_J_mol=float("nan"))
    a = np.vstack([np.ones_like(x), x]).T
    cov = np.linalg.inv(a.T @ (a * w[:, None]))
    coef = cov @ (a.T @ (w * y))
    ln_d0, slope = coef
    return dict(d_ref_m2_s=float(np.exp(ln_d0)), d_ref_error_m2_s=float(np.exp(ln_d0) * np.sqrt(cov[0, 0])),
                activation_energy_J_mol=float(-slope * gas_constant_J_mol_K),
                activation_energy_error_J_mol=float(np.sqrt(cov[1, 1]) * gas_constant_J_mol_K))


def _tracers(atoms) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Indices of Li and B, and the atom indices of each EC molecule (by tag)."""
    z = atoms.numbers
    tags = atoms.get_tags()
    li = np.flatnonzero(z == 3)
    b = np.flatnonzero(z == 5)
    anion_tags = set(tags[b]) | set(tags[li])
    ec = [np.flatnonzero(tags == t) for t in sorted(set(tags) - anion_tags)]
    return li, b, ec


def _tracer_positions(atoms, li, b, ec) -> np.ndarray:
    pos = atoms.positions
    m = atoms.get_masses()
    com = [(pos[idx] * m[idx, None]).sum(0) / m[idx].sum() for idx in ec]
    return np.vstack([pos[li], pos[b], np.array(com).reshape(-1, 3)])


def _one_state(job: dict) -> dict:
    """One bulk ML-MD run (module level: picklable for Dask workers); writes its ``.npz``."""
    import torch
    from ase.constraints import FixCom
    from ase.md.velocitydistribution import Stationary, thermalize_momenta

    from ..io import atomic_path
    from .calculator import load_potential
    from .md import relax, run_md
    from .system import build_bulk_electrolyte, salt_concentration_mol_L

    torch.set_num_threads(1)
    t0 = time.time()
    calc = load_potential(job["model"])
    atoms = build_bulk_electrolyte(job["n_ec"], job["n_salt"], seed=job["seed"])
    start = relax(atoms, calc, steps=300)
    li, b, ec = _tracers(atoms)
    thermalize_momenta(atoms, job["temperature_K"], rng=np.random.default_rng(job["seed"]))
    Stationary(atoms)
    atoms.set_constraint(FixCom())  # no centre-of-mass drift: the MSDs are relative to the fluid
    res = run_md(atoms, calc, n_steps=job["n_steps"], timestep_fs=job["timestep_fs"], ensemble="langevin",
                 temperature_K=job["temperature_K"], friction_per_fs=job["friction_per_fs"], interval=job["interval"],
                 trust_eV_per_A=job["trust_eV_per_A"], on_untrusted="flag", seed=job["seed"] + 1,
                 keep_frames=True, on_out_of_domain="stop")
    sigma = np.asarray(res.max_force_uncertainty_eV_per_A)
    out = Path(job["out_dir"]) / state_name(job["n_ec"], job["n_salt"], job["temperature_K"])
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, positions_A=np.array([_tracer_positions(f, li, b, ec) for f in res.frames]),
                                time_fs=res.time_fs, max_force_uncertainty_eV_per_A=sigma,
                                temperature_K=res.temperature_K, cell_A=atoms.cell.array,
                                n_li=len(li), n_b=len(b), n_ec=len(ec))
    return {"file": out.name, "n_ec": int(job["n_ec"]), "n_salt": int(job["n_salt"]),
            "temperature_K": float(job["temperature_K"]), "seed": int(job["seed"]), "n_steps": int(job["n_steps"]),
            "concentration_mol_L": salt_concentration_mol_L(atoms), "n_atoms": len(atoms),
            "box_length_A": float(atoms.cell.lengths()[0]), "n_frames": int(sigma.size),
            "time_ps": float(res.time_fs[-1] / 1000.0), "stop_reason": res.stop_reason,
            "untrusted_fraction": float(np.mean(sigma > job["trust_eV_per_A"])),
            "median_max_force_uncertainty_eV_per_A": float(np.median(sigma)),
            "start_relaxation": start, "wall_time_s": time.time() - t0}


def run_bulk_md(out_dir, *, compositions, temperatures_K, n_steps: int, timestep_fs: float = 1.0,
                interval: int = 20, friction_per_fs: float = 0.001, seed: int = 0, model: str | None = None,
                trust_eV_per_A: float = 0.3, n_workers: int = 0, scheduler: str | None = None,
                progress: bool = True) -> dict:
    """One run per (composition, temperature) through :func:`multiscale.parallel.parallel_map`.

    ``compositions``: (n_EC, n_LiBF₄) pairs. Runs whose file exists with the same model and
    settings in ``out_dir/manifest.json`` are skipped (resume; a finished run of another length
    is kept too: each run records its own ``n_steps``). Returns the manifest.
    """
    from ..io import atomic_write_text
    from ..parallel import parallel_map
    from .calculator import DEFAULT_MODEL
    from .production import model_fingerprint

    comps = [(int(a), int(b)) for a, b in compositions]
    temps = [float(t) for t in temperatures_K]
    if not comps or not temps:
        raise InputError("compositions and temperatures_K must each hold at least one value")
    for n_ec, n_salt in comps:
        if n_salt < 1 or n_ec < 1:
            raise InputError(f"composition (n_ec, n_salt) = ({n_ec}, {n_salt}) needs >= 1 of each for ion diffusion")
    for t in temps:
        check_range("temperature_K", t, low=200.0, high=600.0)
    n_steps = int(check_range("n_steps", n_steps, low=10))
    interval = int(check_range("interval", interval, low=1, high=n_steps))
    check_range("timestep_fs", timestep_fs, low=0.1, high=2.0)
    check_range("friction_per_fs", friction_per_fs, low=0.0, high=0.1)
    model = model or DEFAULT_MODEL
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = dict(model=model, model_sha256_16=model_fingerprint(model), ensemble="langevin",
                    friction_per_fs=float(friction_per_fs), timestep_fs=float(timestep_fs), interval_steps=interval,
                    n_steps=n_steps, seed=int(seed), trust_eV_per_A=float(trust_eV_per_A))
    manifest_path = out / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    # finished runs are kept when the physics is the same; their length may differ (each run is
    # analysed on its own, and records its own n_steps)
    same = all(old.get(k) == v for k, v in settings.items() if k != "n_steps")
    done = {r["file"]: r for r in old.get("runs", [])} if same else {}
    jobs, runs = [], {}
    for k, (n_ec, n_salt) in enumerate(comps):
        for t in temps:
            name = state_name(n_ec, n_salt, t)
            if name in done and (out / name).is_file():
                runs[name] = {"n_steps": old.get("n_steps"), **done[name]}
                continue
            jobs.append(dict(n_ec=n_ec, n_salt=n_salt, temperature_K=t, seed=int(seed) + k, n_steps=n_steps,
                             timestep_fs=float(timestep_fs), interval=interval, friction_per_fs=float(friction_per_fs),
                             trust_eV_per_A=float(trust_eV_per_A), model=model, out_dir=str(out)))

    def write_manifest():
        manifest = dict(settings, system="build_bulk_electrolyte(n_ec, n_salt, seed): LiBF4/EC cube, ρ from EC",
                        runs=sorted(runs.values(), key=lambda r: r["file"]))
        atomic_write_text(manifest_path, json.dumps(manifest, indent=1))
        return manifest

    def on_result(i, res):  # checkpoint: the manifest lists every finished run
        runs[res["file"]] = res
        write_manifest()

    parallel_map(_one_state, jobs, n_workers=n_workers, scheduler=scheduler, progress=progress,
                 description="bulk ML-MD", on_result=on_result)
    return write_manifest()


def analyse_run(path, *, equilibration_ps: float = 2.0, n_blocks: int = 5, temperature_K: float | None = None) -> dict:
    """Self-diffusivities of Li⁺, BF₄⁻ and EC (m²/s, with block errors) of one stored run."""
    from ..analysis.msd import MSD, yeh_hummer_correction
    from ..units import angstrom_m

    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"bulk ML-MD run {path} not found; make it with `multiscale potential transport`")
    with np.load(path) as d:
        pos, t_fs, cell = d["positions_A"], d["time_fs"], d["cell_A"]
        n_li, n_b = int(d["n_li"]), int(d["n_b"])
        temps = d["temperature_K"]
    keep = t_fs >= t_fs[0] + 1000.0 * equilibration_ps
    if keep.sum() < 4 * n_blocks:
        raise InputError(f"{path.name}: {int(keep.sum())} frames after {equilibration_ps} ps of equilibration; "
                         f"need >= {4 * n_blocks} (run longer or lower equilibration_ps)")
    pos, t_ps = pos[keep], (t_fs[keep] - t_fs[keep][0]) / 1000.0
    groups = {"Li": np.arange(n_li), "BF4": np.arange(n_li, n_li + n_b), "EC": np.arange(n_li + n_b, pos.shape[1])}
    temperature = float(temperature_K if temperature_K is not None else np.mean(temps[keep]))
    length_m = float(np.linalg.norm(cell[0])) * angstrom_m
    out = {"analysed_ps": float(t_ps[-1]), "mean_temperature_K": float(np.mean(temps[keep])),
           "yeh_hummer_correction_m2_s": yeh_hummer_correction(temperature, EC_VISCOSITY_PA_S, length_m)}
    for name, idx in groups.items():
        m = MSD(n_blocks=n_blocks).run(pos[:, idx], time_ps=t_ps)
        out[f"D_{name}_m2_s"] = m.results.meta["diffusivity_m2_s"]
        out[f"D_{name}_error_m2_s"] = m.results.meta["diffusivity_error_m2_s"]
    return out


def analyse_runs(out_dir, *, equilibration_ps: float = 2.0, n_blocks: int = 5,
                 reference_temperature_K: float | None = None) -> dict:
    """Analyse every run of ``out_dir/manifest.json``; write and return ``diffusivity.json``.

    ``states``: per run, the self-diffusivities and D_salt; ``electrolyte_diffusivity``: the
    table D_e(c, T_ref) [m²/s vs mol/m³] with errors and one activation energy, for the export.
    """
    from ..io import atomic_write_text

    out = Path(out_dir)
    manifest_path = out / "manifest.json"
    if not manifest_path.is_file():
        raise DataFileError(f"{manifest_path} not found; run `multiscale potential transport --out {out}` first")
    manifest = json.loads(manifest_path.read_text())
    states = []
    for run in manifest["runs"]:
        res = dict(run)
        try:
            res.update(analyse_run(out / run["file"], equilibration_ps=equilibration_ps, n_blocks=n_blocks,
                                   temperature_K=run["temperature_K"]))
            d, e = salt_diffusivity(res["D_Li_m2_s"], res["D_BF4_m2_s"], res["D_Li_error_m2_s"],
                                    res["D_BF4_error_m2_s"])
            res.update(D_salt_m2_s=d, D_salt_error_m2_s=e)
        except InputError as exc:  # too short, or a non-positive ion D: reported, not fitted
            res["excluded"] = str(exc)
        states.append(res)
    usable = [s for s in states if "D_salt_m2_s" in s]
    if not usable:
        raise InputError("no run gave a positive salt diffusivity; see the 'excluded' reasons")
    temps = sorted({s["temperature_K"] for s in usable})
    t_ref = float(reference_temperature_K if reference_temperature_K is not None else temps[0])
    by_c: dict = {}
    for s in usable:
        by_c.setdefault((s["n_ec"], s["n_salt"]), []).append(s)
    rows = []
    for (n_ec, n_salt), group in sorted(by_c.items(), key=lambda kv: kv[1][0]["concentration_mol_L"]):
        # the measured mean temperature: a weak thermostat on an imperfect potential can sit below its set point
        fit = arrhenius_fit([g["mean_temperature_K"] for g in group], [g["D_salt_m2_s"] for g in group],
                            [g["D_salt_error_m2_s"] for g in group], reference_temperature_K=t_ref)
        rows.append(dict(fit, n_ec=n_ec, n_salt=n_salt, concentration_mol_m3=1000.0 * group[0]["concentration_mol_L"],
                         temperatures_K=[g["temperature_K"] for g in group]))
    ea = np.array([r["activation_energy_J_mol"] for r in rows])
    ea_err = np.array([r["activation_energy_error_J_mol"] for r in rows])
    ok = np.isfinite(ea) & np.isfinite(ea_err) & (ea_err > 0)
    if ok.any():
        w = 1.0 / ea_err[ok] ** 2
        ea_mean, ea_mean_err = float((w * ea[ok]).sum() / w.sum()), float(1.0 / np.sqrt(w.sum()))
    else:
        ea_mean, ea_mean_err = float("nan"), float("nan")
    table = dict(reference_temperature_K=t_ref, concentration_mol_m3=[r["concentration_mol_m3"] for r in rows],
                 diffusivity_m2_s=[r["d_ref_m2_s"] for r in rows],
                 diffusivity_error_m2_s=[r["d_ref_error_m2_s"] for r in rows],
                 activation_energy_J_mol=ea_mean, activation_energy_error_J_mol=ea_mean_err, per_concentration=rows)
    result = dict(model=manifest["model"], model_sha256_16=manifest["model_sha256_16"],
                  equilibration_ps=equilibration_ps, n_blocks=n_blocks, ec_viscosity_Pa_s=EC_VISCOSITY_PA_S,
                  method="Einstein MSD (all origins, block errors); D_salt = 2 D+ D- / (D+ + D-) (ideal, "
                         "uncorrelated ions); no finite-size correction applied (Yeh-Hummer reported per state)",
                  states=states, electrolyte_diffusivity=table)
    atomic_write_text(out / "diffusivity.json", json.dumps(result, indent=1))
    return result


def shipped_diffusivity(model_name: str | None = None) -> tuple[dict | None, str]:
    """(the shipped ``diffusivity.json``, note), or (None, why not) when missing or from other weights."""
    from ..resources import data_path
    from .production import model_fingerprint

    try:
        result = json.loads(data_path(DATASET, "diffusivity.json").read_text())
    except (DataFileError, OSError, ValueError):
        return None, f"no shipped bulk transport (data/{DATASET}; make it with `multiscale potential transport`)"
    if result.get("model_sha256_16") != model_fingerprint(result.get("model") or model_name):
        return None, (f"data/{DATASET} was made with other weights of {result.get('model')}; not used "
                      "(regenerate with `multiscale potential transport`)")
    return result, f"shipped bulk ML-MD, data/{DATASET} (model {result['model']}, {result['model_sha256_16']})"


def plot_diffusivity(result: dict, path) -> None:
    """Self-diffusivities per state and the fitted D_e(c, T_ref), with 95 % error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    for name, marker in zip(SPECIES, "osd"):
        for t in sorted({s["temperature_K"] for s in result["states"] if f"D_{name}_m2_s" in s}):
            sel = [s for s in result["states"] if s["temperature_K"] == t and f"D_{name}_m2_s" in s]
            ax1.errorbar([s["concentration_mol_L"] for s in sel], [s[f"D_{name}_m2_s"] for s in sel],
                         yerr=[1.96 * s[f"D_{name}_error_m2_s"] for s in sel], fmt=marker, capsize=2,
                         label=f"{name} {t:.0f} K")
    ax1.set_xlabel("LiBF$_4$ concentration [mol/L]")
    ax1.set_ylabel("self-diffusivity [m$^2$/s]")
    if ax1.get_legend_handles_labels()[0]:
        ax1.legend(fontsize=7)
    tab = result["electrolyte_diffusivity"]
    ax2.errorbar(np.array(tab["concentration_mol_m3"]) / 1000, tab["diffusivity_m2_s"],
                 yerr=1.96 * np.array(tab["diffusivity_error_m2_s"]), fmt="o-", capsize=2,
                 label=f"ML-MD, {tab['reference_temperature_K']:.0f} K")
    ax2.set_xlabel("LiBF$_4$ concentration [mol/L]")
    ax2.set_ylabel("D$_e$ [m$^2$/s]")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
