"""Marcus and Marcus–Hush–Chidsey (MHC) electron-transfer rates at an electrode.

Dimensionless forms (energies in units of kT, λ the reorganisation energy, η = eη/kT with
η > 0 anodic, i.e. favouring oxidation):

* Marcus:  k_red = A exp(−(λ + η)²/(4λ)),   k_ox = A exp(−(λ − η)²/(4λ)).
* MHC (Chidsey 1991), integrating over the metal's electronic states with Fermi occupation:

      k_red(η) = A ∫ exp(−(x − λ − η)²/(4λ)) / (1 + eˣ) dx,   k_ox(η) = k_red(−η).

* MHC closed form (Zeng, Smith, Bai, Bazant, J. Electroanal. Chem. 735, 77 (2014)):

      k_red/ox ≈ A √(πλ) / (1 + exp(±η)) · erfc[(λ − √(1 + √λ + η²)) / (2√λ)],

  within a few per cent of the integral for λ of 8–16 kT.

Rates carry the prefactor ``prefactor_per_s`` (A, [1/s] or any rate unit).
References: R. A. Marcus, J. Chem. Phys. 24, 966 (1956); C. E. D. Chidsey, Science 251, 919 (1991).
"""
from __future__ import annotations

import numpy as np
from scipy.special import erfc, expit

from ..errors import check_finite_array, check_range
from ..units import kT_eV


def _reduced(overpotential_V, reorganization_energy_eV, temperature_K):
    eta = check_finite_array("overpotential_V", overpotential_V)
    lam = check_range("reorganization_energy_eV", reorganization_energy_eV, low=0.0, low_inclusive=False)
    kt = kT_eV(check_range("temperature_K", temperature_K, low=0.0, low_inclusive=False))
    return eta / kt, lam / kt


def marcus_rate(overpotential_V, reorganization_energy_eV, *, prefactor_per_s=1.0, temperature_K=298.15,
                direction="reduction"):
    """Classical Marcus rate (see the module docstring); ``direction`` 'reduction' or 'oxidation'."""
    eta, lam = _reduced(overpotential_V, reorganization_energy_eV, temperature_K)
    sign = _sign(direction)
    return prefactor_per_s * np.exp(-(lam + sign * eta) ** 2 / (4.0 * lam))


def _sign(direction):
    if direction == "reduction":
        return 1.0
    if direction == "oxidation":
        return -1.0
    from ..errors import InputError

    raise InputError(f"direction = {direction!r} is not one of reduction, oxidation")


def mhc_rate_closed_form(overpotential_V, reorganization_energy_eV, *, prefactor_per_s=1.0, temperature_K=298.15,
                         direction="reduction"):
    """MHC rate from the Zeng–Smith–Bai–Bazant closed form."""
    eta, lam = _reduced(overpotential_V, reorganization_energy_eV, temperature_K)
    eta = _sign(direction) * eta
    return prefactor_per_s * np.sqrt(np.pi * lam) * expit(-eta) * erfc(
        (lam - np.sqrt(1.0 + np.sqrt(lam) + eta * eta)) / (2.0 * np.sqrt(lam)))


def mhc_rate_quadrature(overpotential_V, reorganization_energy_eV, *, prefactor_per_s=1.0, temperature_K=298.15,
                        direction="reduction", n_points=4001):
    """MHC rate by quadrature of the Chidsey integral (composite Simpson over ±(|λ ± η| + 40√λ))."""
    from scipy.integrate import simpson

    eta, lam = _reduced(overpotential_V, reorganization_energy_eV, temperature_K)
    eta = np.atleast_1d(_sign(direction) * eta)
    out = np.empty(eta.shape)
    width = 12.0 * np.sqrt(lam)
    for i, e in enumerate(eta.ravel()):
        centre = lam + e
        x = np.linspace(min(centre, 0.0) - width - 40.0, max(centre, 0.0) + width, n_points)
        y = np.exp(-(x - centre) ** 2 / (4.0 * lam)) * expit(-x)
        out.flat[i] = simpson(y, x=x)
    out = out * prefactor_per_s
    return out.reshape(np.shape(overpotential_V)) if np.ndim(overpotential_V) else float(out[0])
