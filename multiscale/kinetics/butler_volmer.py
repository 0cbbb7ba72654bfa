"""Butler–Volmer kinetics and Tafel analysis.

    i = i₀ [ exp(α_a n f η) − exp(−α_c n f η) ],   f = e/kT,   α_c = 1 − α_a by default,

η = E − E_eq [V] the overpotential, i [A/m²] with anodic (oxidation) current positive. The
Tafel slope of the anodic branch is b = ln(10) kT/(α_a n e) [V/decade] (α = 0.5, n = 1,
298.15 K: 118.3 mV/dec). Reference: Bard & Faulkner, *Electrochemical Methods*, 2nd ed., §3.3.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError, check_finite_array, check_range
from ..units import thermal_voltage_V


def butler_volmer_current_A_m2(overpotential_V, exchange_current_density_A_m2, *, alpha_anodic=0.5,
                               alpha_cathodic=None, n_electrons=1, temperature_K=298.15):
    """Current density i(η) [A/m²] (anodic positive); see the module docstring."""
    eta = check_finite_array("overpotential_V", overpotential_V)
    i0 = check_range("exchange_current_density_A_m2", exchange_current_density_A_m2, low=0.0)
    aa = check_range("alpha_anodic", alpha_anodic, low=0.0, high=1.0)
    ac = 1.0 - aa if alpha_cathodic is None else check_range("alpha_cathodic", alpha_cathodic, low=0.0, high=1.0)
    n = check_range("n_electrons", n_electrons, low=0.0, low_inclusive=False)
    f = n / thermal_voltage_V(check_range("temperature_K", temperature_K, low=0.0, low_inclusive=False))
    return i0 * (np.exp(aa * f * eta) - np.exp(-ac * f * eta))


def tafel_slope_V_per_decade(alpha, *, n_electrons=1, temperature_K=298.15) -> float:
    """b = ln(10) kT/(α n e) [V/decade]."""
    a = check_range("alpha", alpha, low=0.0, high=1.0, low_inclusive=False)
    n = check_range("n_electrons", n_electrons, low=0.0, low_inclusive=False)
    t = check_range("temperature_K", temperature_K, low=0.0, low_inclusive=False)
    return float(np.log(10.0) * thermal_voltage_V(t) / (a * n))


def fit_tafel(overpotential_V, current_A_m2):
    """Least-squares Tafel line log10|i| = log10 i₀ + η/b on one branch (all η of one sign, |η| ≫ kT/e).

    Returns (slope_V_per_decade b (> 0 anodic, < 0 cathodic), exchange_current_density_A_m2).
    """
    eta = check_finite_array("overpotential_V", overpotential_V).ravel()
    i = check_finite_array("current_A_m2", current_A_m2).ravel()
    if eta.shape != i.shape or eta.size < 2:
        raise InputError("overpotential_V and current_A_m2 need the same length, at least 2")
    if np.any(i == 0) or not (np.all(eta > 0) or np.all(eta < 0)):
        raise InputError("fit_tafel needs one branch: all overpotential_V of one sign and nonzero current_A_m2")
    slope, intercept = np.polyfit(eta, np.log10(np.abs(i)), 1)
    return float(1.0 / slope), float(10.0 ** intercept)
