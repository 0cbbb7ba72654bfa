"""Poisson–Boltzmann double layer against Gouy–Chapman, Grahame, GCS and Bikerman (Kornyshev)."""
import numpy as np
import pytest
from scipy.optimize import brentq

from multiscale.continuum import (PoissonBoltzmann, bikerman_capacitance_F_m2, debye_length_m,
                                  gouy_chapman_capacitance_F_m2, gouy_chapman_potential_V, grahame_charge_C_m2,
                                  stern_series_capacitance_F_m2)
from multiscale.errors import InputError
from multiscale.units import (avogadro_per_mol, boltzmann_J_K, elementary_charge_C,
                              vacuum_permittivity_F_m)

C0 = 100.0  # 0.1 M


def test_reference_numbers_of_the_analytic_formulas():
    assert debye_length_m(C0) == pytest.approx(0.962e-9, rel=1e-3)
    assert grahame_charge_C_m2(0.1, C0) * 100 == pytest.approx(12.73, abs=0.01)
    c_gc = gouy_chapman_capacitance_F_m2(0.0, C0) * 100
    assert c_gc == pytest.approx(72.25, abs=0.01)
    assert stern_series_capacitance_F_m2(c_gc / 100, 0.2) * 100 == pytest.approx(15.66, abs=0.01)


def test_gouy_chapman_profile_charge_and_capacitance():
    pb = PoissonBoltzmann(C0)
    r = pb.solve(0.1)
    exact = gouy_chapman_potential_V(r.x_m, 0.1, C0)
    assert np.max(np.abs(r.potential_V - exact)) < 1e-7
    assert r.surface_charge_C_m2 == pytest.approx(grahame_charge_C_m2(0.1, C0), rel=1e-5)
    phi = np.linspace(-0.5, 0.5, 21)
    c = pb.differential_capacitance(phi)
    np.testing.assert_allclose(c, gouy_chapman_capacitance_F_m2(phi, C0), rtol=1e-4)
    # counter-ions accumulate, co-ions are depleted (z = +1 first)
    assert r.concentration_mol_m3[0, 0] < C0 < r.concentration_mol_m3[1, 0]


def test_capacitance_is_derivative_of_charge():
    pb = PoissonBoltzmann(C0, packing_fraction=0.05)
    h = 1e-4
    sp, sm = pb.surface_charge([0.2 + h, 0.2 - h])
    assert pb.differential_capacitance([0.2])[0] == pytest.approx((sp - sm) / (2 * h), rel=1e-6)


def test_gcs_series_capacitance():
    ch = 0.2
    pb = PoissonBoltzmann(C0, stern_capacitance_F_m2=ch)
    assert pb.differential_capacitance([0.0])[0] * 100 == pytest.approx(15.66, abs=0.01)
    for e in (-0.4, 0.25):
        phi_d = brentq(lambda p: p + grahame_charge_C_m2(p, C0) / ch - e, -1, 1, xtol=1e-14)
        exact = stern_series_capacitance_F_m2(gouy_chapman_capacitance_F_m2(phi_d, C0), ch)
        r = pb.solve(e)
        assert r.diffuse_potential_V == pytest.approx(phi_d, rel=1e-5)
        assert r.capacitance_F_m2 == pytest.approx(exact, rel=1e-4)


@pytest.mark.parametrize("nu", [0.01, 0.1, 0.5])
def test_bikerman_matches_kornyshev(nu):
    pb = PoissonBoltzmann(C0, packing_fraction=nu)
    phi = np.linspace(-0.5, 0.5, 11)
    np.testing.assert_allclose(pb.differential_capacitance(phi), bikerman_capacitance_F_m2(phi, C0, nu), rtol=1e-4)


def test_bikerman_camel_and_bell_shapes():
    vt = boltzmann_J_K * 298.15 / elementary_charge_C
    u = np.linspace(0, 8, 161)
    c0 = gouy_chapman_capacitance_F_m2(0.0, C0)
    camel = PoissonBoltzmann(C0, packing_fraction=0.1).differential_capacitance(u * vt) / c0
    k = int(np.argmax(camel))
    assert camel[k] == pytest.approx(1.494, abs=2e-3)
    assert u[k] == pytest.approx(3.59, abs=0.06)
    bell = PoissonBoltzmann(C0, packing_fraction=0.5).differential_capacitance(u * vt)
    assert np.argmax(bell) == 0 and np.all(np.diff(bell) < 0)


def test_small_packing_fraction_tends_to_gouy_chapman():
    phi = np.array([-0.3, 0.0, 0.2])
    c = PoissonBoltzmann(C0, packing_fraction=1e-12).differential_capacitance(phi)
    np.testing.assert_allclose(c, gouy_chapman_capacitance_F_m2(phi, C0), rtol=1e-6)


@pytest.mark.parametrize("phi", [1.0, -1.0])
def test_one_volt_converges(phi):
    for nu in (0.0, 0.2):
        r = PoissonBoltzmann(C0, packing_fraction=nu).solve(phi)
        assert r.capacitance_F_m2 == pytest.approx(bikerman_capacitance_F_m2(phi, C0, nu), rel=1e-4)


def test_asymmetric_electrolyte_first_integral():
    # 2:1 salt (e.g. CaCl2): σ² = 2εkT N_A Σ c_i (exp(−z_i u) − 1)
    c = np.array([50.0, 100.0])
    z = np.array([2.0, -1.0])
    pb = PoissonBoltzmann(c, valence=z, relative_permittivity=78.5)
    eps = 78.5 * vacuum_permittivity_F_m
    kt = boltzmann_J_K * 298.15
    for phi in (-0.2, 0.15):
        u = elementary_charge_C * phi / kt
        sigma = np.sign(phi) * np.sqrt(2 * eps * kt * avogadro_per_mol * np.sum(c * np.expm1(-z * u)))
        assert pb.solve(phi).surface_charge_C_m2 == pytest.approx(sigma, rel=1e-5)


def test_bad_input():
    with pytest.raises(InputError, match="concentration_mol_m3"):
        PoissonBoltzmann(-1.0)
    with pytest.raises(InputError, match="electroneutral"):
        PoissonBoltzmann([100.0, 100.0], valence=[2, -1])
    with pytest.raises(InputError, match="packing_fraction"):
        PoissonBoltzmann(100.0, packing_fraction=1.0)
    with pytest.raises(InputError, match="valence"):
        PoissonBoltzmann([100.0, 100.0], valence=[1, -1, 1])


def test_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    ax = PoissonBoltzmann(C0).solve(0.1).plot()
    ax.figure.savefig(tmp_path / "pb.png")
