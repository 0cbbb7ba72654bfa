import ase.units
import numpy as np
import pytest
import scipy.constants as sc

from multiscale import units


def test_constants_come_from_codata():
    assert units.elementary_charge_C == sc.e
    assert units.faraday_C_mol == pytest.approx(sc.e * sc.N_A, rel=1e-12)
    assert units.gas_constant_J_mol_K == pytest.approx(sc.k * sc.N_A, rel=1e-12)


def test_thermal_voltage_room_temperature():
    # kT/e at 298.15 K is 25.693 mV.
    assert units.thermal_voltage_V(298.15) == pytest.approx(0.025693, abs=1e-6)


def test_kT_matches_ase():
    assert units.kT_eV(300.0) == pytest.approx(ase.units.kB * 300.0, rel=1e-6)


def test_diffusivity_conversion_roundtrip():
    # 1 Å^2/ps = 1e-8 m^2/s
    assert units.diffusivity_A2_ps_to_m2_s(1.0) == pytest.approx(1e-8, rel=1e-12)
    x = np.array([0.5, 2.0])
    np.testing.assert_allclose(units.m_to_angstrom(units.angstrom_to_m(x)), x)


def test_debye_length_reference_number():
    # DESIGN.md: 0.1 M, 1:1, 298.15 K, eps_r 78.5 -> 0.962 nm
    n0 = units.mol_m3_to_number_m3(units.molar_to_mol_m3(0.1))
    eps = 78.5 * units.vacuum_permittivity_F_m
    lam = np.sqrt(eps * units.boltzmann_J_K * 298.15 / (2 * units.elementary_charge_C**2 * n0))
    assert lam == pytest.approx(0.962e-9, rel=1e-3)
