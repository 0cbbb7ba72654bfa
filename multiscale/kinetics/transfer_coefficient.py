"""Charge-transfer coefficient from barriers computed at several electrode potentials.

    oxidation step:  E_a(φ) = E_a(0) − α e φ        (+ κ φ²  with ``curvature=True``)
    reduction step:  E_a(φ) = E_a(0) + (1 − α) e φ  (``branch="reduction"``)

φ [V] is the electrode potential (vs any fixed reference), E_a [eV]; α is dimensionless
(α > 0: a more positive potential lowers the barrier of an oxidation step). The two forms are
the anodic and cathodic branches of one Butler–Volmer step with α_a = α and α_c = 1 − α, so a
barrier scanned in either direction gives the α that PyBaMM's "charge transfer coefficient" is. With the
potential in volts and energies in eV, eφ [eV] = φ [V]. For a single proton/electron transfer
α ≈ |q_TS − q_IS| (Chan & Nørskov, J. Phys. Chem. Lett. 6, 2663 (2015)).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, check_finite_array
from .least_squares import linear_fit


@dataclass
class TransferCoefficientFit:
    """α, its confidence interval, E_a(0) [eV], the curvature κ [eV/V²] (0 if not fitted) and the
    parameter covariance ``cov`` (order: E_a(0), α[, κ])."""

    alpha: float
    alpha_ci95: tuple
    barrier0_eV: float
    barrier0_ci95: tuple
    curvature_eV_V2: float
    cov: np.ndarray
    potential_V: np.ndarray
    barrier_eV: np.ndarray
    barrier_err_eV: np.ndarray | None
    branch: str = "oxidation"

    def predict(self, potential_V):
        """E_a(φ) [eV] of the fit."""
        p = np.asarray(potential_V, dtype=float)
        slope = -self.alpha if self.branch == "oxidation" else 1.0 - self.alpha
        return self.barrier0_eV + slope * p + self.curvature_eV_V2 * p * p

    def plot(self, ax=None):
        """Barriers with error bars and the fitted line; returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 4))
        ax.errorbar(self.potential_V, self.barrier_eV, yerr=self.barrier_err_eV, fmt="o", label="barriers")
        grid = np.linspace(self.potential_V.min(), self.potential_V.max(), 100)
        ax.plot(grid, self.predict(grid), label=f"α = {self.alpha:.3f} [{self.alpha_ci95[0]:.3f}, {self.alpha_ci95[1]:.3f}]")
        ax.set_xlabel("Electrode potential [V]")
        ax.set_ylabel("Barrier E_a [eV]")
        ax.legend()
        return ax


def fit_transfer_coefficient(potential_V, barrier_eV, barrier_err_eV=None, *, curvature=False,
                             confidence=0.95, branch: str = "oxidation") -> TransferCoefficientFit:
    """Fit E_a(φ) = E_a(0) − αeφ (+ κφ²) by (weighted) least squares.

    ``branch="reduction"``: the barriers are of the reduction direction, E_a(φ) = E_a(0) + (1 − α)eφ.

    ``barrier_err_eV``: per-barrier standard errors [eV] (absolute); without them the scatter of
    the residuals sets the covariance and the interval is Student-t on n − p degrees of freedom.
    Returns a :class:`TransferCoefficientFit` (``alpha``, ``alpha_ci95``, ``barrier0_eV``, ...).
    """
    phi = check_finite_array("potential_V", potential_V).ravel()
    ea = check_finite_array("barrier_eV", barrier_eV).ravel()
    if phi.shape != ea.shape:
        raise InputError(f"potential_V has {phi.size} values but barrier_eV has {ea.size}")
    if np.ptp(phi) == 0:
        raise InputError("potential_V must contain at least two different potentials")
    if not 0 < confidence < 1:
        raise InputError(f"confidence = {confidence!r} is out of range: must be in (0, 1)")
    if branch not in ("oxidation", "reduction"):
        raise InputError(f"branch = {branch!r} is unknown; choose 'oxidation' or 'reduction'")
    cols = [np.ones_like(phi), -phi] + ([phi * phi] if curvature else [])
    # reduction: E_a − φ = E_a(0) − αφ, the same linear problem on shifted barriers
    target = ea - phi if branch == "reduction" else ea
    err = None
    if barrier_err_eV is not None:
        err = np.broadcast_to(check_finite_array("barrier_err_eV", barrier_err_eV), ea.shape).copy()
        if np.any(err <= 0):
            raise InputError(f"barrier_err_eV must be > 0, got min {err.min():.3g}")
    params, cov, half, _ = linear_fit(np.column_stack(cols), target, err, confidence=confidence)
    return TransferCoefficientFit(
        alpha=float(params[1]), alpha_ci95=(float(params[1] - half[1]), float(params[1] + half[1])),
        barrier0_eV=float(params[0]), barrier0_ci95=(float(params[0] - half[0]), float(params[0] + half[0])),
        curvature_eV_V2=float(params[2]) if curvature else 0.0, cov=cov, potential_V=phi, barrier_eV=ea,
        barrier_err_eV=err, branch=branch)
