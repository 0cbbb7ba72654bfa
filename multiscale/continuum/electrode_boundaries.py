"""Reaction (flux) boundaries of the Nernst–Planck solver: a working electrode at either wall.

A boundary returns the molar flux of one species *into* the electrolyte, q = a + b·c_s [mol/(m²·s)],
linear in the surface concentration c_s (so the implicit step stays linear for a fixed φ).

* :class:`GalvanostaticBoundary`: q = i/(zF), a fixed current density i [A/m²] carried by the
  species (i > 0 releases the species into the electrolyte, e.g. Li → Li⁺ + e⁻ at an anode).
* :class:`ButlerVolmerBoundary`: metal/ion couple M ⇌ M^{z+} + z e⁻ at a fixed overpotential η:

      i = i₀ [exp((1 − α) z f η) − (c_s / c_ref) exp(−α z f η)],   f = e/kT,

  anodic current (i > 0) releases ions: q = i/(zF). At equilibrium (η = 0, c_s = c_ref) i = 0.
  Reference: Bard & Faulkner, *Electrochemical Methods*, 2nd ed. (2001), §3.3–3.4.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, check_range
from ..units import faraday_C_mol, thermal_voltage_V

SIDES = ("left", "right")


def _side(side):
    if side not in SIDES:
        raise InputError(f"side = {side!r} is not one of {', '.join(SIDES)}")
    return side


@dataclass(frozen=True)
class GalvanostaticBoundary:
    """Fixed current density ``current_density_A_m2`` carried by ``species`` at ``side``."""

    species: str
    side: str
    current_density_A_m2: float

    def __post_init__(self):
        _side(self.side)
        check_range("current_density_A_m2", self.current_density_A_m2)

    def coefficients(self, valence: float, temperature_K: float):
        """(a, b) of q = a + b c_s [mol/(m²·s)], flux into the electrolyte."""
        return self.current_density_A_m2 / (valence * faraday_C_mol), 0.0


@dataclass(frozen=True)
class ButlerVolmerBoundary:
    """Butler–Volmer kinetics of ``species`` at ``side`` (see the module docstring)."""

    species: str
    side: str
    exchange_current_density_A_m2: float
    overpotential_V: float
    reference_concentration_mol_m3: float
    transfer_coefficient: float = 0.5

    def __post_init__(self):
        _side(self.side)
        check_range("exchange_current_density_A_m2", self.exchange_current_density_A_m2, low=0.0)
        check_range("overpotential_V", self.overpotential_V, low=-2.0, high=2.0)
        check_range("reference_concentration_mol_m3", self.reference_concentration_mol_m3, low=0.0,
                    low_inclusive=False)
        check_range("transfer_coefficient", self.transfer_coefficient, low=0.0, high=1.0)

    def coefficients(self, valence: float, temperature_K: float):
        f = valence / thermal_voltage_V(temperature_K)
        a = self.transfer_coefficient
        i0 = self.exchange_current_density_A_m2
        eta = self.overpotential_V
        scale = i0 / (valence * faraday_C_mol)
        return (scale * np.exp((1.0 - a) * f * eta),
                -scale * np.exp(-a * f * eta) / self.reference_concentration_mol_m3)

    def current_density_A_m2(self, surface_concentration_mol_m3, valence: float, temperature_K: float):
        """Current density [A/m²] (anodic positive) at the given surface concentration."""
        a, b = self.coefficients(valence, temperature_K)
        return valence * faraday_C_mol * (a + b * np.asarray(surface_concentration_mol_m3))
