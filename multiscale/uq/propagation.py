"""Propagation of parameter uncertainty to derived quantities, and confidence intervals.

Given parameters θ ~ N(μ, Σ) and a derived quantity y = f(θ):

* **delta method** (first-order Taylor expansion about μ)::

      y ≈ f(μ) + J (θ − μ),   J = ∂f/∂θ |_μ   ⇒   Cov[y] ≈ J Σ Jᵀ

  exact for linear f; for mildly non-linear f accurate to O(σ²) in the mean and variance
  (Casella & Berger, *Statistical Inference*, 2nd ed., §5.5.4; JCGM 100:2008 "GUM", §5.1).
* **Monte Carlo** (JCGM 101:2008, "GUM Supplement 1"): draw θ_s ~ N(μ, Σ), evaluate f(θ_s),
  report the sample mean, standard deviation and percentile interval.

Intervals at confidence ``level`` are ``value ± z·std`` with z = Φ⁻¹((1+level)/2) (1.960 at 95 %),
or Student's t quantile with ``dof`` degrees of freedom when the variance itself was estimated
from residuals (least-squares fits with few points), or equal-tailed sample percentiles.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..errors import InputError, check_range
from .validation import as_mean_cov, check_level

#: default central-difference step, as a fraction of each parameter's standard deviation
FD_STEP = 1e-2
_METHODS = ("auto", "autograd", "finite-difference")


# --------------------------------------------------------------------------------------------
# function evaluation helpers (numpy or torch)
# --------------------------------------------------------------------------------------------
def _to_numpy(y) -> np.ndarray:
    if type(y).__module__.startswith("torch"):
        return y.detach().cpu().numpy().astype(float)
    return np.asarray(y, dtype=float)


def _reshape_input(x: np.ndarray, scalar: bool):
    return x[0] if scalar else x


def _torch_probe(func, mean: np.ndarray, scalar: bool) -> bool:
    """True when ``func`` accepts a torch tensor and returns a tensor connected to it."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return False
    x = torch.tensor(mean, dtype=torch.float64, requires_grad=True)
    try:
        with warnings.catch_warnings():  # e.g. float(tensor) warnings from numpy-only code
            warnings.simplefilter("ignore")
            y = func(x[0] if scalar else x)
    except Exception:  # noqa: BLE001 - any failure on a tensor input means "not torch-traceable"
        return False
    return isinstance(y, torch.Tensor) and y.requires_grad


def _jacobian_autograd(func, mean: np.ndarray, scalar: bool) -> tuple[np.ndarray, np.ndarray]:
    import torch

    x0 = torch.tensor(mean, dtype=torch.float64)

    def call(t):
        out = func(t[0] if scalar else t)
        if not isinstance(out, torch.Tensor):
            raise InputError("delta_method(method='autograd'): func must return a torch tensor for a tensor input")
        return out.to(torch.float64)

    with torch.no_grad():
        value = call(x0).numpy()
    jac = torch.autograd.functional.jacobian(lambda t: call(t).reshape(-1), x0)
    return value, jac.detach().numpy().reshape(value.size, mean.size)


def _jacobian_fd(func, mean: np.ndarray, std: np.ndarray, scalar: bool, fd_step: float):
    """Central differences, step h_i = fd_step·σ_i; columns with σ_i = 0 do not contribute."""
    value = _to_numpy(func(_reshape_input(mean, scalar)))
    jac = np.zeros((value.size, mean.size))
    for i in np.flatnonzero(std > 0.0):
        h = fd_step * std[i]
        xp, xm = mean.copy(), mean.copy()
        xp[i] += h
        xm[i] -= h
        fp = _to_numpy(func(_reshape_input(xp, scalar))).reshape(-1)
        fm = _to_numpy(func(_reshape_input(xm, scalar))).reshape(-1)
        jac[:, i] = (fp - fm) / (2.0 * h)
    return value, jac


def jacobian(func, mean, cov=None, *, method: str = "auto", fd_step: float = FD_STEP):
    """Return (f(μ), J): f(μ) with ``func``'s output shape, J[i, j] = ∂f_i/∂θ_j (f flattened).

    ``method``: ``"autograd"`` (torch; ``func`` must map a float64 tensor to a tensor),
    ``"finite-difference"`` (central differences with step ``fd_step``·σ_j, σ from ``cov``;
    without ``cov`` the step is ``fd_step``·max(|μ_j|, 1)), or ``"auto"``: autograd when ``func``
    accepts a tensor and returns a tensor attached to the autograd graph, else finite differences.
    """
    if method not in _METHODS:
        raise InputError(f"method = {method!r} is unknown; choose one of {', '.join(_METHODS)}")
    scalar = np.ndim(mean) == 0
    m = np.atleast_1d(np.asarray(mean, dtype=float))
    use_torch = method == "autograd" or (method == "auto" and _torch_probe(func, m, scalar))
    if use_torch:
        value, jac = _jacobian_autograd(func, m, scalar)
    else:
        step = check_range("fd_step", fd_step, low=0.0, low_inclusive=False)
        std = np.sqrt(np.clip(np.diag(cov), 0.0, None)) if cov is not None else np.maximum(np.abs(m), 1.0)
        value, jac = _jacobian_fd(func, m, std, scalar, step)
    if not (np.all(np.isfinite(value)) and np.all(np.isfinite(jac))):
        raise InputError("func returned a non-finite value or derivative at the mean; check its domain")
    return value, jac


# --------------------------------------------------------------------------------------------
# delta method and Monte Carlo
# --------------------------------------------------------------------------------------------
def delta_method(func, mean, cov, *, method: str = "auto", fd_step: float = FD_STEP, full_cov: bool = False):
    """First-order (delta-method) propagation of θ ~ N(mean, cov) through ``func``.

    Var[f] ≈ J Σ Jᵀ with J = ∂f/∂θ at θ = mean (see module docstring for references).

    Parameters
    ----------
    func : callable
        θ → y. Receives a 1-D array of the same length as ``mean`` (a scalar when ``mean`` is a
        scalar). May be a numpy function (Jacobian by central finite differences, step
        ``fd_step``·σ_j per parameter, σ_j = √Σ_jj) or a torch function / ``nn.Module`` taking a
        float64 tensor (Jacobian by autograd, exact). ``method`` forces one of the two.
    mean, cov : array-like
        Parameter mean (p,) and covariance (p, p), symmetric positive semi-definite.
    full_cov : bool
        For vector-valued ``func`` return the (m, m) output covariance instead of the std.

    Returns
    -------
    (value, std)
        Scalar ``func`` (0-d output): two floats. Array ``func``: ``value`` with the shape of
        ``func``'s output and ``std`` of the same shape — or, with ``full_cov=True``, the (m, m)
        covariance of the flattened output. ``value`` is f(mean), the first-order mean.

    Raises
    ------
    InputError
        ``cov`` not symmetric PSD or not (p, p); unknown ``method``; non-finite f or J at the mean.
    """
    m, c = as_mean_cov(mean, cov)
    scalar_in = np.ndim(mean) == 0
    value, jac = jacobian(func, m[0] if scalar_in else m, c, method=method, fd_step=fd_step)
    out_cov = jac @ c @ jac.T
    out_cov = 0.5 * (out_cov + out_cov.T)
    std = np.sqrt(np.clip(np.diag(out_cov), 0.0, None))
    if full_cov:
        return (float(value) if value.ndim == 0 else value), out_cov
    if value.ndim == 0:
        return float(value), float(std[0])
    return value, std.reshape(value.shape)


@dataclass(frozen=True)
class MonteCarloResult:
    """Samples of f(θ), θ ~ N(mean, cov), with their summary statistics.

    ``samples`` has shape (n_samples, *output_shape); ``value`` is the sample mean, ``std`` the
    sample standard deviation (ddof=1), ``cov`` the sample covariance of the flattened output.
    """

    samples: np.ndarray
    value: np.ndarray | float
    std: np.ndarray | float
    cov: np.ndarray = field(repr=False)

    def interval(self, level: float = 0.95):
        """Equal-tailed percentile interval (low, high) at ``level``."""
        return sample_interval(self.samples, level)

    def __iter__(self):  # allows ``value, std = monte_carlo(...)`` like delta_method
        return iter((self.value, self.std))


def monte_carlo(func, mean, cov, n_samples: int = 10_000, seed=None, *, rng=None, vectorized: bool = False):
    """Monte Carlo propagation (JCGM 101): evaluate ``func`` on draws θ_s ~ N(mean, cov).

    ``func`` receives one parameter vector per call (a scalar when ``mean`` is a scalar), or the
    whole (n_samples, p) array when ``vectorized=True``; numpy or torch functions are accepted.
    ``seed`` (int) or ``rng`` (numpy Generator) makes the draw reproducible. A singular (PSD)
    covariance is handled through its eigen-decomposition.

    Returns a :class:`MonteCarloResult` (unpacks as ``value, std``).
    """
    m, c = as_mean_cov(mean, cov)
    n = int(check_range("n_samples", n_samples, low=2))
    gen = rng if rng is not None else np.random.default_rng(seed)
    theta = gen.multivariate_normal(m, c, size=n, method="eigh")
    scalar_in = np.ndim(mean) == 0

    def call_numpy(x):
        return _to_numpy(func(x))

    def call_torch(x):
        import torch

        with torch.no_grad():
            return _to_numpy(func(torch.as_tensor(np.asarray(x), dtype=torch.float64)))

    call = call_numpy
    if vectorized:
        first = theta[:, 0] if scalar_in else theta
    else:
        first = _reshape_input(theta[0], scalar_in)
    try:  # numpy first; a function that only takes tensors (torch ops, nn.Module) is called with tensors
        y0 = call_numpy(first)
    except (TypeError, AttributeError, RuntimeError):
        call = call_torch
        y0 = call_torch(first)
    if vectorized:
        ys = y0
        if ys.shape[:1] != (n,):
            raise InputError(f"vectorized func must return n_samples={n} rows, got shape {ys.shape}")
    else:
        ys = np.stack([y0] + [call(_reshape_input(t, scalar_in)) for t in theta[1:]])
    if not np.all(np.isfinite(ys)):
        bad = int(np.sum(~np.all(np.isfinite(ys.reshape(n, -1)), axis=1)))
        raise InputError(f"func returned non-finite values for {bad} of {n} parameter draws; check its domain")
    flat = ys.reshape(n, -1)
    cov_out = np.atleast_2d(np.cov(flat, rowvar=False))
    value, std = ys.mean(axis=0), ys.std(axis=0, ddof=1)
    if ys.ndim == 1:
        value, std = float(value), float(std)
    return MonteCarloResult(samples=ys, value=value, std=std, cov=cov_out)


# --------------------------------------------------------------------------------------------
# intervals
# --------------------------------------------------------------------------------------------
def quantile_factor(level: float = 0.95, dof: float | None = None) -> float:
    """Two-sided factor k with P(|Z| ≤ k) = level: normal, or Student's t with ``dof``."""
    lv = check_level(level)
    if dof is None:
        return float(stats.norm.ppf(0.5 + lv / 2.0))
    d = check_range("dof", dof, low=0.0, low_inclusive=False)
    return float(stats.t.ppf(0.5 + lv / 2.0, d))


def interval(mean, std, level: float = 0.95, *, dof: float | None = None):
    """Symmetric interval (mean − k·std, mean + k·std); k from :func:`quantile_factor`.

    Use ``dof`` (= n_data − n_params for a least-squares fit whose residual variance was
    estimated) for Student's t intervals, which keep their nominal coverage at small n.
    """
    m = np.asarray(mean, dtype=float)
    s = np.asarray(std, dtype=float)
    if np.any(s < 0) or not np.all(np.isfinite(s)):
        raise InputError(f"std must be finite and >= 0, got {std!r}")
    k = quantile_factor(level, dof)
    low, high = m - k * s, m + k * s
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def sample_interval(samples, level: float = 0.95, axis: int = 0):
    """Equal-tailed percentile interval of ``samples`` along ``axis`` at ``level``."""
    lv = check_level(level)
    a = np.asarray(samples, dtype=float)
    if a.shape[axis] < 2:
        raise InputError(f"samples needs at least 2 entries along axis {axis}, got {a.shape[axis]}")
    low, high = np.quantile(a, [0.5 - lv / 2.0, 0.5 + lv / 2.0], axis=axis)
    if np.ndim(low) == 0:
        return float(low), float(high)
    return low, high


def coverage(low, high, truth) -> float:
    """Fraction of intervals [low, high] that contain ``truth`` (arrays broadcast)."""
    lo, hi, t = np.broadcast_arrays(np.asarray(low, float), np.asarray(high, float), np.asarray(truth, float))
    if lo.size == 0:
        raise InputError("coverage needs at least one interval")
    return float(np.mean((lo <= t) & (t <= hi)))
