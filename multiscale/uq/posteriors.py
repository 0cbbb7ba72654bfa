"""Gaussian posteriors over model parameters behind one small interface.

Every posterior exposes ``mean`` (p,), ``cov`` (p, p), ``std`` (p,), ``sample(n, rng)`` and
``propagate(func)`` (delta method, :func:`multiscale.uq.delta_method`). Implementations:

* :class:`GaussianPosterior` — given μ and Σ (e.g. from a fit another layer made).
* :class:`LeastSquaresPosterior` — from a non-linear least-squares fit (``scipy.optimize``):
  Σ = s² (JᵀJ)⁻¹ with s² = Σr²/(n − p) the residual variance (unless the data errors are
  absolute), the standard asymptotic covariance (Bates & Watts, *Nonlinear Regression Analysis*,
  1988, §2.3; what ``scipy.optimize.curve_fit`` returns as ``pcov``). Carries ``dof = n − p``
  for Student's t intervals.
* :class:`EnsemblePosterior` — mean and sample covariance (ddof = 1) of an ensemble of
  parameter vectors or predictions, e.g. a deep ensemble (Lakshminarayanan et al., NeurIPS 2017).
* :class:`~multiscale.uq.laplace.LaplacePosterior` — last-layer Laplace approximation of a
  torch model (in :mod:`multiscale.uq.laplace`).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError, check_finite_array, check_range
from .propagation import delta_method, interval, quantile_factor
from .validation import as_mean_cov


class Posterior:
    """A Gaussian (or Gaussian-summarised) distribution over a parameter vector θ.

    Subclasses set ``self._mean`` (p,) and ``self._cov`` (p, p) — validated symmetric PSD — and
    may set ``names`` (parameter labels) and ``dof`` (degrees of freedom of an estimated
    variance, ``None`` for a known one).
    """

    names: tuple[str, ...] | None = None
    dof: float | None = None

    def _set(self, mean, cov, names=None) -> None:
        self._mean, self._cov = as_mean_cov(mean, cov)
        if names is not None:
            names = tuple(str(n) for n in names)
            if len(names) != self._mean.size:
                raise InputError(f"names has {len(names)} entries; the mean has {self._mean.size}")
        self.names = names

    @property
    def mean(self) -> np.ndarray:
        return self._mean.copy()

    @property
    def cov(self) -> np.ndarray:
        return self._cov.copy()

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self._cov), 0.0, None))

    @property
    def n_params(self) -> int:
        return self._mean.size

    def sample(self, n: int, rng=None) -> np.ndarray:
        """Draw (n, p) parameter vectors from N(mean, cov); ``rng`` a Generator or a seed."""
        k = int(check_range("n", n, low=1))
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return gen.multivariate_normal(self._mean, self._cov, size=k, method="eigh")

    def interval(self, level: float = 0.95):
        """Marginal intervals (low, high) of each parameter (t quantile when ``dof`` is set)."""
        return interval(self._mean, self.std, level, dof=self.dof)

    def propagate(self, func, **kwargs):
        """(value, std) of ``func(θ)`` by the delta method; kwargs go to :func:`delta_method`."""
        return delta_method(func, self._mean, self._cov, **kwargs)

    def __repr__(self) -> str:
        if not hasattr(self, "_mean"):
            return f"{type(self).__name__}(not fitted)"
        names = self.names or tuple(f"θ{i}" for i in range(self.n_params))
        body = ", ".join(f"{n}={m:.4g}±{s:.2g}" for n, m, s in zip(names, self._mean, self.std))
        return f"{type(self).__name__}({body})"


class GaussianPosterior(Posterior):
    """θ ~ N(mean, cov) given explicitly; ``dof`` optional (see :class:`Posterior`)."""

    def __init__(self, mean, cov, *, names=None, dof: float | None = None):
        self._set(mean, cov, names)
        self.dof = None if dof is None else check_range("dof", dof, low=0.0, low_inclusive=False)


class LeastSquaresPosterior(Posterior):
    """Asymptotic Gaussian posterior of a least-squares fit: Σ = s²(JᵀJ)⁻¹.

    Parameters
    ----------
    params : (p,) best-fit parameters.
    jacobian : (n, p) Jacobian of the *weighted* residuals r_i = (y_i − f(x_i; θ))/σ_i at ``params``.
    residuals : (n,) weighted residuals at ``params``.
    absolute_sigma : bool
        False (default): the residual scale is estimated, s² = Σr²/(n − p), and ``dof = n − p``.
        True: the σ_i are absolute standard errors, s² = 1 and ``dof = None`` (normal quantiles).

    A rank-deficient J (parameters not identifiable from the data) raises :class:`InputError`.
    """

    def __init__(self, params, jacobian, residuals, *, absolute_sigma: bool = False, names=None):
        p = check_finite_array("params", params).ravel()
        jac = check_finite_array("jacobian", jacobian)
        r = check_finite_array("residuals", residuals).ravel()
        if jac.ndim != 2 or jac.shape != (r.size, p.size):
            raise InputError(f"jacobian has shape {jac.shape}; expected (n_data, n_params) = ({r.size}, {p.size})")
        n, k = jac.shape
        if not absolute_sigma and n <= k:
            raise InputError(f"{n} data points cannot estimate the residual variance of {k} parameters (need n > p)")
        _, sv, vt = np.linalg.svd(jac, full_matrices=False)
        if sv[-1] <= sv[0] * max(n, k) * np.finfo(float).eps:
            raise InputError(f"jacobian is rank deficient (singular values {sv}); parameters are not identifiable")
        cov = (vt.T / sv**2) @ vt
        self.residual_variance = 1.0 if absolute_sigma else float(r @ r / (n - k))
        self._set(p, cov * self.residual_variance, names)
        self.dof = None if absolute_sigma else float(n - k)
        self.n_data = n

    @classmethod
    def from_least_squares(cls, result, *, absolute_sigma: bool = False, names=None) -> "LeastSquaresPosterior":
        """From a ``scipy.optimize.least_squares`` result (uses ``result.x``, ``.jac``, ``.fun``)."""
        if not getattr(result, "success", True):
            raise InputError(f"least_squares did not converge: {getattr(result, 'message', '')}")
        return cls(result.x, result.jac, result.fun, absolute_sigma=absolute_sigma, names=names)

    @classmethod
    def from_curve_fit(cls, f, xdata, ydata, p0, *, sigma=None, absolute_sigma: bool = False, names=None,
                       **kwargs) -> "LeastSquaresPosterior":
        """Fit y = f(x, *θ) with ``scipy.optimize.least_squares`` and return the posterior.

        Same model convention and covariance as ``scipy.optimize.curve_fit`` (tested equal).
        """
        from scipy.optimize import least_squares

        x = np.asarray(xdata, dtype=float)
        y = check_finite_array("ydata", ydata)
        w = np.ones_like(y) if sigma is None else check_finite_array("sigma", sigma) * np.ones_like(y)
        if np.any(w <= 0):
            raise InputError("sigma must be > 0 for every data point")

        def resid(theta):
            return (y - np.asarray(f(x, *theta), dtype=float)) / w

        res = least_squares(resid, np.asarray(p0, dtype=float), method=kwargs.pop("method", "lm"), **kwargs)
        post = cls.from_least_squares(res, absolute_sigma=absolute_sigma, names=names)
        return post


class EnsemblePosterior(Posterior):
    """Gaussian summary of an ensemble: mean and sample covariance (ddof = 1) of M members.

    ``members`` is (M, p): parameter vectors or predictions of M independently trained models.
    ``dof = M − 1`` so that intervals use Student's t (a 5-member ensemble's spread is itself
    uncertain). ``sample(n, rng, method="members")`` resamples the members instead of drawing
    from the Gaussian.
    """

    def __init__(self, members, *, names=None):
        a = check_finite_array("members", members)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[0] < 2:
            raise InputError(f"members must be (n_members >= 2, n_params), got shape {np.shape(members)}")
        self.members = a
        cov = np.atleast_2d(np.cov(a, rowvar=False, ddof=1))
        self._set(a.mean(axis=0), cov, names)
        self.dof = float(a.shape[0] - 1)

    @classmethod
    def from_models(cls, models, inputs, *, names=None) -> "EnsemblePosterior":
        """Evaluate each model (callable or torch ``nn.Module``) on ``inputs``; members = outputs."""
        outs = []
        for model in models:
            y = model(inputs)
            if type(y).__module__.startswith("torch"):
                y = y.detach().cpu().numpy()
            outs.append(np.asarray(y, dtype=float).ravel())
        return cls(np.stack(outs), names=names)

    def sample(self, n: int, rng=None, *, method: str = "gaussian") -> np.ndarray:
        if method == "gaussian":
            return super().sample(n, rng)
        if method != "members":
            raise InputError(f"method = {method!r} is unknown; choose 'gaussian' or 'members'")
        k = int(check_range("n", n, low=1))
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return self.members[gen.integers(0, self.members.shape[0], size=k)]

    def predictive_interval(self, level: float = 0.95):
        """Interval for a new member draw: mean ± t_{M−1}·s·√(1 + 1/M)."""
        m = self.members.shape[0]
        k = quantile_factor(level, self.dof)
        half = k * self.std * np.sqrt(1.0 + 1.0 / m)
        return self._mean - half, self._mean + half
