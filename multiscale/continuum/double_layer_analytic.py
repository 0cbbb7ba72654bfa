"""Closed-form double-layer results used as references for the numerical Poisson–Boltzmann
solver (and as cheap estimates): Debye length, Gouy–Chapman profile, Grahame charge,
Gouy–Chapman and Bikerman (Kornyshev) differential capacitance, Stern capacitance in series.

Sign convention: φ₀ is the (diffuse-layer) potential at the wall relative to the bulk, σ the
charge per area on the electrode side, σ > 0 when φ₀ > 0. Symmetric z:z electrolyte, bulk
concentration c₀ [mol/m³], n₀ = N_A c₀, ε = ε₀ε_r.

References: D. C. Grahame, Chem. Rev. 41, 441 (1947); A. A. Kornyshev, J. Phys. Chem. B 111,
5545 (2007); M. S. Kilic, M. Z. Bazant, A. Ajdari, Phys. Rev. E 75, 021502 (2007).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError, check_range
from ..units import (avogadro_per_mol, boltzmann_J_K, elementary_charge_C,
                     vacuum_permittivity_F_m)


def _params(concentration_mol_m3, valence, temperature_K, relative_permittivity):
    c0 = check_range("concentration_mol_m3", concentration_mol_m3, low=0.0, low_inclusive=False)
    z = abs(check_range("valence", valence))
    if z == 0:
        raise InputError(f"valence = {valence!r} is out of range: must be nonzero")
    t = check_range("temperature_K", temperature_K, low=0.0, low_inclusive=False)
    eps = check_range("relative_permittivity", relative_permittivity, low=0.0,
                      low_inclusive=False) * vacuum_permittivity_F_m
    n0 = c0 * avogadro_per_mol
    kt = boltzmann_J_K * t
    return z, n0, kt, eps


def debye_length_m(concentration_mol_m3, *, valence=1, temperature_K=298.15, relative_permittivity=78.5):
    """λ_D = √(εkT / (2 z² e² n₀)) [m] of a symmetric z:z electrolyte (0.1 M, 25 °C: 0.962 nm)."""
    z, n0, kt, eps = _params(concentration_mol_m3, valence, temperature_K, relative_permittivity)
    return float(np.sqrt(eps * kt / (2.0 * z * z * elementary_charge_C**2 * n0)))


def gouy_chapman_potential_V(x_m, potential_V, concentration_mol_m3, *, valence=1, temperature_K=298.15,
                             relative_permittivity=78.5):
    """tanh(zeφ/4kT) = tanh(zeφ₀/4kT)·exp(−x/λ_D): the Gouy–Chapman profile φ(x) [V]."""
    z, n0, kt, eps = _params(concentration_mol_m3, valence, temperature_K, relative_permittivity)
    lam = debye_length_m(concentration_mol_m3, valence=valence, temperature_K=temperature_K,
                         relative_permittivity=relative_permittivity)
    vt = kt / elementary_charge_C
    return 4.0 * vt / z * np.arctanh(np.tanh(z * np.asarray(potential_V) / (4.0 * vt)) * np.exp(-np.asarray(x_m) / lam))


def grahame_charge_C_m2(potential_V, concentration_mol_m3, *, valence=1, temperature_K=298.15,
                        relative_permittivity=78.5):
    """Grahame equation σ = √(8εkTn₀)·sinh(zeφ₀/2kT) [C/m²] (0.1 M, 0.1 V: 12.73 µC/cm²)."""
    z, n0, kt, eps = _params(concentration_mol_m3, valence, temperature_K, relative_permittivity)
    return np.sqrt(8.0 * eps * kt * n0) * np.sinh(z * elementary_charge_C * np.asarray(potential_V) / (2.0 * kt))


def gouy_chapman_capacitance_F_m2(potential_V, concentration_mol_m3, *, valence=1, temperature_K=298.15,
                                  relative_permittivity=78.5):
    """C_GC = (ε/λ_D)·cosh(zeφ₀/2kT) [F/m²] (0.1 M at the pzc: 72.25 µF/cm²)."""
    z, n0, kt, eps = _params(concentration_mol_m3, valence, temperature_K, relative_permittivity)
    lam = debye_length_m(concentration_mol_m3, valence=valence, temperature_K=temperature_K,
                         relative_permittivity=relative_permittivity)
    return eps / lam * np.cosh(z * elementary_charge_C * np.asarray(potential_V) / (2.0 * kt))


def bikerman_capacitance_F_m2(potential_V, concentration_mol_m3, packing_fraction, *, valence=1,
                              temperature_K=298.15, relative_permittivity=78.5):
    """Kornyshev's lattice-gas (Bikerman) capacitance of the diffuse layer [F/m²]:

    C = (ε/λ_D)·cosh(u/2)/(1 + 2γ sinh²(u/2)) · √(2γ sinh²(u/2) / ln(1 + 2γ sinh²(u/2))),
    u = zeφ₀/kT, γ = packing_fraction = 2a³n₀. γ → 0 gives C_GC; camel shape for γ < 1/3
    (γ = 0.1: maximum C/C₀ = 1.494 near u = 3.59), bell shape above.
    """
    z, n0, kt, eps = _params(concentration_mol_m3, valence, temperature_K, relative_permittivity)
    g = check_range("packing_fraction", packing_fraction, low=0.0, high=1.0, high_inclusive=False)
    lam = debye_length_m(concentration_mol_m3, valence=valence, temperature_K=temperature_K,
                         relative_permittivity=relative_permittivity)
    u = z * elementary_charge_C * np.asarray(potential_V, dtype=float) / kt
    s2 = np.sinh(u / 2.0) ** 2
    if g == 0.0:
        return eps / lam * np.cosh(u / 2.0)
    y = 2.0 * g * s2
    ratio = np.where(y > 1e-12, y / np.log1p(np.where(y > 1e-12, y, 1.0)), 1.0 + y / 2.0)
    return eps / lam * np.cosh(u / 2.0) / (1.0 + y) * np.sqrt(ratio)


def stern_series_capacitance_F_m2(diffuse_capacitance_F_m2, stern_capacitance_F_m2):
    """1/C = 1/C_H + 1/C_diffuse (72.25 and 20 µF/cm² in series: 15.66 µF/cm²)."""
    cd = np.asarray(diffuse_capacitance_F_m2, dtype=float)
    ch = check_range("stern_capacitance_F_m2", stern_capacitance_F_m2, low=0.0, low_inclusive=False)
    return 1.0 / (1.0 / ch + 1.0 / cd)
