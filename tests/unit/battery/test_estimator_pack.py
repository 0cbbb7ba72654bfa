"""Compiled pack step (numba elementwise kernels + BLAS products) against the numpy pack path."""
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
    """The shipped architecture (5 members, [64, 64] tanh) with small random weights."""
    corr = ResidualCorrector().init_weights(seed=3, scale=0.3)
    return HybridSPMe(corr, Envelope())


def _dynamic_profile(seed, n, n_cells):
    """Pulses with rests and sign changes, per-cell spread; dt 0.05 s … 12.5 s (sub-steps > 5 s)."""
    rng = np.random.default_rng(seed)
    cur, dts = [], []
    while len(cur) < n:
        k = int(rng.integers(3, 30))
        level = float(rng.choice([0.0, rng.uniform(-6.0, 12.0), rng.uniform(-2.0, 2.0)]))
        choices = [1.0, 0.5, 2.0, 7.5, 12.5] if abs(level) <= 2.0 else [1.0, 1.0, 0.5, 0.05, 2.0]
        cur += [level] * k
        dts += [float(rng.choice(choices))] * k
    spread = rng.normal(1.0, 0.02, n_cells)
    return np.array(cur[:n])[:, None] * spread[None, :], dts[:n]


def _pair(model, n, **kw):
    rng = np.random.default_rng(5)
    kw = {"initial_soc": rng.uniform(0.3, 0.9, n), "capacity_scale": rng.normal(1.0, 0.02, n),
          "resistance_scale": rng.normal(1.0, 0.05, n), **kw}
    return Estimator(model, n, compiled=True, **kw), Estimator(model, n, compiled=False, **kw)


def _assert_same_state(a, b, loose=1.0):
    """``loose`` > 1 after Kalman updates: the filter's finite-difference Jacobian divides the
    float32 readout round-off (~5 nV in both paths, differently rounded) by ΔSOC = 1e-4."""
    sa, sb = a.state, b.state
    for name in ("voltage_V", "spme_voltage_V", "correction_V", "correction_spread_V"):
        np.testing.assert_allclose(getattr(sa, name), getattr(sb, name), rtol=0, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(sa.soc, sb.soc, rtol=0, atol=1e-12 * loose)
    np.testing.assert_allclose(a.filter.P, b.filter.P, rtol=1e-9 * loose, atol=1e-15 * loose)
    # the offset's Jacobian is a difference over ΔI = 1 mA (ΔSOC = 1e-4 for the SOC): more round-off [A]
    np.testing.assert_allclose(a.filter.offset_A, b.filter.offset_A, rtol=0, atol=1e-10 * loose)
    np.testing.assert_array_equal(sa.status, sb.status)
    np.testing.assert_allclose(a.spme._X, b.spme._X, rtol=1e-9 * loose, atol=1e-12 * loose)
    np.testing.assert_allclose(a.spme._c, b.spme._c, rtol=1e-10 * loose, atol=1e-9 * loose)
    np.testing.assert_allclose(a.memory, b.memory, rtol=1e-9 * loose, atol=1e-12 * loose)


@needs_numba
@pytest.mark.parametrize("kw", [{}, {"current_hold": "zero"}])
def test_compiled_pack_equals_numpy_pack_over_500_steps(hybrid, kw):
    """500 steps of a dynamic profile: voltages within 1 µV (float32 readout round-off), states to round-off."""
    n = 64
    fast, ref = _pair(hybrid, n, **kw)
    assert fast.spme._pk is not None and fast.corrector._pack_inputs is not None
    assert ref.spme._pk is None and ref.corrector._pack_inputs is None
    cur, dts = _dynamic_profile(1, 500, n)
    worst = 0.0
    for I, dt in zip(cur, dts):
        va, vb = fast.step(I, dt), ref.step(I, dt)
        assert np.all(np.isfinite(va))
        worst = max(worst, float(np.max(np.abs(va - vb))))
    assert worst <= 1e-6
    _assert_same_state(fast, ref)


@needs_numba
def test_compiled_pack_with_filter_updates_and_vector_dt(hybrid):
    """Kalman updates and per-cell dt (the numpy paths) interleave with compiled steps."""
    n = 24
    fast, ref = _pair(hybrid, n)
    cur, dts = _dynamic_profile(2, 120, n)
    rng = np.random.default_rng(0)
    for k, (I, dt) in enumerate(zip(cur, dts)):
        if k % 7 == 3:
            vm = ref.state.voltage_V + rng.normal(0.0, 0.002, n)
            va, vb = fast.step(I, dt, vm), ref.step(I, dt, vm)
        elif k % 11 == 5:
            dtv = np.full(n, dt) * rng.uniform(0.5, 1.5, n)
            va, vb = fast.step(I, dtv), ref.step(I, dtv)
        else:
            va, vb = fast.step(I, dt), ref.step(I, dt)
        np.testing.assert_allclose(va, vb, rtol=0, atol=1e-6)
    _assert_same_state(fast, ref, loose=1e5)


@needs_numba
def test_compiled_plain_spme_pack_and_out_of_domain_flags():
    """No corrector; a deep discharge sets the same status bits, never NaN."""
    fast, ref = _pair(None, 12, initial_soc=np.linspace(0.05, 0.9, 12))
    assert fast.spme._pk is not None
    for _ in range(40):
        va, vb = fast.step(6.0, 1.0), ref.step(6.0, 1.0)
        assert np.all(np.isfinite(va))
        np.testing.assert_allclose(va, vb, rtol=0, atol=1e-9)
    for _ in range(6):
        va, vb = fast.step(15.0, 20.0), ref.step(15.0, 20.0)
        assert np.all(np.isfinite(va))
        np.testing.assert_allclose(va, vb, rtol=0, atol=1e-9)
    assert np.any(fast.state.status != 0)
    np.testing.assert_array_equal(fast.state.status, ref.state.status)


@needs_numba
def test_ocp_bucket_lookup_equals_numpy_interp(hybrid):
    """The OCP tables' non-uniform grid: the bucket-table lookup is np.interp over the whole range."""
    est = Estimator(hybrid, 9, initial_soc=0.5)
    pk = est.spme._pk
    xp = pk.ocx
    rng = np.random.default_rng(4)
    x = np.concatenate([np.linspace(-0.01, 1.01, 200_001), xp, rng.uniform(0.0, 1e-3, 5000),
                        1.0 - rng.uniform(0.0, 1e-3, 5000), np.nextafter(xp, 2.0), np.nextafter(xp, -1.0),
                        [np.nan, -np.inf, np.inf]])
    for fp in (pk.ocn, pk.ocp):
        ref = np.interp(x, xp, fp)
        got = np.empty_like(x)
        estimator_kernel._interp_many(x, xp, fp, pk.toc[0], pk.toc[1], pk.ocb, got, False)
        np.testing.assert_array_equal(got, ref)
        got2 = ref.copy()
        estimator_kernel._interp_many(x, xp, fp, pk.toc[0], pk.toc[1], pk.ocb, got2, True)
        np.testing.assert_array_equal(got2[np.isfinite(ref)], 0.0)


def test_numpy_pack_path_when_not_compiled(hybrid):
    est = Estimator(hybrid, 10, initial_soc=0.6, compiled=False)
    assert est.spme._pk is None and est.corrector._pack_inputs is None and est.filter._pack_predict is None
    v = est.step(np.full(10, 2.0), 1.0)
    assert v.shape == (10,) and np.all(np.isfinite(v))
