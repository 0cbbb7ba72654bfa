"""Units and physical constants — the one place where numbers with units are defined.

Atomistic code works in ASE units (eV, Å, e, fs via :data:`fs`); continuum and battery code
in SI. Convert only at the boundary between the two, with the helpers below. All constants
come from :mod:`scipy.constants` (CODATA) or :mod:`ase.units`; none is retyped.
"""
from __future__ import annotations

import scipy.constants as _sc

# --- SI constants (CODATA through scipy) ---------------------------------------------------
elementary_charge_C: float = _sc.e
boltzmann_J_K: float = _sc.k
avogadro_per_mol: float = _sc.N_A
faraday_C_mol: float = _sc.physical_constants["Faraday constant"][0]
gas_constant_J_mol_K: float = _sc.R
vacuum_permittivity_F_m: float = _sc.epsilon_0
planck_J_s: float = _sc.h

# --- length, time, energy conversions ------------------------------------------------------
angstrom_m: float = _sc.angstrom
nm_m: float = _sc.nano
ps_s: float = _sc.pico
fs_s: float = _sc.femto
eV_J: float = _sc.electron_volt


def angstrom_to_m(x):
    """Å → m."""
    return x * angstrom_m


def m_to_angstrom(x):
    """m → Å."""
    return x / angstrom_m


def ps_to_s(t):
    """ps → s."""
    return t * ps_s


def diffusivity_A2_ps_to_m2_s(d):
    """Å²/ps → m²/s (1 Å²/ps = 1e-8 m²/s)."""
    return d * angstrom_m**2 / ps_s


def field_V_per_A_to_V_per_m(f):
    """V/Å → V/m."""
    return f / angstrom_m


def molar_to_mol_m3(c):
    """mol/L → mol/m³."""
    return c * 1e3


def mol_m3_to_number_m3(c):
    """mol/m³ → particles/m³."""
    return c * avogadro_per_mol


def thermal_voltage_V(temperature_K: float) -> float:
    """kT/e [V] at ``temperature_K`` (25.69 mV at 298.15 K)."""
    return boltzmann_J_K * temperature_K / elementary_charge_C


def kT_eV(temperature_K: float) -> float:
    """kT [eV]."""
    return boltzmann_J_K * temperature_K / eV_J


def celsius_to_kelvin(t_C):
    return t_C + _sc.zero_Celsius


def capacitance_F_m2_to_uF_cm2(c):
    """F/m² → µF/cm² (1 F/m² = 100 µF/cm²)."""
    return c * 100.0


def charge_C_m2_to_uC_cm2(q):
    """C/m² → µC/cm²."""
    return q * 100.0


# --- ASE units (imported lazily: ase is a heavy import) ------------------------------------
def ase_units():
    """Return :mod:`ase.units` (eV, Å, fs, kB, ...)."""
    import ase.units

    return ase.units
