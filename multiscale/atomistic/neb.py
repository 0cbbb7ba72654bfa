"""Minimum-energy paths and barriers by the climbing-image nudged elastic band (CI-NEB).

A chain of images between two minima is relaxed under the NEB force: the true force
perpendicular to the path plus a spring force along it; the highest image "climbs" (its
parallel force is inverted) and converges onto the saddle point (Henkelman, Uberuaga & Jónsson,
J. Chem. Phys. 113, 9901 (2000); improved tangent: Henkelman & Jónsson, ibid. 9978). The
forward barrier is E_a = max_i E_i − E_0 and the reverse barrier max_i E_i − E_N [eV].
Images start from a linear or image-dependent-pair-potential (IDPP; Smidstrup et al.,
J. Chem. Phys. 140, 214106 (2014)) interpolation. The engine is :class:`ase.mep.NEB`; any ASE
calculator drives it.

:func:`barriers_vs_potential` repeats the calculation at several electrode potentials φ (or
fields) and returns E_a(φ) for the charge-transfer coefficient fit E_a(φ) = E_a(0) − α e φ
(:func:`multiscale.kinetics.fit_transfer_coefficient`).
"""
from __future__ import annotations

import copy
import functools
import logging
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConvergenceError, InputError, check_range

log = logging.getLogger(__name__)

_OPTIMIZERS = ("FIRE", "BFGS", "LBFGS", "MDMin")
_INTERPOLATIONS = ("idpp", "linear")
_NEB_METHODS = ("improvedtangent", "aseneb", "eb", "spline", "string")


@dataclass
class NEBResult:
    """A converged band: energies [eV] and images along the path (image 0 = initial state)."""

    images: list
    energies_eV: np.ndarray
    path_A: np.ndarray
    converged: bool
    n_steps: int
    fmax_eV_A: float
    climb: bool

    @property
    def barrier_eV(self) -> float:
        """Forward barrier max_i E_i − E_0 [eV] (the climbing image is the saddle)."""
        return float(np.max(self.energies_eV) - self.energies_eV[0])

    @property
    def reverse_barrier_eV(self) -> float:
        """Reverse barrier max_i E_i − E_N [eV]."""
        return float(np.max(self.energies_eV) - self.energies_eV[-1])

    @property
    def reaction_energy_eV(self) -> float:
        """E_N − E_0 [eV]."""
        return float(self.energies_eV[-1] - self.energies_eV[0])

    @property
    def saddle_index(self) -> int:
        return int(np.argmax(self.energies_eV))

    def plot(self, ax=None):
        """Energy profile E_i − E_0 [eV] against the cumulative path length [Å]."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        ax.plot(self.path_A, self.energies_eV - self.energies_eV[0], "o-")
        ax.set_xlabel("reaction coordinate [Å]")
        ax.set_ylabel("E − E_initial [eV]")
        ax.set_title(f"barrier {self.barrier_eV:.3f} eV")
        return ax


def _calculators(calculator, n: int, allow_shared_calculator: bool | None):
    """n calculators: factory calls, deep copies, or one shared instance."""
    is_factory = isinstance(calculator, type) or (
        callable(calculator) and not hasattr(calculator, "get_potential_energy") and not hasattr(calculator, "calculate"))
    if is_factory:
        return [calculator() for _ in range(n)], False
    if allow_shared_calculator:
        return [calculator] * n, True
    try:
        calcs = [copy.deepcopy(calculator) for _ in range(n)]
    except Exception as exc:  # noqa: BLE001 - any failure to copy means "cannot copy"
        if allow_shared_calculator is False:
            raise InputError(f"calculator {type(calculator).__name__} cannot be copied per image ({exc}); "
                             "pass allow_shared_calculator=True or a factory") from exc
        log.info("calculator cannot be copied (%s); sharing one instance between images", exc)
        return [calculator] * n, True
    for c in calcs:
        if hasattr(c, "reset"):
            c.reset()
    return calcs, False


def _optimizer(name: str):
    from ase import optimize

    if name not in _OPTIMIZERS:
        raise InputError(f"optimizer = {name!r} is unknown; choose one of {', '.join(_OPTIMIZERS)}")
    return getattr(optimize, name)


def _check_endpoints(initial, final) -> None:
    if len(initial) != len(final):
        raise InputError(f"initial has {len(initial)} atoms and final {len(final)}; they must match")
    if list(initial.get_chemical_symbols()) != list(final.get_chemical_symbols()):
        raise InputError("initial and final must list the same elements in the same order")


def neb_barrier(initial, final, calculator, *, n_images: int = 5, climb: bool = True, fmax: float = 0.05,
                steps: int = 1000, optimizer: str = "FIRE", interpolation: str = "idpp",
                method: str = "improvedtangent", spring_constant: float = 0.1, mic: bool = False,
                relax_endpoints: bool = False, allow_shared_calculator: bool | None = None,
                logfile: str | None = None) -> NEBResult:
    """CI-NEB between two minima with any ASE calculator; returns barrier, energies and images.

    Parameters
    ----------
    initial, final : ase.Atoms
        End points (same atoms, same order; constraints are copied to every image). They should
        be minima of ``calculator`` (or set ``relax_endpoints``).
    calculator : ASE calculator or a zero-argument factory returning one
        An instance is deep-copied for every image (so images never share state); a calculator
        that cannot be copied is shared (ASE ``allow_shared_calculator``) unless
        ``allow_shared_calculator=False``; ``True`` always shares (serial evaluation).
    n_images : int
        Number of *intermediate* (moving) images; the band has n_images + 2 images.
    climb : bool
        Climbing image (the highest image converges onto the saddle point).
    fmax : float
        Convergence threshold on the NEB force [eV/Å].
    optimizer : "FIRE" (default), "BFGS", "LBFGS" or "MDMin" (ase.optimize).
    interpolation : "idpp" (default) or "linear" initial path.
    method : ase.mep.NEB tangent method ("improvedtangent" default).
    spring_constant : float
        NEB spring constant k [eV/Å²].

    Raises
    ------
    InputError for mismatched end points or unknown options; ConvergenceError when the band does
    not reach ``fmax`` within ``steps``.
    """
    from ase.mep import NEB

    n = int(check_range("n_images", n_images, low=1))
    check_range("fmax", fmax, low=0.0, low_inclusive=False)
    check_range("steps", steps, low=1)
    check_range("spring_constant", spring_constant, low=0.0, low_inclusive=False)
    if interpolation not in _INTERPOLATIONS:
        raise InputError(f"interpolation = {interpolation!r} is unknown; choose one of {', '.join(_INTERPOLATIONS)}")
    if method not in _NEB_METHODS:
        raise InputError(f"method = {method!r} is unknown; choose one of {', '.join(_NEB_METHODS)}")
    opt_cls = _optimizer(optimizer)
    _check_endpoints(initial, final)

    images = [initial.copy() for _ in range(n + 1)] + [final.copy()]
    calcs, shared = _calculators(calculator, n + 2, allow_shared_calculator)
    for image, calc in zip(images, calcs):
        image.calc = calc
    if relax_endpoints:
        for end in (images[0], images[-1]):
            if not opt_cls(end, logfile=logfile).run(fmax=fmax, steps=steps):
                raise ConvergenceError(f"end-point relaxation did not reach fmax = {fmax} eV/Å in {steps} steps")
    band = NEB(images, k=spring_constant, climb=climb, method=method, allow_shared_calculator=shared)
    band.interpolate(method=interpolation, mic=mic, apply_constraint=False)
    opt = opt_cls(band, logfile=logfile)
    converged = bool(opt.run(fmax=fmax, steps=steps))
    f_now = float(np.sqrt((band.get_forces() ** 2).sum(axis=1).max()))
    if not converged:
        raise ConvergenceError(f"NEB did not converge: max NEB force {f_now:.3g} eV/Å > fmax = {fmax} after "
                               f"{opt.nsteps} {optimizer} steps; raise steps, add images or check the end points")
    energies = np.array([image.get_potential_energy() for image in images])
    if not np.all(np.isfinite(energies)):
        raise ConvergenceError("the calculator returned non-finite energies along the band")
    disp = [np.linalg.norm(images[i + 1].positions - images[i].positions) for i in range(len(images) - 1)]
    return NEBResult(images=images, energies_eV=energies, path_A=np.concatenate([[0.0], np.cumsum(disp)]),
                     converged=converged, n_steps=int(opt.nsteps), fmax_eV_A=f_now, climb=climb)


# --------------------------------------------------------------------------------------------
# barriers at several electrode potentials
# --------------------------------------------------------------------------------------------
@dataclass
class BarrierScan:
    """E_a(φ): CI-NEB barriers at several electrode potentials (or fields).

    ``potential_V`` is the control variable handed to the calculator factory (electrode
    potential vs the reference of that calculator, or a field in V/Å when scanning fields).
    """

    potential_V: np.ndarray
    barrier_eV: np.ndarray
    reverse_barrier_eV: np.ndarray
    results: list = field(repr=False)
    barrier_err_eV: np.ndarray | None = None

    def fit_transfer_coefficient(self, branch: str = "oxidation"):
        """α from E_a(φ) = E_a(0) − α e φ via :func:`multiscale.kinetics.fit_transfer_coefficient`
        (``branch="reduction"`` when the band runs in the reduction direction: E_a(0) + (1 − α) e φ)."""
        from ..kinetics import fit_transfer_coefficient

        return fit_transfer_coefficient(self.potential_V, self.barrier_eV, barrier_err_eV=self.barrier_err_eV,
                                        branch=branch)

    def alpha_estimate(self, level: float = 0.95):
        """α as a :class:`multiscale.uq.Estimate` (std from the fit covariance, t or normal interval).

        Without ``barrier_err_eV`` the residual scatter sets the variance (Student t, n − 2 dof);
        with it the barrier errors are absolute (normal quantile).
        """
        from ..uq import Estimate

        fit = self.fit_transfer_coefficient()
        dof = None if self.barrier_err_eV is not None else float(self.potential_V.size - 2)
        return Estimate(fit.alpha, "1", float(np.sqrt(fit.cov[1, 1])), level=level, dof=dof,
                        provenance="CI-NEB barriers E_a(φ) → fit_transfer_coefficient")

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({"Potential [V]": self.potential_V, "Barrier [eV]": self.barrier_eV,
                             "Reverse barrier [eV]": self.reverse_barrier_eV})

    def plot(self, ax=None):
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        ax.plot(self.potential_V, self.barrier_eV, "o-")
        ax.set_xlabel("potential [V]")
        ax.set_ylabel("E_a [eV]")
        return ax


def _barrier_at(potential_V, initial, final, calculator_factory, neb_kwargs):
    calc = functools.partial(calculator_factory, potential_V)
    return neb_barrier(initial, final, calc, **neb_kwargs)


def barriers_vs_potential(initial, final, calculator_factory, potentials_V, *, relax_endpoints: bool = True,
                          n_workers: int = 0, scheduler: str | None = None, progress: bool = False,
                          barrier_err_eV=None, **neb_kwargs) -> BarrierScan:
    """CI-NEB barriers E_a(φ) at each potential in ``potentials_V``.

    ``calculator_factory(potential_V)`` returns a fresh ASE calculator for that potential (e.g.
    ``lambda phi: MyCalc(field_V_per_A=phi / gap_A)``); it is called once per image. End points are
    relaxed at each potential by default (the minima move with φ). ``n_workers`` > 0 or a
    ``scheduler`` address runs the potentials in parallel through :func:`multiscale.parallel.parallel_map`
    (the factory must then be picklable: a module-level function or ``functools.partial``).
    ``barrier_err_eV`` (per potential), when known — e.g. from an ML-ensemble spread — is carried
    into the α fit as weights. Other keyword arguments go to :func:`neb_barrier`.
    """
    from ..parallel import parallel_map

    phi = np.atleast_1d(np.asarray(potentials_V, dtype=float))
    if phi.ndim != 1 or phi.size < 1 or not np.all(np.isfinite(phi)):
        raise InputError(f"potentials_V must be a 1-D array of finite potentials, got {potentials_V!r}")
    kwargs = dict(neb_kwargs, relax_endpoints=relax_endpoints)
    job = functools.partial(_barrier_at, initial=initial, final=final, calculator_factory=calculator_factory,
                            neb_kwargs=kwargs)
    results = parallel_map(job, list(phi), n_workers=n_workers, scheduler=scheduler, progress=progress,
                           description="NEB vs potential")
    err = None if barrier_err_eV is None else np.asarray(barrier_err_eV, dtype=float) * np.ones_like(phi)
    return BarrierScan(potential_V=phi, barrier_eV=np.array([r.barrier_eV for r in results]),
                       reverse_barrier_eV=np.array([r.reverse_barrier_eV for r in results]), results=results,
                       barrier_err_eV=err)
