"""Last-layer Laplace approximation: a Gaussian posterior over a torch model's last layer.

For a regression network f(x) = W φ(x) + b with Gaussian noise of variance σ² and a Gaussian
prior w ~ N(0, λ⁻¹ I) on the last-layer parameters w = (W, b), the negative log posterior is

    L(w) = Σ_n ‖y_n − f(x_n; w)‖² / (2σ²) + ½ λ ‖w‖²,

and the Laplace approximation is w ~ N(w_MAP, H⁻¹) with the Hessian H = ∇²_w L at w_MAP.
The generalised Gauss–Newton matrix H_GGN = Σ_n J_nᵀ J_n / σ² + λ I (J_n = ∂f(x_n)/∂w) equals
the exact Hessian here because f is linear in w (MacKay 1992; Kristiadi, Hein & Hennig,
ICML 2020; Daxberger et al., "Laplace Redux", NeurIPS 2021). The predictive variance of the
model output at x is J(x) H⁻¹ J(x)ᵀ (+ σ² for a new observation).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError, NotFittedError, check_finite_array, check_range
from .posteriors import Posterior

_HESSIANS = ("ggn", "exact")


class LaplacePosterior(Posterior):
    """Last-layer Laplace posterior of a torch regression model (scikit-learn style).

    Parameters
    ----------
    model : torch.nn.Module
        Maps an (N, d) tensor to (N,) or (N, n_out) outputs; its last-layer weights are the
        posterior's parameters, the rest of the network is held fixed (the feature map φ).
    last_layer : torch.nn.Linear, optional
        Defaults to the last ``nn.Linear`` found in ``model.modules()``.
    prior_precision : float
        λ of the prior N(0, λ⁻¹ I) on the last-layer weights (1.0 as in Laplace Redux; small
        values approach the least-squares covariance).
    noise_std : float, optional
        Observation noise σ in output units; estimated from the residuals at w_MAP when omitted
        (σ̂² = Σr²/(N·n_out − p)).
    hessian : {"ggn", "exact"}
        Generalised Gauss–Newton or autograd Hessian of L (identical for a linear last layer).
    refit : bool
        Replace the trained last layer by the exact MAP of L (a linear solve) before building H;
        the model itself is not modified.
    """

    def __init__(self, model, *, last_layer=None, prior_precision: float = 1.0, noise_std: float | None = None,
                 hessian: str = "ggn", refit: bool = False):
        self.model = model
        self.last_layer = last_layer
        self.prior_precision = prior_precision
        self.noise_std = noise_std
        self.hessian = hessian
        self.refit = refit

    # ---------------------------------------------------------------------------------------
    def _layer_params(self):
        import torch

        layer = self.last_layer
        if layer is None:
            linears = [m for m in self.model.modules() if isinstance(m, torch.nn.Linear)]
            if not linears:
                raise InputError("model has no torch.nn.Linear layer; pass last_layer explicitly")
            layer = linears[-1]
        prefix = next((name for name, mod in self.model.named_modules() if mod is layer), None)
        if prefix is None:
            raise InputError("last_layer is not a sub-module of model")
        named = [(f"{prefix}.{n}" if prefix else n, p) for n, p in layer.named_parameters()]
        return named

    def _forward(self, wflat, X):
        from torch.func import functional_call

        params, i = {}, 0
        for name, shape in zip(self.param_names_, self.param_shapes_):
            k = int(np.prod(shape)) if shape else 1
            params[name] = wflat[i:i + k].reshape(shape)
            i += k
        out = functional_call(self.model, params, (X,))
        return out.reshape(out.shape[0], -1)

    def _jac(self, X):
        """J (N·n_out, p) and f (N·n_out,) at w_MAP, float64 numpy."""
        import torch
        from torch.func import jacrev

        w = torch.as_tensor(self._w_model_dtype)
        with torch.no_grad():
            f = self._forward(w, X)
        jac = jacrev(lambda v: self._forward(v, X))(w)
        return (jac.detach().reshape(-1, w.numel()).double().numpy(), f.detach().reshape(-1).double().numpy(),
                f.shape[1])

    def _as_tensor(self, X):
        import torch

        dtype = next(iter(p for _, p in self._layer_params())).dtype
        return torch.as_tensor(np.asarray(X), dtype=dtype)

    # ---------------------------------------------------------------------------------------
    def fit(self, X, y) -> "LaplacePosterior":
        """Build the Laplace posterior from training inputs X (N, d) and targets y (N[, n_out])."""
        import torch

        if self.hessian not in _HESSIANS:
            raise InputError(f"hessian = {self.hessian!r} is unknown; choose one of {', '.join(_HESSIANS)}")
        lam = check_range("prior_precision", self.prior_precision, low=0.0)
        named = self._layer_params()
        self.param_names_ = [n for n, _ in named]
        self.param_shapes_ = [tuple(p.shape) for _, p in named]
        w0 = torch.cat([p.detach().reshape(-1) for _, p in named])
        self._w_model_dtype = w0
        Xt = self._as_tensor(X)
        yv = check_finite_array("y", y).reshape(-1)
        jac, f, n_out = self._jac(Xt)
        if yv.size != f.size:
            raise InputError(f"y has {yv.size} values; the model gives {f.size} outputs for X")
        p = jac.shape[1]
        w = w0.double().numpy()
        given_s2 = None if self.noise_std is None else check_range(
            "noise_std", self.noise_std, low=0.0, low_inclusive=False) ** 2
        if self.refit:  # exact MAP of L, output linear in w: (JᵀJ + λσ²I) w = Jᵀ(y − f₀)
            target = yv - (f - jac @ w)
            if given_s2 is None:  # σ² from the unregularised fit sets the prior's weight
                r0 = target - jac @ np.linalg.lstsq(jac, target, rcond=None)[0]
                s2 = float(r0 @ r0 / max(yv.size - p, 1))
            else:
                s2 = given_s2
            w = np.linalg.lstsq(jac.T @ jac + lam * s2 * np.eye(p), jac.T @ target, rcond=None)[0]
            self._w_model_dtype = torch.as_tensor(w, dtype=w0.dtype)
            jac, f, _ = self._jac(Xt)
        resid = yv - f
        if self.noise_std is None:
            dof = yv.size - p
            if dof <= 0:
                raise InputError(f"{yv.size} targets cannot estimate the noise of {p} last-layer weights; give noise_std")
            sigma2 = float(resid @ resid / dof)
            self.dof = float(dof)
        else:
            sigma2 = given_s2
            self.dof = None
        if self.hessian == "ggn":
            h = jac.T @ jac / sigma2 + lam * np.eye(p)
        else:
            h = self._exact_hessian(Xt, yv, sigma2, lam)
        cov = np.linalg.inv(h)
        self.noise_variance_ = sigma2
        self.hessian_ = h
        self.n_outputs_ = n_out
        self._set(w, 0.5 * (cov + cov.T))
        return self

    def _exact_hessian(self, Xt, yv, sigma2, lam):
        import torch

        yt = torch.as_tensor(yv, dtype=torch.float64)

        def loss(v):
            r = yt - self._forward(v.to(self._w_model_dtype.dtype), Xt).reshape(-1).double()
            return 0.5 * (r @ r) / sigma2 + 0.5 * lam * (v @ v)

        w = self._w_model_dtype.double()
        return torch.autograd.functional.hessian(loss, w).numpy()

    def _check(self):
        if not hasattr(self, "_mean"):
            raise NotFittedError("LaplacePosterior is not fitted yet; call fit(X, y) first")

    @property
    def mean(self):
        self._check()
        return super().mean

    @property
    def cov(self):
        self._check()
        return super().cov

    def predict(self, X, *, include_noise: bool = False):
        """Predictive mean f(x; w_MAP) and std √(J Σ Jᵀ [+ σ²]), each (N,) or (N, n_out)."""
        self._check()
        jac, f, n_out = self._jac(self._as_tensor(X))
        var = np.einsum("ip,pq,iq->i", jac, self._cov, jac)
        if include_noise:
            var = var + self.noise_variance_
        std = np.sqrt(np.clip(var, 0.0, None))
        shape = (-1,) if n_out == 1 else (-1, n_out)
        return f.reshape(shape), std.reshape(shape)
