"""Production ML-MD for shipping: long trajectories of the default interface, stored small.

``multiscale run`` has minutes for MD; statistics such as D(z) need picoseconds. These runs are
made once by ``multiscale potential md`` (the same driver, system and settings as the run's md
stage: the 300-atom default cell, electrode frozen, FIRE start, Langevin at 300 K), saved in
``data/mlmd_li_ec_graphene/``, and read back by the run, which says which frames are live and
which are shipped.

Storage per field, ``field_{F:+.3f}.npz`` (compressed): positions (float32, Å), ML charges
(float32, e), time (fs), max σ_F per frame (eV/Å), temperature (K), and the constant numbers,
tags, cell and pbc. ``manifest.json`` records the model (name and SHA-256 of its weights), the
command's settings, untrusted-frame counts and wall times. A run whose model differs from the
one that made the trajectories does not use them.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from ..errors import DataFileError, InputError, check_range

DATASET = "mlmd_li_ec_graphene"


def trajectory_name(field_V_per_A: float) -> str:
    return f"field_{field_V_per_A:+.3f}.npz"


def model_fingerprint(model_name: str | None = None) -> str:
    """SHA-256 (first 16 hex digits) of the shipped model's weights file."""
    from ..resources import model_path
    from .calculator import DEFAULT_MODEL

    path = Path(model_path(model_name or DEFAULT_MODEL)) / "ensemble.pt"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _one_field(job: dict) -> dict:
    """One production run (module level: picklable for Dask workers)."""
    import torch

    from .calculator import load_potential
    from .md import relax, run_md
    from .system import default_system, freeze_electrode

    torch.set_num_threads(1)
    t0 = time.time()
    calc = load_potential(job["model"], field_V_per_A=job["field"])
    atoms = default_system(job["seed"], size=job["size"])
    freeze_electrode(atoms)
    start = relax(atoms, calc, steps=300)
    res = run_md(atoms, calc, n_steps=job["n_steps"], timestep_fs=job["timestep_fs"], ensemble="langevin",
                 temperature_K=job["temperature_K"], friction_per_fs=0.01, interval=job["interval"],
                 on_untrusted="flag", seed=job["seed"], initial_temperature_K=job["temperature_K"],
                 keep_frames=True, on_out_of_domain="stop")
    frames = res.frames
    out = Path(job["out_dir"]) / trajectory_name(job["field"])
    from ..io import atomic_path

    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh, positions_A=np.array([a.positions for a in frames], dtype=np.float32),
                charges_e=np.array([a.calc.results["charges"] for a in frames], dtype=np.float32),
                time_fs=res.time_fs, max_force_uncertainty_eV_per_A=res.max_force_uncertainty_eV_per_A,
                temperature_K=res.temperature_K, numbers=atoms.numbers, tags=atoms.get_tags(),
                cell_A=atoms.cell.array, pbc=atoms.pbc, field_V_per_A=job["field"])
    return {"field_V_per_A": job["field"], "file": out.name, "n_frames": len(frames),
            "time_ps": float(res.time_fs[-1] / 1000), "n_untrusted_frames": res.n_untrusted,
            "stopped_early": res.stopped_early, "stop_reason": res.stop_reason, "start_relaxation": start,
            "wall_time_s": time.time() - t0}


def run_production(out_dir, *, fields_V_per_A, n_steps: int, timestep_fs: float = 0.5, interval: int = 20,
                   temperature_K: float = 300.0, seed: int = 0, size: str = "md", model: str | None = None,
                   n_workers: int = 0, scheduler: str | None = None, progress: bool = True) -> dict:
    """Run one trajectory per field (in parallel through :func:`multiscale.parallel.parallel_map`);
    write the ``.npz`` files and ``manifest.json`` into ``out_dir``; return the manifest."""
    from ..io import atomic_write_text
    from ..parallel import parallel_map

    fields = [float(f) for f in fields_V_per_A]
    if not fields:
        raise InputError("fields_V_per_A is empty; give at least one field")
    n_steps = int(check_range("n_steps", n_steps, low=1))
    interval = int(check_range("interval", interval, low=1))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [dict(field=f, seed=seed + k, n_steps=n_steps, timestep_fs=timestep_fs, interval=interval,
                 temperature_K=temperature_K, size=size, model=model, out_dir=str(out)) for k, f in enumerate(fields)]
    runs = parallel_map(_one_field, jobs, n_workers=n_workers, scheduler=scheduler, progress=progress,
                        description="production ML-MD")
    manifest = {"model": model or "mlp_li_ec_graphene", "model_sha256_16": model_fingerprint(model),
                "system": f"default_system(seed, size={size!r}), graphene electrode frozen",
                "ensemble": "langevin", "friction_per_fs": 0.01, "temperature_K": temperature_K,
                "timestep_fs": timestep_fs, "interval_steps": interval, "n_steps": n_steps, "seed": seed,
                "runs": runs}
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=1))
    return manifest


def load_trajectory(path) -> list:
    """Frames of a stored production run as Atoms with the ML charges in ``calc.results['charges']``."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"trajectory {path} not found; make it with `multiscale potential md`")
    with np.load(path) as d:
        frames = []
        for k in range(len(d["time_fs"])):
            a = Atoms(numbers=d["numbers"], positions=d["positions_A"][k].astype(float), cell=d["cell_A"],
                      pbc=d["pbc"], tags=d["tags"])
            a.calc = SinglePointCalculator(a, charges=d["charges_e"][k].astype(float))
            a.info["time_fs"] = float(d["time_fs"][k])
            a.info["max_force_uncertainty_eV_per_A"] = float(d["max_force_uncertainty_eV_per_A"][k])
            frames.append(a)
    return frames


def shipped_runs(model_name: str | None = None) -> tuple[dict, str]:
    """({field label: run entry with ``path``}, note) of the shipped set when it matches the model.

    Empty with a note saying why when the set is missing or was made with other weights.
    """
    from ..resources import data_path

    try:
        folder = data_path(DATASET)
        manifest = json.loads((folder / "manifest.json").read_text())
    except (DataFileError, OSError, ValueError):
        return {}, f"no shipped trajectories (data/{DATASET}; make them with `multiscale potential md`)"
    if manifest.get("model_sha256_16") != model_fingerprint(model_name):
        return {}, (f"shipped trajectories in data/{DATASET} were made with other model weights "
                    f"({manifest.get('model_sha256_16')}); not used (regenerate with `multiscale potential md`)")
    runs = {f"{r['field_V_per_A']:+.3f}": dict(r, path=str(folder / r["file"]),
                                               dt_ps=1e-3 * manifest["timestep_fs"] * manifest["interval_steps"])
            for r in manifest["runs"]}
    return runs, f"shipped trajectories from data/{DATASET} (model {manifest['model_sha256_16']})"
