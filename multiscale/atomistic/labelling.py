"""Reference labels: energies, forces, charges and dipoles at an applied field, kept in ASE SQLite.

Each database row is one configuration with its reference results (``energy`` [eV],
``forces`` [eV/Å], ``charges`` [e], ``dipole`` [e·Å], through a SinglePointCalculator) and the
key-value pairs ``field_V_per_A`` (uniform field along +z), ``method`` (e.g. "GFN1-xTB"),
``temperature_K`` (of the sampling MD, 0 for single points), ``task`` (the sampling task that
made it), ``step`` and ``split`` ("train" or "heldout"). Work is mapped through
:func:`multiscale.parallel.parallel_map` (Dask) and written by the parent process only, as each
task completes, so an interrupted run resumes: tasks whose rows exist are skipped.

Configurations come from short reference-driven Langevin MD (ASE integrator, reference forces
including the field) started from fresh random packings — so every MD step is a labelled,
physically weighted configuration at temperature T and field F.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from ..errors import DataFileError, InputError, check_range
from ..parallel import parallel_map

log = logging.getLogger(__name__)


def _pack(atoms: Atoms) -> dict:
    return dict(numbers=atoms.numbers.copy(), positions=atoms.positions.copy(), cell=np.array(atoms.cell),
                pbc=atoms.pbc.copy(), initial_charges=atoms.get_initial_charges())


def _unpack(d: dict) -> Atoms:
    a = Atoms(numbers=d["numbers"], positions=d["positions"], cell=d["cell"], pbc=d["pbc"])
    a.set_initial_charges(d["initial_charges"])
    return a


def config_id(atoms: Atoms, field_V_per_A: float, method: str) -> str:
    """Stable hash of (numbers, positions to 1e-6 Å, cell, field, method): the resume key."""
    h = hashlib.sha1()
    h.update(atoms.numbers.tobytes())
    h.update(np.round(atoms.positions, 6).tobytes())
    h.update(np.round(np.array(atoms.cell), 6).tobytes())
    h.update(f"{float(field_V_per_A):.6f}|{method}".encode())
    cid = h.hexdigest()[:16]
    # ASE's database refuses a string value that parses as a number ("4071276836e70470" is
    # 4.07e79): such ids get a "c" prefix; every other id stays the bare digest.
    try:
        float(cid)
    except ValueError:
        return cid
    return "c" + cid


def _results(calc) -> dict:
    r = calc.results
    return dict(energy=float(r["energy"]), forces=np.array(r["forces"]), charges=np.array(r["charges"]),
                dipole=np.array(r["dipole"]))


def label_one(item: dict) -> dict:
    """Worker: one reference single point. ``item`` = packed atoms + ``method`` + ``field_V_per_A``."""
    from .reference import reference_calculator

    atoms = _unpack(item["atoms"])
    atoms.calc = reference_calculator(item["method"], field_V_per_A=item["field_V_per_A"])
    atoms.get_forces()
    return dict(atoms=item["atoms"], **_results(atoms.calc))


def reference_md_task(item: dict) -> list[dict]:
    """Worker: Langevin MD driven by the reference calculator; every step is a labelled frame.

    ``item``: seed, method, field_V_per_A, temperature_K, n_steps, timestep_fs, friction_per_fs,
    and packed ``atoms`` or a fresh packing: ``system`` ("interface", the default: graphene
    ``sheet`` cells + ``n_ec`` EC + 1 LiBF₄; "bulk": ``n_ec`` EC + ``n_salt`` LiBF₄ in a periodic
    cube); optional ``store_every`` (k: keep every k-th step as a frame; the reference still
    drives every step).
    """
    import os

    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import thermalize_momenta

    from .reference import reference_calculator
    from .system import build_bulk_electrolyte, build_interface

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rng = np.random.default_rng(item["seed"])
    if "atoms" in item:
        atoms = _unpack(item["atoms"])
    elif item.get("system") == "bulk":
        atoms = build_bulk_electrolyte(item["n_ec"], item["n_salt"], seed=item["seed"])
    else:
        atoms = build_interface(*item.get("sheet", (3, 2)), n_ec=item.get("n_ec", 3), n_salt=1, seed=item["seed"])
    atoms.calc = reference_calculator(item["method"], field_V_per_A=item["field_V_per_A"])
    thermalize_momenta(atoms, item["temperature_K"], rng=rng)  # = MaxwellBoltzmannDistribution (deprecated)
    dyn = Langevin(atoms, item["timestep_fs"] * units.fs, temperature_K=item["temperature_K"],
                   friction=item["friction_per_fs"] / units.fs, rng=rng, fixcm=False)
    frames: list[dict] = []

    every = int(item.get("store_every", 1))
    step = [0]

    def record():
        if step[0] % every == 0:
            frames.append(dict(atoms=_pack(atoms), step=step[0], **_results(atoms.calc)))
        step[0] += 1

    from ase.calculators.calculator import CalculationFailed

    try:
        atoms.get_forces()
    except CalculationFailed:
        return []  # SCF failure on the starting packing: the task yields no rows (logged by caller)
    record()
    for _ in range(item["n_steps"] - 1):
        try:
            dyn.run(1)
        except CalculationFailed:
            break  # keep the labelled frames so far; a failed SCF is never stored
        record()
    return frames


def open_label_db(db_path: str | Path):
    """Connect to the ASE SQLite database ``db_path``, creating its tables if it is new.

    Several ``label`` processes may resume into one database (the README's recipe runs one per
    core). ASE creates the tables on first use after checking that they are absent, so two
    processes starting on a new file could both try and one failed with "table systems already
    exists". Creation is therefore serialised by an exclusive ``flock`` on the database's folder
    (no lock file is left behind); where ``fcntl`` is missing (Windows) it runs unlocked.
    """
    from ase.db import connect

    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = connect(str(path))
    with _folder_lock(path.parent):
        db.count()  # the first statement: creates the tables, or reads the existing metadata
    return db


@contextlib.contextmanager
def _folder_lock(folder: Path):
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(str(folder), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_rows(db, frames: Sequence[dict], meta: dict) -> None:
    with db:
        for fr in frames:
            atoms = _unpack(fr["atoms"])
            atoms.calc = SinglePointCalculator(atoms, energy=fr["energy"], forces=fr["forces"],
                                               charges=fr["charges"], dipole=fr["dipole"])
            kv = dict(meta)
            kv["step"] = int(fr.get("step", 0))
            kv["config_id"] = config_id(atoms, meta["field_V_per_A"], meta["method"])
            db.write(atoms, key_value_pairs=kv)


def _done_tasks(db) -> set[str]:
    return {row.get("task") for row in db.select(columns=["key_value_pairs"]) if row.get("task")}


def generate_reference_md(
    db_path: str | Path,
    *,
    fields_V_per_A: Iterable[float] = (-0.1, -0.05, 0.0, 0.05, 0.1),
    heldout_fields_V_per_A: Iterable[float] = (0.075,),
    temperatures_K: Iterable[float] = (300.0, 600.0),
    seeds: Iterable[int] = (0,),
    n_steps: int = 60,
    timestep_fs: float = 1.0,
    friction_per_fs: float = 0.02,
    method: str = "GFN1-xTB",
    store_every: int = 1,
    system: str = "interface",
    compositions: Iterable[tuple[int, int]] = ((5, 1),),
    n_workers: int | None = 1,
    scheduler: str | None = None,
    progress: bool = True,
) -> int:
    """Label reference-MD trajectories for every (seed, field, temperature) into ``db_path``.

    ``system="interface"`` (default): the 60-atom graphene + 3 EC + LiBF₄ training cell.
    ``system="bulk"``: bulk electrolyte cubes, one task per (n_ec, n_salt) of ``compositions``
    for every seed, field and temperature (use the field 0: a bulk cell has no electrode).

    Held-out fields are sampled at the first temperature only (right after its training fields)
    and stored with ``split="heldout"``. Tasks already present in the database are skipped (resume). Tasks run
    interleaved over fields so that a partial run still covers every field. ``store_every`` = k
    keeps every k-th MD step (frames 1 fs apart are nearly the same configuration; k = 2 halves
    the database for little loss). Returns the number of rows written.
    """
    n_steps = int(check_range("n_steps", n_steps, low=1))
    store_every = int(check_range("store_every", store_every, low=1, high=max(1, n_steps)))
    check_range("timestep_fs", timestep_fs, low=0.05, high=5.0)
    if system not in ("interface", "bulk"):
        raise InputError(f"system = {system!r} must be 'interface' or 'bulk'")
    comps = [(int(n_ec), int(n_salt)) for n_ec, n_salt in compositions] if system == "bulk" else [None]
    for c in comps:
        if c is not None and (c[0] < 0 or c[1] < 0 or sum(c) < 1 or sum(c) > 40):
            raise InputError(f"compositions: (n_ec, n_salt) = {c} must be >= 0 with 1..40 molecules in all")
    temps = [float(t) for t in temperatures_K]
    tasks = []
    for seed in seeds:
        for c in comps:
            extra = {} if c is None else dict(system="bulk", n_ec=c[0], n_salt=c[1])
            for n_t, t in enumerate(temps):
                for f in fields_V_per_A:
                    tasks.append(dict(seed=int(seed), field_V_per_A=float(f), temperature_K=t, split="train", **extra))
                if n_t == 0:
                    for f in heldout_fields_V_per_A:
                        tasks.append(dict(seed=int(seed) + 10_000, field_V_per_A=float(f), temperature_K=t,
                                          split="heldout", **extra))
    db = open_label_db(db_path)
    done = _done_tasks(db)
    todo = []
    for t in tasks:
        name = f"md-{method}-F{t['field_V_per_A']:+.3f}-T{t['temperature_K']:.0f}-s{t['seed']}"
        if t.get("system") == "bulk":
            name = f"bulk-{t['n_ec']}EC-{t['n_salt']}LiBF4-" + name
        if name in done:
            continue
        todo.append(dict(t, task=name, method=method, n_steps=n_steps, timestep_fs=float(timestep_fs),
                         friction_per_fs=float(friction_per_fs), store_every=store_every))
    written = [0]

    def on_result(i, frames):
        t = todo[i]
        meta = dict(task=t["task"], method=method, field_V_per_A=t["field_V_per_A"],
                    temperature_K=t["temperature_K"], split=t["split"], seed=t["seed"],
                    system=t.get("system", "interface"))
        if not frames:
            log.warning("reference MD task %s produced no frame (SCF failure at start)", t["task"])
            frames = []
        _write_rows(db, frames, meta)
        written[0] += len(frames)

    parallel_map(reference_md_task, todo, n_workers=n_workers, scheduler=scheduler, progress=progress,
                 description="reference MD", on_result=on_result)
    return written[0]


def label_configurations(
    configurations: Sequence[Atoms],
    db_path: str | Path,
    *,
    field_V_per_A: float = 0.0,
    method: str = "GFN1-xTB",
    split: str = "train",
    task: str = "single-points",
    n_workers: int | None = 1,
    scheduler: str | None = None,
    progress: bool = True,
) -> int:
    """Label ``configurations`` at one field with the reference, in batches through Dask.

    Rows whose ``config_id`` (positions, cell, field, method) already exist are skipped.
    Returns the number of rows written.
    """
    check_range("field_V_per_A", field_V_per_A, low=-0.5, high=0.5)
    db = open_label_db(db_path)
    have = {row.get("config_id") for row in db.select(columns=["key_value_pairs"])}
    items = [dict(atoms=_pack(a), method=method, field_V_per_A=float(field_V_per_A))
             for a in configurations if config_id(a, field_V_per_A, method) not in have]
    written = [0]

    def on_result(i, res):
        meta = dict(task=task, method=method, field_V_per_A=float(field_V_per_A), temperature_K=0.0, split=split)
        _write_rows(db, [res], meta)
        written[0] += 1

    parallel_map(label_one, items, n_workers=n_workers, scheduler=scheduler, progress=progress,
                 description="labelling", on_result=on_result)
    return written[0]


def load_dataset(db_path: str | Path, selection: Any = None, **select_kwargs) -> list[Atoms]:
    """Rows of a label database as Atoms with a SinglePointCalculator and ``info`` = key-value pairs."""
    from ase.db import connect

    path = Path(db_path)
    if not path.is_file():
        raise DataFileError(f"label database {path} not found; make it with `multiscale potential label --db {path}`")
    out = []
    for row in connect(str(path)).select(selection, **select_kwargs):
        atoms = row.toatoms(add_additional_information=False)
        atoms.calc = SinglePointCalculator(atoms, energy=row.energy, forces=row.forces,
                                           charges=row.get("charges"), dipole=row.get("dipole"))
        atoms.info.update(row.key_value_pairs)
        out.append(atoms)
    if not out:
        raise DataFileError(f"label database {path} has no rows matching {selection!r} {select_kwargs}")
    return out


def load_training_frames(db_paths, *, frame_stride: int = 1) -> list[Atoms]:
    """The ``split=train`` rows of one or several label databases, every ``frame_stride``-th MD step.

    Frames are kept when ``step % frame_stride == 0`` within their trajectory (``info['task']``), so
    a stride keeps whole trajectories (the trajectory validation split still works). Trajectory
    names must not repeat across databases: the same task in two files would be the same packing
    counted twice (and would leak across a trajectory split).
    """
    if isinstance(db_paths, (str, Path)):
        db_paths = [db_paths]
    if int(frame_stride) < 1:
        raise InputError(f"frame_stride = {frame_stride} must be >= 1")
    resolved = [Path(d).resolve() for d in db_paths]
    if len(set(resolved)) != len(resolved):
        raise InputError(f"db_paths = {[str(d) for d in db_paths]} names a database twice; pass each once")
    out: list[Atoms] = []
    owner: dict[str, str] = {}
    for path in db_paths:
        for atoms in load_dataset(path, split="train"):
            task = str(atoms.info.get("task", ""))
            if task and owner.setdefault(task, str(path)) != str(path):
                raise InputError(f"trajectory {task!r} is in both {owner[task]} and {path}; "
                                 "pass each label database once")
            if int(atoms.info.get("step", 0)) % int(frame_stride) == 0:
                out.append(atoms)
    return out


def export_extxyz(db_path: str | Path, out_path: str | Path, selection: Any = None) -> int:
    """Write the database rows as extended XYZ (energy, forces, charges, dipole, field per frame)."""
    from ase.io import write

    from ..io import atomic_path

    frames = load_dataset(db_path, selection)
    with atomic_path(out_path) as tmp:
        write(str(tmp), frames, format="extxyz")
    return len(frames)
