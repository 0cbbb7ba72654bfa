"""Delta method and Monte Carlo propagation, intervals, and input validation."""
import numpy as np
import pytest
import torch
from scipy import stats

from multiscale.errors import InputError
from multiscale.uq import coverage, delta_method, interval, jacobian, monte_carlo, quantile_factor, sample_interval

MEAN = np.array([1.0, 2.0, -0.5])
COV = np.array([[0.04, 0.01, 0.0], [0.01, 0.09, -0.02], [0.0, -0.02, 0.01]])
A = np.array([[1.0, 2.0, 0.5], [3.0, -1.0, 4.0]])


def test_linear_map_delta_equals_analytic_and_monte_carlo():
    value, cov = delta_method(lambda t: A @ t + 1.0, MEAN, COV, full_cov=True)
    np.testing.assert_allclose(value, A @ MEAN + 1.0)
    np.testing.assert_allclose(cov, A @ COV @ A.T, rtol=1e-8)
    value, std = delta_method(lambda t: A @ t + 1.0, MEAN, COV)
    mc = monte_carlo(lambda t: A @ t + 1.0, MEAN, COV, n_samples=40_000, seed=3)
    assert np.all(np.abs(mc.value - value) < 4 * std / np.sqrt(40_000))
    # sample std of 40 000 draws: relative standard error ~ 1/sqrt(2n) = 0.35 %
    np.testing.assert_allclose(mc.std, std, rtol=0.015)
    np.testing.assert_allclose(mc.cov, A @ COV @ A.T, rtol=0.03)


def test_vectorised_monte_carlo_matches_loop():
    loop = monte_carlo(lambda t: t @ A.T, MEAN, COV, n_samples=500, seed=1)
    vec = monte_carlo(lambda t: t @ A.T, MEAN, COV, n_samples=500, seed=1, vectorized=True)
    np.testing.assert_allclose(loop.samples, vec.samples)


@pytest.mark.parametrize("func", [
    lambda t: np.exp(0.5 * t[0]) * t[1],
    lambda t: np.sqrt(t[1]) / (1.0 + t[0] ** 2),
    lambda t: np.log(t[1]) + np.sin(t[2]),
])
def test_mildly_nonlinear_delta_within_5_percent_of_monte_carlo(func):
    small = COV / 4.0  # relative spreads of 5-15 %: "mildly non-linear"
    value, std = delta_method(func, MEAN, small)
    mc = monte_carlo(func, MEAN, small, n_samples=20_000, seed=7)
    assert abs(std / mc.std - 1.0) < 0.05
    assert abs(value - mc.value) < 0.05 * mc.std + 1e-12


def test_autograd_and_finite_difference_jacobians_agree():
    def f_torch(t):
        return torch.stack([torch.exp(t[0]) * t[1], torch.tanh(t[2]) + t[0] * t[1] ** 2])

    def f_np(t):
        return np.array([np.exp(t[0]) * t[1], np.tanh(t[2]) + t[0] * t[1] ** 2])

    v1, j1 = jacobian(f_torch, MEAN, COV, method="auto")
    v2, j2 = jacobian(f_np, MEAN, COV, method="auto")
    analytic = np.array([[np.exp(1.0) * 2.0, np.exp(1.0), 0.0], [4.0, 4.0, 1.0 / np.cosh(-0.5) ** 2]])
    np.testing.assert_allclose(j1, analytic, rtol=1e-12)
    np.testing.assert_allclose(j2, analytic, rtol=1e-6)
    np.testing.assert_allclose(v1, v2)
    # Monte Carlo accepts torch-only functions too (evaluated on tensors without gradients)
    mc_t = monte_carlo(lambda t: torch.exp(t[0]) * t[1], MEAN, COV, n_samples=300, seed=2)
    mc_n = monte_carlo(lambda t: np.exp(t[0]) * t[1], MEAN, COV, n_samples=300, seed=2)
    np.testing.assert_allclose(mc_t.samples, mc_n.samples, rtol=1e-12)
    # torch.nn.Module works too (autograd)
    lin = torch.nn.Linear(3, 2).double()
    v, s = delta_method(lin, MEAN, COV)
    w = lin.weight.detach().numpy()
    np.testing.assert_allclose(s, np.sqrt(np.diag(w @ COV @ w.T)), rtol=1e-10)


def test_scalar_parameter_and_zero_variance_direction():
    value, std = delta_method(lambda x: x**2, 3.0, 0.01)
    assert value == pytest.approx(9.0) and std == pytest.approx(0.6, rel=1e-8)
    cov = np.diag([0.04, 0.0, 0.01])  # PSD, singular: the middle parameter is exact
    _, std = delta_method(lambda t: t[0] + 100.0 * t[1], MEAN, cov)
    assert std == pytest.approx(0.2)
    mc = monte_carlo(lambda t: t[0] + 100.0 * t[1], MEAN, cov, n_samples=2000, seed=0)
    assert mc.std == pytest.approx(0.2, rel=0.05)


def test_intervals():
    assert quantile_factor(0.95) == pytest.approx(1.959964, rel=1e-6)
    assert quantile_factor(0.95, dof=5) == pytest.approx(stats.t.ppf(0.975, 5))
    low, high = interval(10.0, 2.0, 0.68)
    assert (low, high) == pytest.approx((10.0 - 0.994458 * 2, 10.0 + 0.994458 * 2), rel=1e-5)
    rng = np.random.default_rng(0)
    samples = rng.normal(5.0, 1.0, size=200_000)
    low, high = sample_interval(samples, 0.95)
    assert low == pytest.approx(5.0 - 1.96, abs=0.02) and high == pytest.approx(5.0 + 1.96, abs=0.02)
    assert coverage([0, 1], [2, 3], [1.5, 3.5]) == 0.5


@pytest.mark.parametrize("cov, match", [
    (np.array([[1.0, 0.5], [0.4, 1.0]]), "not symmetric"),
    (np.array([[1.0, 2.0], [2.0, 1.0]]), "not positive semi-definite"),
    (np.eye(3), r"must be \(2, 2\)"),
    (np.array([1.0, 1.0]), "np.diag"),
    (np.array([[np.nan, 0.0], [0.0, 1.0]]), "non-finite"),
])
def test_bad_covariance_is_a_clear_error(cov, match):
    with pytest.raises(InputError, match=match):
        delta_method(lambda t: t.sum(), np.zeros(2), cov)
    with pytest.raises(InputError, match=match):
        monte_carlo(lambda t: t.sum(), np.zeros(2), cov, n_samples=10, seed=0)


def test_bad_arguments():
    with pytest.raises(InputError, match="method"):
        delta_method(lambda t: t.sum(), np.zeros(2), np.eye(2), method="magic")
    with pytest.raises(InputError, match="level"):
        interval(0.0, 1.0, 1.5)
    with np.errstate(invalid="ignore", divide="ignore"):  # the NaN itself is what is tested
        with pytest.raises(InputError, match="non-finite"):
            delta_method(lambda t: np.log(t[0]), np.array([-1.0]), np.eye(1))
        with pytest.raises(InputError, match="non-finite"):
            monte_carlo(lambda t: np.log(t), 0.1, 1.0, n_samples=100, seed=0)
    with pytest.raises(InputError, match="mean must be"):
        delta_method(lambda t: t.sum(), np.zeros((2, 2)), np.eye(2))
