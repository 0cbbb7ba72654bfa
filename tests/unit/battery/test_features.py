"""Feature vector of the corrector: the pinned interface, scaling and input checks."""
import numpy as np
import pytest

from multiscale.battery.features import FEATURE_NAMES, N_FEATURES, SPME_STATE_VARIABLES, build_features
from multiscale.errors import InputError


def _states(n=4, current=5.0):
    s = {k: np.full(n, 0.01) for k in SPME_STATE_VARIABLES}
    s["Current [A]"] = np.full(n, current)
    s["Voltage [V]"] = np.full(n, 3.7)
    s["X-averaged negative particle surface stoichiometry"] = np.full(n, 0.6)
    s["Average negative particle stoichiometry"] = np.full(n, 0.5)
    return s


def test_interface_is_the_pinned_variable_list():
    # The ESTIMATOR engineer produces exactly these PyBaMM names; a change breaks them.
    assert SPME_STATE_VARIABLES[:2] == ("Current [A]", "Voltage [V]")
    assert len(SPME_STATE_VARIABLES) == 10
    assert len(FEATURE_NAMES) == N_FEATURES


def test_scaling_c_rate_gradient_and_temperature():
    f = build_features(_states(current=10.0), 298.15, 5.0)
    assert f.shape == (4, N_FEATURES)
    assert f[0, 0] == pytest.approx(2.0)  # 10 A on 5 A h = 2C, sign kept (discharge > 0)
    assert f[0, 1] == pytest.approx(0.0)  # 3.7 V is the voltage origin
    assert f[0, 6] == pytest.approx(1.0)  # 10·(0.6 − 0.5)
    assert f[0, 12] == pytest.approx(0.0) and f[0, 13] == pytest.approx(0.0)
    g = build_features(_states(current=-10.0), 318.15, 5.0)
    assert g[0, 0] == pytest.approx(-2.0)
    assert g[0, 12] == pytest.approx(1.0)
    assert g[0, 13] < 0  # hotter: Arrhenius argument 10·(T_ref/T − 1) negative


def test_temperature_may_be_per_row():
    f = build_features(_states(n=3), np.array([273.15, 298.15, 318.15]), 5.0)
    assert np.all(np.diff(f[:, 12]) > 0)


def test_bad_inputs_raise():
    s = _states()
    with pytest.raises(InputError, match="missing"):
        build_features({k: v for k, v in s.items() if k != "Voltage [V]"}, 298.15, 5.0)
    s["Current [A]"] = np.array([1.0, np.nan, 1.0, 1.0])
    with pytest.raises(InputError, match="non-finite"):
        build_features(s, 298.15, 5.0)
    with pytest.raises(InputError, match="ambient_temperature_K"):
        build_features(_states(), -3.0, 5.0)
    with pytest.raises(InputError, match="nominal_capacity_Ah"):
        build_features(_states(), 298.15, 0.0)
    bad = _states()
    bad["Voltage [V]"] = np.ones(3)
    with pytest.raises(InputError, match="expected 4"):
        build_features(bad, 298.15, 5.0)
