"""Free-energy differences: thermodynamic integration and MBAR, with honest error bars.

Thermodynamic integration (Kirkwood 1935)::

    ΔF = F(λ=1) − F(λ=0) = ∫₀¹ ⟨∂U/∂λ⟩_λ dλ ≈ Σ_k w_k ⟨∂U/∂λ⟩_k

with quadrature weights w_k (trapezoid or Simpson over the given λ grid). Each per-λ mean
carries a standard error √(g_k s_k²/N_k), where g_k is the statistical inefficiency of the
correlated samples (g = 1 + 2τ, pymbar.timeseries; Chodera et al., JCTC 3, 26 (2007)); the
errors are independent across λ windows, so err(ΔF) = √(Σ_k w_k² se_k²). Units are those of
the samples (eV for ASE energies).

MBAR (Shirts & Chodera, JCP 129, 124105 (2008)) solves the self-consistent equations

    f_i = −ln Σ_n exp(−u_i(x_n)) / Σ_k N_k exp(f_k − u_k(x_n))

for the dimensionless free energies f_i of K states from reduced potentials u_kn = β_k U_k(x_n)
evaluated on all N = Σ N_k pooled samples. pymbar's default solver can stop without converging
and without saying so (pymbar issue #544): :func:`mbar` uses the "robust" protocol, then checks
the self-consistency residual itself and raises :class:`ConvergenceError` when it is not met.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import simpson
from scipy.special import logsumexp

from ..errors import ConvergenceError, InputError, check_finite_array, check_range

_TI_METHODS = ("trapezoid", "simpson")


# --------------------------------------------------------------------------------------------
# thermodynamic integration
# --------------------------------------------------------------------------------------------
def statistical_inefficiency(samples) -> float:
    """g = 1 + 2τ of a correlated time series (pymbar.timeseries); 1 for a constant series."""
    from pymbar import timeseries

    a = np.asarray(samples, dtype=float)
    if a.size < 3 or np.ptp(a) == 0.0:
        return 1.0
    return max(1.0, float(timeseries.statistical_inefficiency(a)))


def quadrature_weights(lambdas, method: str = "trapezoid") -> np.ndarray:
    """Weights w_k with ∫ y dλ ≈ Σ_k w_k y_k on the (increasing) grid ``lambdas``."""
    lam = check_finite_array("lambdas", lambdas)
    if method not in _TI_METHODS:
        raise InputError(f"method = {method!r} is unknown; choose one of {', '.join(_TI_METHODS)}")
    if lam.ndim != 1 or lam.size < (3 if method == "simpson" else 2):
        raise InputError(f"lambdas needs >= {3 if method == 'simpson' else 2} values for {method}, got {lam.size}")
    if np.any(np.diff(lam) <= 0):
        raise InputError(f"lambdas must be strictly increasing, got {lam.tolist()}")
    eye = np.eye(lam.size)
    if method == "trapezoid":
        return np.trapezoid(eye, x=lam, axis=1)
    return simpson(eye, x=lam, axis=1)


def thermodynamic_integration(lambdas, dudl_samples, *, method: str = "trapezoid",
                              correlated: bool = True) -> tuple[float, float]:
    """ΔF = ∫ ⟨∂U/∂λ⟩ dλ and its standard error from per-λ samples of ∂U/∂λ.

    Parameters
    ----------
    lambdas : (K,) strictly increasing coupling parameters.
    dudl_samples : sequence of K 1-D arrays (lengths may differ) or a (K, N) array; samples of
        ∂U/∂λ in state λ_k, in time order when ``correlated`` (their unit is ΔF's unit).
    method : "trapezoid" (default) or "simpson" quadrature over λ.
    correlated : estimate each window's statistical inefficiency g_k (pymbar.timeseries) and
        inflate its standard error by √g_k; False treats samples as independent.

    Returns
    -------
    (dF, err) : floats. ``err`` is the statistical error only (quadrature error is not included:
    refine the λ grid until trapezoid and Simpson agree).
    """
    w = quadrature_weights(lambdas, method)
    windows = list(dudl_samples)  # rows of a (K, N) array or a sequence of K 1-D arrays
    if len(windows) != w.size:
        raise InputError(f"dudl_samples has {len(windows)} windows; lambdas has {w.size}")
    means, ses = np.empty(w.size), np.empty(w.size)
    for k, s in enumerate(windows):
        a = check_finite_array(f"dudl_samples[{k}]", s).ravel()
        if a.size < 2:
            raise InputError(f"dudl_samples[{k}] has {a.size} sample(s); need >= 2 for an error estimate")
        g = statistical_inefficiency(a) if correlated else 1.0
        means[k] = a.mean()
        ses[k] = a.std(ddof=1) * np.sqrt(g / a.size)
    return float(w @ means), float(np.sqrt(np.sum(w**2 * ses**2)))


# --------------------------------------------------------------------------------------------
# MBAR
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MBARResult:
    """Dimensionless free energies (units of kT) of K states from MBAR.

    ``f_k`` (K,) relative to state 0; ``delta_f[i, j] = f_j − f_i`` and ``delta_f_error[i, j]``
    its asymptotic standard error (pymbar); ``overlap`` is 1 − λ₂ of the overlap matrix (0 means
    disconnected states, small values < 0.03 unreliable); ``residual`` the max deviation from
    self-consistency after solving.
    """

    f_k: np.ndarray
    delta_f: np.ndarray
    delta_f_error: np.ndarray
    overlap: float
    residual: float

    def between(self, i: int, j: int) -> tuple[float, float]:
        """(f_j − f_i, its standard error)."""
        return float(self.delta_f[i, j]), float(self.delta_f_error[i, j])

    def plot(self, ax=None):
        """Error-bar plot of f_k − f_0 against the state index."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        k = np.arange(self.f_k.size)
        ax.errorbar(k, self.delta_f[0], yerr=self.delta_f_error[0], marker="o", capsize=3)
        ax.set_xlabel("state k")
        ax.set_ylabel("f_k − f_0 [kT]")
        return ax


def mbar_residual(u_kn: np.ndarray, n_k: np.ndarray, f_k: np.ndarray) -> float:
    """max_i |f_i^new − f_i| (both shifted so f_0 = 0) after one self-consistent MBAR update."""
    occupied = n_k > 0
    log_denom = logsumexp(f_k[occupied, None] - u_kn[occupied] + np.log(n_k[occupied, None]), axis=0)
    f_new = -logsumexp(-u_kn - log_denom[None, :], axis=1)
    return float(np.max(np.abs((f_new - f_new[0]) - (f_k - f_k[0]))))


def mbar(u_kn, n_k, *, solver_protocol: str = "robust", relative_tolerance: float = 1e-10,
         residual_tolerance: float = 1e-6, maximum_iterations: int = 10_000) -> MBARResult:
    """MBAR free energies of K states from pooled reduced potentials (pymbar 4).

    Parameters
    ----------
    u_kn : (K, N) reduced potentials u_k(x_n) = β_k U_k(x_n) [dimensionless] of every pooled
        sample n in every state k; samples ordered by the state they were drawn from.
    n_k : (K,) number of samples drawn from each state (Σ n_k = N; zeros allowed for
        unsampled states).
    solver_protocol : passed to ``pymbar.MBAR`` ("robust" by default).
    residual_tolerance : largest accepted self-consistency residual in kT.

    Raises
    ------
    InputError for bad shapes/values; ConvergenceError when pymbar fails or the solution is not
    self-consistent to ``residual_tolerance``.
    """
    u = check_finite_array("u_kn", u_kn)
    n = np.asarray(n_k)
    if u.ndim != 2:
        raise InputError(f"u_kn must be a 2-D (n_states, n_samples) array, got shape {u.shape}")
    if n.shape != (u.shape[0],) or not np.all(np.isfinite(n.astype(float))) or np.any(n < 0) \
            or np.any(n != np.round(n)):
        raise InputError(f"n_k must be {u.shape[0]} non-negative integers (one per state), got {n_k!r}")
    n = n.astype(int)
    if n.sum() != u.shape[1]:
        raise InputError(f"sum(n_k) = {n.sum()} does not match the {u.shape[1]} samples (columns) of u_kn")
    if u.shape[0] < 2:
        raise InputError(f"MBAR needs >= 2 states, got {u.shape[0]}")
    tol = check_range("residual_tolerance", residual_tolerance, low=0.0, low_inclusive=False)
    from pymbar import MBAR
    from pymbar.utils import ParameterError

    try:
        m = MBAR(u, n, solver_protocol=solver_protocol, relative_tolerance=relative_tolerance,
                 maximum_iterations=int(maximum_iterations))
    except (ParameterError, np.linalg.LinAlgError, FloatingPointError) as exc:
        raise ConvergenceError(f"pymbar MBAR failed: {exc}") from exc
    f_k = np.asarray(m.f_k, dtype=float)
    if not np.all(np.isfinite(f_k)):
        raise ConvergenceError(f"MBAR returned non-finite free energies {f_k.tolist()}")
    res = mbar_residual(u, n, f_k)
    if not res <= tol:
        raise ConvergenceError(
            f"MBAR did not converge: self-consistency residual {res:.3g} kT > residual_tolerance {tol:g} "
            f"(solver_protocol={solver_protocol!r}, maximum_iterations={maximum_iterations}); check state overlap")
    out = m.compute_free_energy_differences(compute_uncertainty=True)
    overlap = float(m.compute_overlap()["scalar"])
    d, de = np.asarray(out["Delta_f"], float), np.asarray(out["dDelta_f"], float)
    if not np.all(np.isfinite(de)):
        raise ConvergenceError("MBAR uncertainties are not finite (states without overlap?)")
    return MBARResult(f_k=f_k - f_k[0], delta_f=d, delta_f_error=de, overlap=overlap, residual=res)
