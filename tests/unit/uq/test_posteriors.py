"""Posterior implementations: Gaussian, least squares, ensemble, last-layer Laplace."""
import numpy as np
import pytest
import torch
from scipy.optimize import curve_fit

from multiscale.errors import InputError, NotFittedError
from multiscale.uq import (EnsemblePosterior, GaussianPosterior, LaplacePosterior, LeastSquaresPosterior,
                           Posterior, delta_method)


def _exp_model(x, a, k):
    return a * np.exp(-k * x)


def test_gaussian_posterior_interface(rng):
    post = GaussianPosterior([1.0, 2.0], [[0.04, 0.01], [0.01, 0.09]], names=["a", "b"])
    assert isinstance(post, Posterior)
    np.testing.assert_allclose(post.std, [0.2, 0.3])
    draws = post.sample(50_000, rng)
    np.testing.assert_allclose(np.cov(draws, rowvar=False), post.cov, atol=3e-3)
    value, std = post.propagate(lambda t: t[0] + t[1])
    assert value == pytest.approx(3.0) and std == pytest.approx(np.sqrt(0.04 + 0.09 + 0.02))
    assert "a=1±0.2" in repr(post)
    with pytest.raises(InputError, match="names"):
        GaussianPosterior([1.0], [[1.0]], names=["a", "b"])
    with pytest.raises(InputError, match="positive semi-definite"):
        GaussianPosterior([0.0, 0.0], [[1.0, 3.0], [3.0, 1.0]])


def test_least_squares_posterior_equals_curve_fit(rng):
    x = np.linspace(0.0, 3.0, 25)
    y = _exp_model(x, 2.0, 0.7) + rng.normal(0.0, 0.05, x.size)
    popt, pcov = curve_fit(_exp_model, x, y, p0=[1.0, 1.0])
    post = LeastSquaresPosterior.from_curve_fit(_exp_model, x, y, p0=[1.0, 1.0], names=["a", "k"])
    np.testing.assert_allclose(post.mean, popt, rtol=1e-6)
    np.testing.assert_allclose(post.cov, pcov, rtol=1e-4)
    assert post.dof == x.size - 2
    sig = np.full(x.size, 0.05)
    popt, pcov = curve_fit(_exp_model, x, y, p0=[1.0, 1.0], sigma=sig, absolute_sigma=True)
    post = LeastSquaresPosterior.from_curve_fit(_exp_model, x, y, p0=[1.0, 1.0], sigma=sig, absolute_sigma=True)
    np.testing.assert_allclose(post.cov, pcov, rtol=1e-4)
    assert post.dof is None


def test_least_squares_bad_input():
    with pytest.raises(InputError, match="rank deficient"):
        LeastSquaresPosterior([1.0, 1.0], np.ones((5, 2)), np.zeros(5))
    with pytest.raises(InputError, match="need n > p"):
        LeastSquaresPosterior([1.0, 1.0], np.eye(2), np.zeros(2))
    with pytest.raises(InputError, match="shape"):
        LeastSquaresPosterior([1.0, 1.0], np.ones((5, 3)), np.zeros(5))


def test_ensemble_posterior(rng):
    members = rng.normal([1.0, -1.0], [0.1, 0.3], size=(8, 2))
    post = EnsemblePosterior(members)
    np.testing.assert_allclose(post.mean, members.mean(axis=0))
    np.testing.assert_allclose(post.cov, np.cov(members, rowvar=False))
    assert post.dof == 7
    draws = post.sample(5, rng, method="members")
    assert all(any(np.array_equal(d, m) for m in members) for d in draws)
    low, high = post.predictive_interval(0.95)
    assert np.all(high - low > 2 * 1.96 * post.std)  # t_7 and sqrt(1+1/M) widen the normal interval
    models = [torch.nn.Linear(1, 1).double() for _ in range(4)]
    post = EnsemblePosterior.from_models(models, torch.zeros(3, 1, dtype=torch.float64))
    assert post.mean.shape == (3,)
    with pytest.raises(InputError, match="n_members >= 2"):
        EnsemblePosterior(np.ones((1, 3)))


def _feature_net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(1, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).double()


def test_last_layer_laplace_is_bayesian_linear_regression(rng):
    net = _feature_net()
    x = torch.linspace(-2, 2, 40, dtype=torch.float64)[:, None]
    y = np.sin(2 * x.numpy().ravel()) + rng.normal(0, 0.1, 40)
    lam, sigma = 0.5, 0.1
    post = LaplacePosterior(net, prior_precision=lam, noise_std=sigma, refit=True).fit(x, y)
    with torch.no_grad():
        phi = torch.cat([net[1](net[0](x)), torch.ones(40, 1, dtype=torch.float64)], dim=1).numpy()
    h = phi.T @ phi / sigma**2 + lam * np.eye(17)  # closed-form Bayesian linear regression
    np.testing.assert_allclose(post.cov, np.linalg.inv(h), rtol=1e-8)
    np.testing.assert_allclose(post.mean, np.linalg.solve(h, phi.T @ y / sigma**2), rtol=1e-8)
    exact = LaplacePosterior(net, prior_precision=lam, noise_std=sigma, hessian="exact", refit=True).fit(x, y)
    np.testing.assert_allclose(exact.hessian_, post.hessian_, rtol=1e-8)
    # predictive std = delta method through the network's last layer
    mean, std = post.predict(x[:3])
    assert mean.shape == (3,) and std.shape == (3,)
    v, s = delta_method(lambda w: torch.cat([net[1](net[0](x[:3])), torch.ones(3, 1, dtype=torch.float64)], 1) @ w,
                        post.mean, post.cov)
    np.testing.assert_allclose(mean, v, rtol=1e-8)
    np.testing.assert_allclose(std, s, rtol=1e-8)
    _, std_noise = post.predict(x[:3], include_noise=True)
    np.testing.assert_allclose(std_noise**2, std**2 + sigma**2)


def test_laplace_errors():
    net = _feature_net()
    post = LaplacePosterior(net)
    assert repr(post) == "LaplacePosterior(not fitted)"
    with pytest.raises(NotFittedError):
        post.mean
    with pytest.raises(NotFittedError):
        post.predict(torch.zeros(2, 1, dtype=torch.float64))
    with pytest.raises(InputError, match="hessian"):
        LaplacePosterior(net, hessian="kfac").fit(torch.zeros(20, 1, dtype=torch.float64), np.zeros(20))
    with pytest.raises(InputError, match="no torch.nn.Linear"):
        LaplacePosterior(torch.nn.Tanh()).fit(torch.zeros(3, 1), np.zeros(3))
    with pytest.raises(InputError, match="y has"):
        LaplacePosterior(net, noise_std=0.1).fit(torch.zeros(20, 1, dtype=torch.float64), np.zeros(19))
