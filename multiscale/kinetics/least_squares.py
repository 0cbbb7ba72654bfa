"""Weighted linear least squares with a parameter covariance and t-based confidence intervals,
shared by the transfer-coefficient and Stark fits.

With per-point errors σ_i the covariance is (XᵀWX)⁻¹, W = diag(1/σ_i²) (errors taken as
absolute); without, it is s²(XᵀX)⁻¹ with s² the residual variance on n − p degrees of freedom,
and the interval uses Student's t on n − p degrees of freedom (a normal quantile with absolute
errors). Reference: Press et al., *Numerical Recipes*, 3rd ed., §15.4.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from ..errors import InputError, check_finite_array


def linear_fit(design, y, y_err=None, *, confidence=0.95):
    """Return (params, cov, half_width, dof) of y ≈ design @ params."""
    x = np.asarray(design, dtype=float)
    y = check_finite_array("y", y)
    n, p = x.shape
    if n < p:
        raise InputError(f"need at least {p} data points for {p} parameters, got {n}")
    if y_err is not None:
        err = check_finite_array("err", y_err)
        err = np.broadcast_to(err, y.shape)
        if np.any(err <= 0):
            raise InputError(f"errors must be > 0, got min {err.min():.3g}")
        w = 1.0 / err
    else:
        w = np.ones(n)
    xw, yw = x * w[:, None], y * w
    params, *_ = np.linalg.lstsq(xw, yw, rcond=None)
    cov0 = np.linalg.inv(xw.T @ xw)
    dof = n - p
    if y_err is not None:
        cov = cov0
        q = stats.norm.ppf(0.5 + confidence / 2.0)
    else:
        if dof == 0:
            raise InputError(f"{n} data points for {p} parameters leave no degree of freedom for a confidence "
                             "interval: give more points or the per-point errors")
        resid = yw - xw @ params
        cov = cov0 * float(resid @ resid) / dof
        q = stats.t.ppf(0.5 + confidence / 2.0, dof)
    half = q * np.sqrt(np.diag(cov))
    return params, cov, half, dof
