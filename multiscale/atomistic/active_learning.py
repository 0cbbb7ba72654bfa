"""Active learning for the ML potential: explore with ML-MD, pick what the ensemble disputes, label it.

One round of query by committee (the DP-GEN loop):

1. **Explore** (:func:`explore`): short Langevin ML-MD with the current ensemble on fresh small
   cells — bulk LiBF₄/EC cubes and the graphene interface cell at several fields — in parallel
   through Dask. Every ``interval`` steps a frame is kept with its per-frame max σ_F over the
   atoms that move. A run that leaves the potential's domain (atoms closer than it has ever
   seen, :class:`~multiscale.errors.OutOfDomainError`) stops there; its last frame, a few steps
   before the failure, is the most informative configuration of all: it is where the dynamics
   went wrong.
2. **Select** (:func:`select_candidates`): per run, the frames with σ_F ≥ ``sigma_min``, greedily
   by decreasing σ_F, at least ``min_separation_steps`` apart (neighbouring frames are the same
   configuration), at most ``max_per_run``; the pre-failure frame of a run that left the domain
   comes first. Across runs, at most ``max_total`` (pre-failure frames, then by σ_F).
3. **Label** (:func:`label_candidates`): reference (xTB) MD of a few steps *from* each candidate,
   at the candidate's field and temperature, every ``store_every``-th step stored. Its first row
   is the candidate itself; the rest show the reference pulling the configuration back, which is
   the restoring force the network lacked. Rows go to an ASE database with ``task`` =
   ``al-<run>-<step>`` (resume: finished tasks are skipped) for ``multiscale potential train
   --init-from``.

The exploration report (:func:`exploration_summary`) is also the measure of a round: how many
runs reach their last step inside the domain, and their σ_F, before and after retraining.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import DataFileError, InputError, check_range


def _calculator(model: str | None, field_V_per_A: float):
    """A shipped model by name, or a trained ensemble in a folder (a training output not yet shipped)."""
    from .calculator import MLPotential, load_potential
    from .training import load_ensemble

    if model and Path(model).is_dir():
        ens, info = load_ensemble(Path(model))
        meta = info.get("meta", {})
        return MLPotential(ens, reference=meta.get("reference", "GFN1-xTB"), name=Path(model).name, info=meta,
                           field_V_per_A=field_V_per_A)
    return load_potential(model, field_V_per_A=field_V_per_A)


def run_name(job: dict) -> str:
    if job["system"] == "bulk":
        head = f"bulk{job['n_ec']}-{job['n_salt']}"
    else:
        head = f"iface{job['field_V_per_A']:+.3f}"
    return f"{head}-T{job['temperature_K']:.0f}-s{job['seed']}"


def explore_task(job: dict) -> dict:
    """Worker: one exploration ML-MD run on a fresh cell (module level: picklable for Dask)."""
    import torch

    from .md import relax, run_md
    from .system import build_bulk_electrolyte, default_system, freeze_electrode

    torch.set_num_threads(1)
    t0 = time.time()
    calc = _calculator(job["model"], job["field_V_per_A"])
    if job["system"] == "bulk":
        atoms = build_bulk_electrolyte(job["n_ec"], job["n_salt"], seed=job["seed"])
    else:
        atoms = default_system(job["seed"], size="train")
        freeze_electrode(atoms)
    relax(atoms, calc, steps=200)
    res = run_md(atoms, calc, n_steps=job["n_steps"], timestep_fs=job["timestep_fs"], ensemble="langevin",
                 temperature_K=job["temperature_K"], friction_per_fs=job["friction_per_fs"],
                 interval=job["interval"], on_untrusted="flag", trust_eV_per_A=job["trust_eV_per_A"],
                 seed=job["seed"], initial_temperature_K=job["temperature_K"], keep_frames=True,
                 on_out_of_domain="stop")
    left_domain = res.stop_reason is not None
    steps = np.rint(res.time_fs / job["timestep_fs"]).astype(int)
    return dict(name=run_name(job), job=job, numbers=atoms.numbers.copy(), cell=np.array(atoms.cell),
                pbc=atoms.pbc.copy(), positions=np.array([f.positions for f in res.frames], dtype=np.float64),
                step=steps, sigma=res.max_force_uncertainty_eV_per_A, temperature=res.temperature_K,
                left_domain=left_domain, stop_reason=res.stop_reason, steps_run=int(steps[-1]),
                wall_time_s=time.time() - t0)


def explore(*, model: str | None = None, bulk_compositions: Iterable[tuple[int, int]] = ((12, 1), (8, 1)),
            interface_fields_V_per_A: Iterable[float] = (-0.1, 0.0, 0.1), temperatures_K: Iterable[float] = (320.0,),
            seeds: Iterable[int] = (0,), n_steps: int = 3000, timestep_fs: float = 1.0, interval: int = 10,
            friction_per_fs: float = 0.01, trust_eV_per_A: float = 0.3, n_workers: int = 0,
            scheduler: str | None = None, progress: bool = True) -> list[dict]:
    """Run the exploration ML-MD (see the module docstring); return one result per run.

    ``model``: a shipped model name, a folder holding a trained ensemble, or None (the default).
    Bulk cubes run at zero field; interface cells (the 60-atom training cell, electrode frozen) at
    each of ``interface_fields_V_per_A``. Every (system, temperature, seed) is one run.
    """
    from ..parallel import parallel_map

    comps = [(int(a), int(b)) for a, b in bulk_compositions]
    fields = [float(f) for f in interface_fields_V_per_A]
    temps = [float(t) for t in temperatures_K]
    seeds = [int(s) for s in seeds]
    for c in comps:
        if c[0] < 1 or c[1] < 0 or sum(c) > 40:
            raise InputError(f"bulk_compositions: (n_ec, n_salt) = {c} needs n_ec >= 1, n_salt >= 0, <= 40 molecules")
    for t in temps:
        check_range("temperatures_K", t, low=100.0, high=1000.0)
    if not (comps or fields) or not temps or not seeds:
        raise InputError("explore needs at least one system (bulk composition or interface field), "
                         "one temperature and one seed")
    n_steps = int(check_range("n_steps", n_steps, low=10))
    interval = int(check_range("interval", interval, low=1, high=n_steps))
    check_range("timestep_fs", timestep_fs, low=0.1, high=2.0)
    check_range("trust_eV_per_A", trust_eV_per_A, low=0.0, low_inclusive=False)
    common = dict(model=model, n_steps=n_steps, timestep_fs=float(timestep_fs), interval=interval,
                  friction_per_fs=float(friction_per_fs), trust_eV_per_A=float(trust_eV_per_A))
    jobs = []
    for seed in seeds:
        for t in temps:
            for n_ec, n_salt in comps:
                jobs.append(dict(common, system="bulk", n_ec=n_ec, n_salt=n_salt, field_V_per_A=0.0,
                                 temperature_K=t, seed=seed))
            for f in fields:
                jobs.append(dict(common, system="interface", field_V_per_A=f, temperature_K=t, seed=seed))
    return parallel_map(explore_task, jobs, n_workers=n_workers, scheduler=scheduler, progress=progress,
                        description="exploration ML-MD")


def select_candidates(runs: Sequence[dict], *, sigma_min_eV_per_A: float = 0.3, max_per_run: int = 8,
                      min_separation_steps: int = 50, max_total: int | None = None) -> list[dict]:
    """The configurations to label (see the module docstring): dicts with ``atoms`` (ASE Atoms),
    ``run``, ``step``, ``sigma_eV_per_A``, ``field_V_per_A``, ``temperature_K``, ``pre_failure``."""
    from ase import Atoms

    check_range("sigma_min_eV_per_A", sigma_min_eV_per_A, low=0.0)
    max_per_run = int(check_range("max_per_run", max_per_run, low=1))
    min_separation_steps = int(check_range("min_separation_steps", min_separation_steps, low=0))
    picked = []
    for run in runs:
        sigma, steps = np.asarray(run["sigma"]), np.asarray(run["step"])
        order = list(np.argsort(-sigma, kind="stable"))
        first = []
        if run["left_domain"]:  # the last stored frame: a few steps before the dynamics failed
            first = [len(sigma) - 1]
            order.remove(len(sigma) - 1)
        chosen: list[int] = []
        for k in first + order:
            if len(chosen) >= max_per_run:
                break
            if k not in first and sigma[k] < sigma_min_eV_per_A:
                break  # sorted: the rest are lower
            if k > 0 and all(abs(int(steps[k]) - int(steps[j])) >= min_separation_steps for j in chosen):
                chosen.append(k)  # k == 0 is the relaxed start: not a configuration the dynamics reached
        for k in chosen:
            atoms = Atoms(numbers=run["numbers"], positions=run["positions"][k], cell=run["cell"], pbc=run["pbc"])
            picked.append(dict(atoms=atoms, run=run["name"], step=int(steps[k]), sigma_eV_per_A=float(sigma[k]),
                               field_V_per_A=float(run["job"]["field_V_per_A"]),
                               temperature_K=float(run["job"]["temperature_K"]),
                               pre_failure=bool(run["left_domain"] and k == len(sigma) - 1)))
    picked.sort(key=lambda c: (not c["pre_failure"], -c["sigma_eV_per_A"]))
    if max_total is not None:
        picked = picked[:int(check_range("max_total", max_total, low=1))]
    return picked


def li_endpoint_candidates(*, model: str | None = None, seeds: Iterable[int] = (0, 1, 2, 3),
                           fields_V_per_A: Iterable[float] = (-0.1, 0.0, 0.1),
                           temperature_K: float = 300.0) -> list[dict]:
    """The end points of the Li⁺ transfer step at the basal plane (:func:`~multiscale.atomistic.li_adsorption.adsorption_endpoints`,
    relaxed with ``model``) as candidates, each at every field of the barrier scan.

    ``multiscale run`` trusts its α only when σ_F at both end points is below the MD trust level;
    labelling reference MD from them is how that trust is earned. Run names:
    ``li-contact-F+0.100-s0`` / ``li-solvated-...``; ``sigma_eV_per_A`` is the end point's max σ_F
    over the moving atoms at F = 0.
    """
    from .li_adsorption import adsorption_endpoints
    from .md import mobile_atoms

    calc = _calculator(model, 0.0)
    fields = [float(check_range("fields_V_per_A", f, low=-0.5, high=0.5)) for f in fields_V_per_A]
    out = []
    for seed in seeds:
        calc.set(field_V_per_A=0.0)
        ends = adsorption_endpoints(calc, seed=int(seed))[:2]
        for label, end in zip(("contact", "solvated"), ends):
            probe = end.copy()
            probe.calc = calc
            calc.set(field_V_per_A=0.0)
            probe.get_forces()
            sigma = float(np.max(calc.results["force_uncertainty"][mobile_atoms(end)]))
            atoms = end.copy()
            atoms.set_constraint()
            for f in fields:
                out.append(dict(atoms=atoms, run=f"li-{label}-F{f:+.3f}-s{int(seed)}", step=0, sigma_eV_per_A=sigma,
                                field_V_per_A=f, temperature_K=float(temperature_K), pre_failure=False))
    return out


def exploration_summary(runs: Sequence[dict], *, trust_eV_per_A: float = 0.3) -> dict:
    """Per run and overall: steps reached, whether the run left the domain, σ_F statistics."""
    rows = []
    for r in runs:
        sig = np.asarray(r["sigma"])[1:] if len(r["sigma"]) > 1 else np.asarray(r["sigma"])
        rows.append(dict(run=r["name"], steps_run=int(r["steps_run"]), n_steps=int(r["job"]["n_steps"]),
                         left_domain=bool(r["left_domain"]), stop_reason=r["stop_reason"],
                         median_sigma_eV_per_A=float(np.median(sig)), max_sigma_eV_per_A=float(np.max(sig)),
                         untrusted_fraction=float(np.mean(sig > trust_eV_per_A)),
                         mean_temperature_K=float(np.mean(np.asarray(r["temperature"])[1:] if len(r["temperature"]) > 1
                                                          else r["temperature"])),
                         wall_time_s=float(r["wall_time_s"])))
    n = len(rows)
    return dict(n_runs=n, n_completed=sum(not r["left_domain"] for r in rows),
                completed_fraction=sum(not r["left_domain"] for r in rows) / n if n else float("nan"),
                steps_reached_fraction=(sum(r["steps_run"] for r in rows) / sum(r["n_steps"] for r in rows)
                                        if n else float("nan")),
                median_sigma_eV_per_A=float(np.median([r["median_sigma_eV_per_A"] for r in rows])) if n else float("nan"),
                trust_eV_per_A=float(trust_eV_per_A), runs=rows)


def write_candidates(candidates: Sequence[dict], path) -> int:
    """Candidates as extended XYZ; ``info`` carries run, step, σ_F, field, temperature, pre_failure."""
    from ase.io import write

    from ..io import atomic_path

    frames = []
    for c in candidates:
        a = c["atoms"].copy()
        a.info.update({k: v for k, v in c.items() if k != "atoms"})
        frames.append(a)
    if not frames:
        raise InputError("no candidates to write: every frame was below sigma_min and no run left the domain")
    with atomic_path(path) as tmp:
        write(str(tmp), frames, format="extxyz")
    return len(frames)


def read_candidates(path) -> list[dict]:
    """Candidates written by :func:`write_candidates`."""
    from ase.io import read

    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"candidates file {path} not found; make it with `multiscale potential explore`")
    out = []
    for a in read(str(path), index=":", format="extxyz"):
        info = dict(a.info)
        a.info.clear()
        out.append(dict(atoms=a, run=str(info["run"]), step=int(info["step"]),
                        sigma_eV_per_A=float(info["sigma_eV_per_A"]), field_V_per_A=float(info["field_V_per_A"]),
                        temperature_K=float(info["temperature_K"]), pre_failure=bool(info["pre_failure"])))
    return out


def label_candidates(candidates: Sequence[dict], db_path, *, reference_steps: int = 20, store_every: int = 2,
                     timestep_fs: float = 1.0, friction_per_fs: float = 0.02, method: str = "GFN1-xTB",
                     seed: int = 0, n_workers: int | None = 1, scheduler: str | None = None,
                     progress: bool = True) -> int:
    """Reference MD of ``reference_steps`` from each candidate into ``db_path`` (rows ``split=train``,
    ``system`` = "bulk" or "interface", ``task`` = ``al-<run>-<step>``); finished tasks are skipped.
    Returns the number of rows written."""
    from ..parallel import parallel_map
    from .labelling import _done_tasks, _pack, _write_rows, open_label_db, reference_md_task

    reference_steps = int(check_range("reference_steps", reference_steps, low=1))
    store_every = int(check_range("store_every", store_every, low=1, high=reference_steps))
    db = open_label_db(db_path)
    done = _done_tasks(db)
    todo = []
    for k, c in enumerate(candidates):
        task = f"al-{c['run']}-{c['step']}"
        if task in done:
            continue
        todo.append(dict(atoms=_pack(c["atoms"]), seed=int(seed) + k, method=method,
                         field_V_per_A=float(c["field_V_per_A"]), temperature_K=float(c["temperature_K"]),
                         n_steps=reference_steps, timestep_fs=float(timestep_fs),
                         friction_per_fs=float(friction_per_fs), store_every=store_every, task=task,
                         system="bulk" if c["run"].startswith("bulk") else "interface"))
    written = [0]

    def on_result(i, frames):
        t = todo[i]
        meta = dict(task=t["task"], method=method, field_V_per_A=t["field_V_per_A"], temperature_K=t["temperature_K"],
                    split="train", seed=t["seed"], system=t["system"])
        _write_rows(db, frames, meta)  # an SCF failure at the start gives no rows: the task is retried next time
        written[0] += len(frames)

    parallel_map(reference_md_task, todo, n_workers=n_workers, scheduler=scheduler, progress=progress,
                 description="labelling candidates", on_result=on_result)
    return written[0]


def save_exploration(summary: dict, out_dir) -> Path:
    """Write the summary as ``out_dir/exploration.json`` (the frames themselves are not kept)."""
    from ..io import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "exploration.json", json.dumps(summary, indent=1))
    return out / "exploration.json"
