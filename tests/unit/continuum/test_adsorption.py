"""Self-consistent Frumkin ⇄ dipole ⇄ GCS interface model."""
import numpy as np
import pytest

from multiscale.continuum import PoissonBoltzmann
from multiscale.continuum.adsorption import (DIPOLE_POTENTIAL_V, AdsorptionInterface, StarkAdsorptionModel,
                                             langmuir_coverage)
from multiscale.errors import ConvergenceError, InputError
from multiscale.kinetics import fit_stark
from multiscale.units import kT_eV, vacuum_permittivity_F_m


@pytest.fixture(scope="module")
def gcs():
    return PoissonBoltzmann(100.0, stern_capacitance_F_m2=0.2)


def test_dipole_constant_is_180_95():
    assert DIPOLE_POTENTIAL_V == pytest.approx(180.95, abs=0.01)


def test_langmuir_limit_without_interactions(gcs):
    iface = AdsorptionInterface(StarkAdsorptionModel(-0.08), site_area_A2=9.0, double_layer=gcs)
    conc = np.array([1.0, 30.0, 1000.0])
    r = iface.solve([-0.2, 0.0, 0.3], conc)
    expected = langmuir_coverage(conc, -0.08)
    np.testing.assert_allclose(r.coverage, np.repeat(expected[:, None], 3, axis=1), rtol=1e-10)
    assert np.all(r.work_function_shift_eV == 0.0)
    # θ/(1−θ) = K c with K = exp(−E_ads/kT)/c°
    th = expected[1]
    assert th / (1 - th) == pytest.approx(30.0 / 1000.0 * np.exp(0.08 / kT_eV(298.15)), rel=1e-12)
    # without dipoles the charge and capacitance are those of the bare GCS layer
    np.testing.assert_allclose(r.surface_charge_C_m2[0], gcs.surface_charge([-0.2, 0.0, 0.3]), rtol=1e-12)
    np.testing.assert_allclose(r.capacitance_F_m2[0], gcs.differential_capacitance([-0.2, 0.0, 0.3]), rtol=1e-5)


def test_self_consistent_state_satisfies_all_equations(gcs):
    field = np.linspace(-0.3, 0.3, 7)
    stark = fit_stark(field, -0.1 - 0.03 * field - 0.5 * 0.05 * field**2)
    model = StarkAdsorptionModel.from_stark_fit(stark, interaction_eV=0.05)
    iface = AdsorptionInterface(model, site_area_A2=10.0, double_layer=gcs, helmholtz_permittivity=6.0)
    e = np.array([-0.3, 0.0, 0.3])
    r = iface.solve(e, 100.0)
    for j, ej in enumerate(e):
        th, f = r.coverage[j], r.field_V_per_A[j]
        dg, mu = model(th, f)
        assert th / (1 - th) == pytest.approx(0.1 * np.exp(-dg / kT_eV(298.15)), rel=1e-8)   # Frumkin
        chi = 180.95 * th * mu / 10.0
        assert r.work_function_shift_eV[j] == pytest.approx(-chi, rel=1e-4)                  # ΔΦ = −eθμ/(ε₀A)
        sigma = gcs.solve(ej + r.dipole_potential_V[j]).surface_charge_C_m2
        assert r.surface_charge_C_m2[j] == pytest.approx(sigma, rel=1e-8)                    # GCS at E + χ
        assert f == pytest.approx(sigma / (vacuum_permittivity_F_m * 6.0) * 1e-10, rel=1e-8)
    # a positive field along +z stabilises a dipole along +z: coverage rises with E
    assert np.all(np.diff(r.coverage) > 0)
    # the dipole layer lowers the work function and shifts the pzc: σ(E = 0) ≠ 0
    assert r.surface_charge_C_m2[1] != 0.0


def test_non_convergence_raises_with_a_diagnosis(gcs):
    # strong repulsion: the undamped map has slope −θ(1−θ)g/kT ≈ −5 at θ* = ½ and oscillates
    model = StarkAdsorptionModel(-0.25, dipole_eA=0.01, interaction_eV=0.5)
    plain = AdsorptionInterface(model, site_area_A2=10.0, double_layer=gcs, damping=1.0, anderson_depth=0,
                                max_iterations=40)
    with pytest.raises(ConvergenceError, match="did not converge at E = 0 V.*oscillates.*lower damping"):
        plain.solve([0.0], 1000.0)
    # the default damped Anderson iteration converges on the same problem
    r = AdsorptionInterface(model, site_area_A2=10.0, double_layer=gcs).solve([0.0], 1000.0)
    assert r.coverage[0] == pytest.approx(0.5, abs=0.02)


def test_bad_input(gcs):
    with pytest.raises(InputError, match="site_area_A2"):
        AdsorptionInterface(StarkAdsorptionModel(-0.1), site_area_A2=0.0, double_layer=gcs)
    with pytest.raises(InputError, match="model"):
        AdsorptionInterface(3.0, site_area_A2=10.0, double_layer=gcs)
    iface = AdsorptionInterface(StarkAdsorptionModel(-0.1), site_area_A2=10.0, double_layer=gcs)
    with pytest.raises(InputError, match="concentration_mol_m3"):
        iface.solve([0.0], -1.0)


def test_plot(gcs, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    iface = AdsorptionInterface(StarkAdsorptionModel(-0.1, dipole_eA=0.02), site_area_A2=10.0, double_layer=gcs)
    axes = iface.solve(np.linspace(-0.2, 0.2, 3), 100.0).plot()
    axes[0].figure.savefig(tmp_path / "ads.png")
