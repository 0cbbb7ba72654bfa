"""Total energies of candidate structures from any ASE calculator, with relaxation.

Each structure is relaxed with an ASE optimiser (BFGS, FIRE, LBFGS …); with ``relax_cell``
the cell relaxes too through an ASE cell filter (``FrechetCellFilter`` by default, which
minimises enthalpy H = E + pV at ``pressure_GPa`` with a log-strain cell parametrisation:
Tadmor et al., PRB 59, 235 (1999); ASE ≥ 3.23). Convergence: max |F| < ``fmax_eV_A`` on
atoms (and the filtered stress on the cell). The result is an :class:`Entry` whose energy is
the calculator's potential energy of the relaxed structure [eV], ready for a PhaseDiagram.

Many candidates run through :func:`multiscale.parallel.parallel_map` (Dask; ``n_workers=0``
is serial), with a progress bar. For parallel runs the calculator is given by name (or a
picklable factory) and built inside each worker.

Calculators by name: ``"emt"`` (ASE's effective-medium theory: Al, Cu, Ag, Au, Ni, Pd, Pt,
H, C, N, O), ``"chgnet"`` (the pretrained universal potential CHGNet, Deng et al., Nat. Mach.
Intell. 5, 1031 (2023), trained on Materials Project GGA/GGA+U; optional extra
``multiscale[universal]``), ``"gfn1-xtb"`` / ``"gfn2-xtb"`` (tblite).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..errors import ConvergenceError, InputError
from .entries import Entry

CALCULATORS = ("emt", "chgnet", "gfn1-xtb", "gfn2-xtb")
OPTIMIZERS = ("BFGS", "FIRE", "LBFGS", "BFGSLineSearch")
CELL_FILTERS = ("frechet", "exp", "unit")


def get_calculator(name: str):
    """A fresh ASE calculator for ``name`` (one of :data:`CALCULATORS`)."""
    key = str(name).lower()
    if key == "emt":
        from ase.calculators.emt import EMT

        return EMT()
    if key == "chgnet":
        try:
            from chgnet.model.dynamics import CHGNetCalculator
        except ImportError:
            raise InputError("calculator = 'chgnet' needs the optional extra: pip install 'multiscale[universal]'") from None
        import torch

        torch.set_num_threads(1)
        # CHGNet prints its banner with print(): keep stdout for results (tables, --json output)
        import contextlib
        import sys

        with contextlib.redirect_stdout(sys.stderr):
            return CHGNetCalculator(use_device="cpu", on_isolated_atoms="ignore")
    if key in ("gfn1-xtb", "gfn2-xtb"):
        from tblite.ase import TBLite

        return TBLite(method="GFN1-xTB" if key == "gfn1-xtb" else "GFN2-xTB", verbosity=0)
    raise InputError(f"calculator = {name!r} is unknown; choose one of {', '.join(CALCULATORS)} "
                     "(or pass an ASE calculator / a factory from Python)")


def _make_calculator(calculator: Any):
    if isinstance(calculator, str):
        return get_calculator(calculator)
    if _is_calculator_instance(calculator):
        return calculator
    if callable(calculator):
        return calculator()
    raise InputError(f"calculator = {calculator!r} must be a name ({', '.join(CALCULATORS)}), an ASE calculator "
                     "or a function returning one")


def _is_calculator_instance(obj: Any) -> bool:
    return not isinstance(obj, type) and hasattr(obj, "calculate") and hasattr(obj, "results")


@dataclass
class Relaxation:
    """Outcome of one relaxation: the relaxed structure and its energy [eV]."""

    name: str
    atoms: Any
    energy_eV: float
    converged: bool
    n_steps: int
    fmax_eV_A: float

    @property
    def entry(self) -> Entry:
        """The relaxed structure as an :class:`Entry` (its full cell's composition)."""
        comp: dict[str, float] = {}
        for s in self.atoms.get_chemical_symbols():
            comp[s] = comp.get(s, 0.0) + 1.0
        return Entry(comp, self.energy_eV, self.name, {"converged": self.converged, "n_steps": self.n_steps})


def relax(atoms, calculator: Any = "emt", *, fmax_eV_A: float = 0.05, max_steps: int = 300,
          relax_cell: bool = True, cell_filter: str = "frechet", optimizer: str = "BFGS",
          pressure_GPa: float = 0.0, name: str | None = None, require_convergence: bool = False) -> Relaxation:
    """Relax ``atoms`` (a copy) with an ASE optimiser; return its energy and structure.

    ``relax_cell`` applies a cell filter (periodic structures only). With
    ``require_convergence`` an unconverged run raises :class:`ConvergenceError`; otherwise it
    is reported in ``Relaxation.converged``. ``max_steps = 0`` gives a single-point energy.
    """
    from ase import Atoms

    if not isinstance(atoms, Atoms) or len(atoms) == 0:
        raise InputError(f"atoms = {atoms!r} must be a non-empty ase.Atoms")
    if not (math.isfinite(fmax_eV_A) and fmax_eV_A > 0):
        raise InputError(f"fmax_eV_A = {fmax_eV_A!r} is out of range: must be > 0")
    if not isinstance(max_steps, int) or max_steps < 0:
        raise InputError(f"max_steps = {max_steps!r} must be an integer >= 0")
    if optimizer not in OPTIMIZERS:
        raise InputError(f"optimizer = {optimizer!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")
    if cell_filter not in CELL_FILTERS:
        raise InputError(f"cell_filter = {cell_filter!r} is unknown; choose one of {', '.join(CELL_FILTERS)}")
    label = name or atoms.get_chemical_formula()
    a = atoms.copy()
    a.calc = _make_calculator(calculator)
    n_steps, converged = 0, True
    if max_steps > 0:
        import ase.filters
        import ase.optimize
        from ase.units import GPa

        target = a
        if relax_cell and all(a.pbc):
            cls = {"frechet": ase.filters.FrechetCellFilter, "exp": ase.filters.ExpCellFilter,
                   "unit": ase.filters.UnitCellFilter}[cell_filter]
            target = cls(a, scalar_pressure=pressure_GPa * GPa)
        opt = getattr(ase.optimize, optimizer)(target, logfile=None)
        converged = bool(opt.run(fmax=fmax_eV_A, steps=max_steps))
        n_steps = int(opt.get_number_of_steps())
    energy = float(a.get_potential_energy())
    if not math.isfinite(energy):
        raise ConvergenceError(f"structure {label!r}: the calculator returned a non-finite energy ({energy})")
    if require_convergence and not converged:
        raise ConvergenceError(f"structure {label!r}: relaxation did not reach fmax = {fmax_eV_A} eV/Å in "
                               f"{max_steps} steps")
    a.calc = None
    return Relaxation(label, a, energy, converged, n_steps, fmax_eV_A)


def _relax_item(item, **kwargs):
    name, atoms = item
    return relax(atoms, name=name, **kwargs)


def relax_many(structures: Iterable[Any], calculator: str | Callable = "emt", *, n_workers: int | None = 0,
               scheduler: str | None = None, client: Any = None, progress: bool = True,
               **relax_kwargs) -> list[Relaxation]:
    """Relax many structures through :func:`multiscale.parallel.parallel_map`.

    ``structures``: ``ase.Atoms`` or ``(name, atoms)`` pairs. ``calculator``: a name or a
    picklable factory (an ASE calculator instance only with ``n_workers=0``). Results in
    input order.
    """
    from ..parallel import parallel_map

    items = []
    for i, s in enumerate(structures):
        if isinstance(s, tuple) and len(s) == 2:
            items.append((str(s[0]), s[1]))
        else:
            items.append((None, s))
    serial = n_workers == 0 and client is None and scheduler is None
    if not serial and _is_calculator_instance(calculator):
        raise InputError("for parallel relaxations give calculator as a name or a picklable factory, not an instance")
    func = functools.partial(_relax_item, calculator=calculator, **relax_kwargs)
    return parallel_map(func, items, client=client, scheduler=scheduler, n_workers=n_workers, progress=progress,
                        description="relaxing")


def read_structures(paths: Iterable[str]) -> list[tuple[str, Any]]:
    """Read structure files (any format ``ase.io.read`` knows: CIF, POSCAR, extxyz …).

    Every frame of a multi-frame file is a structure, named ``file:index``.
    """
    import ase.io
    from pathlib import Path

    out = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise InputError(f"structure file {str(path)!r} does not exist")
        try:
            frames = ase.io.read(str(path), index=":")
        except Exception as exc:  # ase raises many types for unreadable files
            raise InputError(f"structure file {str(path)!r} could not be read by ase.io: {exc}") from None
        if not frames:
            raise InputError(f"structure file {str(path)!r} has no structures")
        for k, atoms in enumerate(frames):
            out.append((path.stem if len(frames) == 1 else f"{path.stem}:{k}", atoms))
    return out
