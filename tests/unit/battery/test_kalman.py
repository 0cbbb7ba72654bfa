"""Extended Kalman filter on the hybrid SPMe: convergence from a wrong SOC, consistency, packs."""
import numpy as np
import pytest

pybamm = pytest.importorskip("pybamm")

from multiscale.battery.corrector import ResidualCorrector  # noqa: E402
from multiscale.battery.envelope import Envelope  # noqa: E402
from multiscale.battery.estimator import Estimator  # noqa: E402
from multiscale.battery.hybrid import HybridSPMe  # noqa: E402
from multiscale.errors import InputError  # noqa: E402


@pytest.fixture(scope="module")
def hybrid():
    corr = ResidualCorrector(hidden=(16, 16), n_members=3).init_weights(seed=11, scale=0.3)
    return HybridSPMe(corr, Envelope())


def _drive(seed, n):
    """Drive-like current [A]: accelerations, cruising, regenerative braking, stops."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        out += [rng.choice([rng.uniform(5, 12), rng.uniform(1, 4), rng.uniform(-4, -1), 0.0])] * int(rng.integers(3, 25))
    return np.array(out[:n])


def _truth_run(hybrid, current, soc0, n_cells=1):
    truth = Estimator(hybrid, n_cells, initial_soc=soc0)
    v, soc = [], []
    for i in current:
        v.append(truth.step(i, 1.0))
        soc.append(truth.state.soc.copy())
    return np.array(v), np.array(soc)


def test_soc_converges_from_20_percent_error_with_noise_and_offset(hybrid):
    rng = np.random.default_rng(0)
    current = _drive(1, 1500)
    v_true, soc_true = _truth_run(hybrid, current, 0.85)
    est = Estimator(hybrid, 1, initial_soc=0.65, initial_soc_std=0.2, voltage_noise_V=0.002)
    assert abs(est.state.soc[0] - 0.85) == pytest.approx(0.2)
    err, var = [], []
    for k, i in enumerate(current):
        est.step(i + 0.05, 1.0, measured_voltage_V=v_true[k] + rng.normal(0.0, 0.002))
        err.append(est.state.soc[0] - soc_true[k, 0])
        var.append(est.state.soc_variance[0])
    err = np.abs(np.array(err))
    assert np.max(err[600:]) < 0.02          # within 2 % SOC after 10 min and stays there
    assert var[-1] < 0.2 ** 2 / 100          # the filter has learnt
    assert np.all(np.isfinite(var)) and min(var) > 0


def test_filter_is_vectorised_over_cells(hybrid):
    rng = np.random.default_rng(3)
    current = _drive(2, 200)
    v_true, _ = _truth_run(hybrid, current, np.array([0.8, 0.5]), n_cells=2)
    noise = rng.normal(0.0, 0.001, v_true.shape)
    pack = Estimator(hybrid, 2, initial_soc=[0.6, 0.7])
    for k, i in enumerate(current):
        pack.step(i, 1.0, measured_voltage_V=v_true[k] + noise[k])
    for c, s0 in enumerate([0.6, 0.7]):
        one = Estimator(hybrid, 1, initial_soc=s0)
        for k, i in enumerate(current):
            one.step(i, 1.0, measured_voltage_V=v_true[k, c] + noise[k, c])
        assert pack.state.soc[c] == pytest.approx(one.state.soc[0], abs=1e-10)
        assert pack.state.soc_variance[c] == pytest.approx(one.state.soc_variance[0], rel=1e-8)


def test_covariance_grows_open_loop_and_shrinks_with_measurements(hybrid):
    est = Estimator(hybrid, 1, initial_soc=0.5, initial_soc_std=0.05, current_offset_std_A=0.2)
    p0 = est.state.soc_variance[0]
    for _ in range(100):
        est.step(5.0, 10.0)
    p_open = est.state.soc_variance[0]
    assert p_open > p0                      # the unknown current offset accumulates
    v = est.state.voltage_V[0]
    for _ in range(50):
        est.step(5.0, 1.0, measured_voltage_V=v)
    assert est.state.soc_variance[0] < p_open
    P = est.filter.P[0]
    assert np.all(np.linalg.eigvalsh(0.5 * (P + P.T)) > -1e-15)


@pytest.mark.parametrize("kw", [{"voltage_noise_V": 0.0}, {"initial_soc_std": -0.1}, {"current_offset_std_A": np.nan}])
def test_bad_filter_settings_raise(hybrid, kw):
    with pytest.raises(InputError):
        Estimator(hybrid, 1, **kw)


@pytest.mark.slow
def test_soc_filter_against_dfn_truth(hybrid):
    """The benchmark's check with the PyBaMM DFN as truth (slow: a DFN solve)."""
    from multiscale.battery.datagen import solve_pybamm

    current = _drive(5, 1200)
    t = np.arange(current.size, dtype=float)
    dfn = solve_pybamm("DFN", t, current, ambient_temperature_K=298.15, initial_soc=0.7,
                       variables=("Voltage [V]", "Average negative particle stoichiometry"))
    assert dfn["Time [s]"].size == t.size
    est = Estimator(hybrid, 1, initial_soc=0.5)
    x0, x100, _, _ = est.spme.tables.stoichiometry_limits
    soc_true = (dfn["Average negative particle stoichiometry"] - x0) / (x100 - x0)
    rng = np.random.default_rng(9)
    err = []
    for k in range(1, dfn["Time [s]"].size):
        est.step(current[k], 1.0, measured_voltage_V=dfn["Voltage [V]"][k] + rng.normal(0, 0.002))
        err.append(abs(est.state.soc[0] - soc_true[k]))
    assert max(err[600:]) < 0.02
