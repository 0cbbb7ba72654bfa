"""Uncertainty layer: posteriors → delta method / Monte Carlo → confidence intervals.

Typical use (the seed's example)::

    from multiscale.uq import GaussianPosterior, delta_method, interval, Estimate
    post = GaussianPosterior(mean, cov)                 # over constitutive-model parameters θ
    c, c_std = delta_method(capacitance_of_theta, post.mean, post.cov)
    low, high = interval(c, c_std, 0.95)
    est = Estimate(c, "F.m-2", c_std, provenance="GCS model, delta method")

Other layers report a derived number as an :class:`Estimate` (value, unit, std, interval,
provenance); fits report a :class:`LeastSquaresPosterior` (or its mean/cov), ML ensembles an
:class:`EnsemblePosterior`, and torch models a :class:`LaplacePosterior`.
"""
from .calibration import CoverageResult, coverage_experiment
from .laplace import LaplacePosterior
from .posteriors import EnsemblePosterior, GaussianPosterior, LeastSquaresPosterior, Posterior
from .propagation import (
    MonteCarloResult,
    coverage,
    delta_method,
    interval,
    jacobian,
    monte_carlo,
    quantile_factor,
    sample_interval,
)
from .quantity import Estimate, Quantity
from .validation import as_covariance, as_mean_cov

__all__ = [
    "CoverageResult",
    "coverage_experiment",
    "EnsemblePosterior",
    "Estimate",
    "GaussianPosterior",
    "LaplacePosterior",
    "LeastSquaresPosterior",
    "MonteCarloResult",
    "Posterior",
    "Quantity",
    "as_covariance",
    "as_mean_cov",
    "coverage",
    "delta_method",
    "interval",
    "jacobian",
    "monte_carlo",
    "quantile_factor",
    "sample_interval",
]
