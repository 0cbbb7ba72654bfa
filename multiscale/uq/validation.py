"""Checks for the inputs of uncertainty propagation: a mean vector and its covariance matrix.

A covariance must be a square, symmetric, positive semi-definite matrix whose size matches the
mean. Symmetry is checked to a relative tolerance (``|Σ − Σᵀ| ≤ tol·max|Σ|``) and positive
semi-definiteness by the smallest eigenvalue (``λ_min ≥ −tol·λ_max``), so round-off from a
matrix product does not reject a valid covariance while a genuinely indefinite one is refused.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError, check_finite_array, check_range

#: relative tolerance of the symmetry and positive-semi-definiteness checks
COV_RTOL = 1e-8


def as_mean(name: str, mean) -> np.ndarray:
    """Return ``mean`` as a finite 1-D float array (a scalar becomes shape (1,))."""
    m = check_finite_array(name, mean)
    if m.ndim > 1:
        raise InputError(f"{name} must be a scalar or a 1-D vector, got an array of shape {m.shape}")
    return np.atleast_1d(m)


def as_covariance(name: str, cov, n: int, *, rtol: float = COV_RTOL) -> np.ndarray:
    """Return ``cov`` as a symmetric PSD (n, n) float array or raise :class:`InputError`.

    A scalar is accepted for ``n == 1`` (a variance); a 1-D array of length ``n`` is *not*
    silently taken as a diagonal — pass ``np.diag(std**2)`` explicitly.
    """
    c = check_finite_array(name, cov)
    if c.ndim == 0 and n == 1:
        c = c.reshape(1, 1)
    if c.shape != (n, n):
        raise InputError(
            f"{name} has shape {c.shape}; it must be ({n}, {n}) to match a mean of length {n}"
            + (" (for independent errors pass np.diag(std**2))" if c.shape == (n,) else "")
        )
    scale = float(np.max(np.abs(c))) if c.size else 0.0
    asym = float(np.max(np.abs(c - c.T))) if c.size else 0.0
    if asym > rtol * max(scale, np.finfo(float).tiny):
        raise InputError(f"{name} is not symmetric: max |cov - cov.T| = {asym:.3g} (allowed {rtol:g} x max|cov|)")
    c = 0.5 * (c + c.T)
    if scale > 0.0:
        eig = np.linalg.eigvalsh(c)
        if eig[0] < -rtol * max(eig[-1], 0.0) - np.finfo(float).tiny:
            raise InputError(
                f"{name} is not positive semi-definite: smallest eigenvalue {eig[0]:.3g} < 0 "
                f"(largest {eig[-1]:.3g}); a covariance must have eigenvalues >= 0"
            )
    return c


def as_mean_cov(mean, cov, *, mean_name: str = "mean", cov_name: str = "cov") -> tuple[np.ndarray, np.ndarray]:
    """Validate a (mean, covariance) pair; see :func:`as_mean` and :func:`as_covariance`."""
    m = as_mean(mean_name, mean)
    return m, as_covariance(cov_name, cov, m.size)


def check_level(level) -> float:
    """Return a confidence level in the open interval (0, 1)."""
    return check_range("level", level, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)

