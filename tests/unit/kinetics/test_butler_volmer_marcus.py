"""Butler–Volmer / Tafel and Marcus / Marcus–Hush–Chidsey rates."""
import numpy as np
import pytest

from multiscale.errors import InputError
from multiscale.kinetics import (butler_volmer_current_A_m2, fit_tafel, marcus_rate, mhc_rate_closed_form,
                                 mhc_rate_quadrature, tafel_slope_V_per_decade)
from multiscale.units import kT_eV

KT = kT_eV(298.15)


def test_tafel_slope_reference_value():
    assert tafel_slope_V_per_decade(0.5, temperature_K=298.15) * 1e3 == pytest.approx(118.3, abs=0.05)


def test_butler_volmer_tafel_branches_and_linear_regime():
    eta = np.linspace(0.15, 0.4, 20)
    i = butler_volmer_current_A_m2(eta, 1.0, alpha_anodic=0.5)
    b, i0 = fit_tafel(eta, i)
    assert b == pytest.approx(tafel_slope_V_per_decade(0.5), rel=2e-3)
    assert i0 == pytest.approx(1.0, rel=2e-2)
    b_c, _ = fit_tafel(-eta, butler_volmer_current_A_m2(-eta, 1.0, alpha_anodic=0.3))
    assert b_c == pytest.approx(-tafel_slope_V_per_decade(0.7), rel=2e-3)
    # linear regime: i ≈ i0 f η (charge-transfer resistance R_ct = kT/(e i0))
    small = 1e-5
    assert butler_volmer_current_A_m2(small, 2.0) == pytest.approx(2.0 * small / KT, rel=1e-4)
    assert butler_volmer_current_A_m2(0.0, 2.0) == 0.0


def test_mhc_closed_form_within_five_percent_of_quadrature():
    eta = np.linspace(-20, 20, 41) * KT
    for lam in (8, 12, 16):
        for direction in ("reduction", "oxidation"):
            closed = mhc_rate_closed_form(eta, lam * KT, direction=direction)
            quad = mhc_rate_quadrature(eta, lam * KT, direction=direction)
            assert np.max(np.abs(closed / quad - 1)) < 0.05


def test_mhc_detailed_balance_and_marcus_limit():
    lam = 12 * KT
    eta = np.array([-0.1, 0.05, 0.2])
    kr = mhc_rate_quadrature(eta, lam, direction="reduction")
    ko = mhc_rate_quadrature(eta, lam, direction="oxidation")
    np.testing.assert_allclose(ko / kr, np.exp(eta / KT), rtol=1e-6)
    # Marcus: symmetric parabola in log k, activationless at η = −λ (reduction)
    assert marcus_rate(-lam, lam) == pytest.approx(1.0)
    km = marcus_rate(eta, lam)
    np.testing.assert_allclose(np.log(km), -(lam + eta) ** 2 / (4 * lam * KT))
    # MHC saturates at large driving force where Marcus turns over (inverted region)
    big = -3 * lam
    assert marcus_rate(big, lam) < 1e-3
    assert mhc_rate_quadrature(big, lam) == pytest.approx(np.sqrt(4 * np.pi * lam / KT), rel=1e-3)


def test_bad_input():
    with pytest.raises(InputError, match="exchange_current_density_A_m2"):
        butler_volmer_current_A_m2(0.1, -1.0)
    with pytest.raises(InputError, match="reorganization_energy_eV"):
        marcus_rate(0.1, 0.0)
    with pytest.raises(InputError, match="direction"):
        mhc_rate_closed_form(0.1, 0.5, direction="sideways")
