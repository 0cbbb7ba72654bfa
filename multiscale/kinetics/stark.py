"""Stark fit of energies computed at several applied fields.

    E(F) = E(0) − μ F − ½ α F²

F [V/Å] the field along +z, E [eV], μ the dipole along +z [e·Å], α the polarizability
[e·Å²/V] (μF in e·Å·V/Å = eV). A positive μ points along +z and is stabilised by a positive
field. Reference: e.g. Karlberg, Rossmeisl, Nørskov, Phys. Chem. Chem. Phys. 9, 5158 (2007),
for adsorbates in a double-layer field.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, check_finite_array
from .least_squares import linear_fit


@dataclass
class StarkFit:
    """μ [e·Å], α [e·Å²/V], E(0) [eV], their intervals and the covariance ``cov`` (order E0, μ, α)."""

    dipole_eA: float
    polarizability_eA2_per_V: float
    energy0_eV: float
    cov: np.ndarray
    dipole_ci95: tuple
    polarizability_ci95: tuple
    energy0_ci95: tuple
    field_V_per_A: np.ndarray
    energy_eV: np.ndarray

    def predict(self, field_V_per_A):
        """E(F) [eV] of the fit."""
        f = np.asarray(field_V_per_A, dtype=float)
        return self.energy0_eV - self.dipole_eA * f - 0.5 * self.polarizability_eA2_per_V * f * f

    def plot(self, ax=None):
        """Energies and the fitted parabola; returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 4))
        ax.plot(self.field_V_per_A, self.energy_eV, "o", label="computed")
        grid = np.linspace(self.field_V_per_A.min(), self.field_V_per_A.max(), 100)
        ax.plot(grid, self.predict(grid), label=f"μ = {self.dipole_eA:.3f} eÅ, α = {self.polarizability_eA2_per_V:.3f} eÅ²/V")
        ax.set_xlabel("Field F [V/Å]")
        ax.set_ylabel("Energy [eV]")
        ax.legend()
        return ax


def fit_stark(field_V_per_A, energy_eV, energy_err_eV=None, *, confidence=0.95) -> StarkFit:
    """Fit E(F) = E(0) − μF − ½αF² by (weighted) least squares; see the module docstring.

    Needs ≥ 3 distinct fields (≥ 4 without ``energy_err_eV`` for an interval).
    """
    f = check_finite_array("field_V_per_A", field_V_per_A).ravel()
    e = check_finite_array("energy_eV", energy_eV).ravel()
    if f.shape != e.shape:
        raise InputError(f"field_V_per_A has {f.size} values but energy_eV has {e.size}")
    if np.unique(f).size < 3:
        raise InputError(f"field_V_per_A needs at least 3 distinct fields for E0, μ and α, got {np.unique(f).size}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence = {confidence!r} is out of range: must be in (0, 1)")
    err = None
    if energy_err_eV is not None:
        err = np.broadcast_to(check_finite_array("energy_err_eV", energy_err_eV), e.shape).copy()
        if np.any(err <= 0):
            raise InputError(f"energy_err_eV must be > 0, got min {err.min():.3g}")
    params, cov, half, _ = linear_fit(np.column_stack([np.ones_like(f), -f, -0.5 * f * f]), e, err,
                                      confidence=confidence)
    ci = [(float(p - h), float(p + h)) for p, h in zip(params, half)]
    return StarkFit(dipole_eA=float(params[1]), polarizability_eA2_per_V=float(params[2]),
                    energy0_eV=float(params[0]), cov=cov, dipole_ci95=ci[1], polarizability_ci95=ci[2],
                    energy0_ci95=ci[0], field_V_per_A=f, energy_eV=e)
