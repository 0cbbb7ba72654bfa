"""Compiled one-cell step (numba) against the numpy path: same voltages, states and flags."""
import numpy as np
import pytest

pybamm = pytest.importorskip("pybamm")

from multiscale.battery import estimator_kernel  # noqa: E402
from multiscale.battery.corrector import ResidualCorrector  # noqa: E402
from multiscale.battery.envelope import Envelope  # noqa: E402
from multiscale.battery.estimator import Estimator  # noqa: E402
from multiscale.battery.hybrid import HybridSPMe  # noqa: E402

needs_numba = pytest.mark.skipif(not estimator_kernel.AVAILABLE, reason="numba is not available")


@pytest.fixture(scope="module")
def hybrid():
    corr = ResidualCorrector(hidden=(16, 16), n_members=3).init_weights(seed=11, scale=0.3)
    return HybridSPMe(corr, Envelope())


def _dynamic_profile(seed, n):
    """Currents with rests and sign changes; dt from 0.05 s to 40 s (split sub-steps above 5 s).

    Long steps only at low current: 2C held over 40 s explicit steps depletes the electrolyte
    (status bit 8), where the model itself amplifies round-off (see the out-of-domain test)."""
    rng = np.random.default_rng(seed)
    cur, dts = [], []
    while len(cur) < n:
        k = int(rng.integers(3, 30))
        level = float(rng.choice([0.0, rng.uniform(-6.0, 12.0), rng.uniform(-2.0, 2.0)]))
        choices = [1.0, 0.5, 2.0, 7.5, 12.3, 40.0] if abs(level) <= 2.0 else [1.0, 1.0, 0.5, 0.05, 2.0, 3.7]
        cur += [level] * k
        dts += [float(rng.choice(choices))] * k
    return cur[:n], dts[:n]


def _pair(model, **kw):
    fast = Estimator(model, 1, compiled=True, **kw)
    ref = Estimator(model, 1, compiled=False, **kw)
    return fast, ref


def _assert_same_state(a, b):
    sa, sb = a.state, b.state
    for name in ("voltage_V", "spme_voltage_V", "correction_V", "correction_spread_V"):
        np.testing.assert_allclose(getattr(sa, name), getattr(sb, name), rtol=0, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(sa.soc, sb.soc, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sa.soc_variance, sb.soc_variance, rtol=1e-10, atol=1e-16)
    np.testing.assert_array_equal(sa.status, sb.status)
    np.testing.assert_array_equal(sa.out_of_envelope, sb.out_of_envelope)
    np.testing.assert_allclose(a.spme._X, b.spme._X, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.spme._c, b.spme._c, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(a.memory, b.memory, rtol=1e-10, atol=1e-13)


@needs_numba
@pytest.mark.parametrize("kw", [
    {"initial_soc": 0.8},
    {"initial_soc": 0.6, "current_hold": "zero", "capacity_scale": 1.07, "resistance_scale": 0.9},
    {"initial_soc": 0.3, "initial_current_A": 2.5, "ambient_temperature_K": 283.15},
])
def test_kernel_equals_numpy_path_on_a_dynamic_profile(hybrid, kw):
    fast, ref = _pair(hybrid, **kw)
    assert fast._kernel1 is not None and ref._kernel1 is None
    _assert_same_state(fast, ref)          # the warm-up on copies changed nothing
    cur, dts = _dynamic_profile(5, 500)
    dv = []
    for k, (i, dt) in enumerate(zip(cur, dts)):
        if k == 250:                       # numpy scalars go through the validated path
            i, dt = np.float64(i), np.float64(dt)
        va, vb = fast.step(i, dt), ref.step(i, dt)
        assert isinstance(va, float)
        assert fast.state.status[0] == 0          # inside every limit: a like-for-like comparison
        dv.append(va - vb)
        if k % 50 == 0:
            _assert_same_state(fast, ref)
    assert np.max(np.abs(dv)) <= 1e-9
    _assert_same_state(fast, ref)


@needs_numba
def test_kernel_interleaves_with_filter_updates_and_vector_dt(hybrid):
    """Kalman updates (numpy) and array dt between compiled steps: the states stay identical."""
    fast, ref = _pair(hybrid, initial_soc=0.5)
    cur, dts = _dynamic_profile(8, 200)
    for k, (i, dt) in enumerate(zip(cur, dts)):
        if k % 17 == 5:
            va, vb = fast.step(i, dt, measured_voltage_V=3.7), ref.step(i, dt, measured_voltage_V=3.7)
        elif k % 23 == 7:
            va, vb = fast.step(i, np.array([dt])), ref.step(i, np.array([dt]))
        else:
            va, vb = fast.step(i, dt), ref.step(i, dt)
        assert va == pytest.approx(vb, abs=1e-9)
    _assert_same_state(fast, ref)
    np.testing.assert_allclose(fast.filter.P, ref.filter.P, rtol=1e-9, atol=1e-15)


@needs_numba
def test_kernel_plain_spme_and_flags_out_of_domain():
    """Without a corrector; deep discharge sets the same status bits (SOC, stoichiometry,
    voltage, depleted electrolyte) in both paths, never NaN. (Further on, the depleted model
    itself diverges and round-off is amplified without bound, so the comparison stops here.)"""
    fast, ref = _pair(None, initial_soc=0.08)
    assert fast._kernel1 is not None
    for _ in range(6):
        va, vb = fast.step(15.0, 20.0), ref.step(15.0, 20.0)
        assert np.isfinite(va) and va == pytest.approx(vb, abs=1e-9)
    assert fast.state.status[0] == 15
    _assert_same_state(fast, ref)


def test_numpy_fallback_when_not_compiled(hybrid):
    est = Estimator(hybrid, 1, initial_soc=0.7, compiled=False)
    assert est._kernel1 is None
    assert isinstance(est.step(1.0, 1.0), float)
    pack = Estimator(hybrid, 3, initial_soc=0.7)
    assert pack._kernel1 is None
