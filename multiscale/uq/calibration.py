"""Calibration of interval estimates: empirical coverage in repeated synthetic experiments.

An interval procedure at nominal level L is calibrated when, over repeated experiments with a
known truth, its intervals contain the truth a fraction L of the time. With R independent
repeats the observed fraction p̂ has binomial standard error √(p̂(1 − p̂)/R) (≈ 0.7 % at
p = 0.95, R = 1000), which sets how tightly coverage can be checked.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, check_range


@dataclass(frozen=True)
class CoverageResult:
    """Observed coverage of ``n_repeats`` intervals at nominal ``level``."""

    level: float
    n_repeats: int
    hits: int
    mean_width: float

    @property
    def fraction(self) -> float:
        return self.hits / self.n_repeats

    @property
    def standard_error(self) -> float:
        p = self.fraction
        return float(np.sqrt(max(p * (1 - p), 1.0 / self.n_repeats) / self.n_repeats))

    def within(self, low: float, high: float) -> bool:
        return low <= self.fraction <= high

    def to_dict(self) -> dict:
        return {"nominal": self.level, "coverage": self.fraction, "coverage_se": self.standard_error,
                "n_repeats": self.n_repeats, "mean_width": self.mean_width}


def coverage_experiment(experiment, truth, *, n_repeats: int = 1000, seed: int = 0, level: float = 0.95,
                        progress: bool = False) -> CoverageResult:
    """Run ``experiment(rng, level) -> (low, high)`` ``n_repeats`` times; count hits of ``truth``.

    Each repeat gets its own generator spawned from ``seed`` (reproducible and independent).
    ``truth`` is a number or a callable ``truth()``. Intervals must be finite with low <= high.
    """
    n = int(check_range("n_repeats", n_repeats, low=1))
    t = float(truth() if callable(truth) else truth)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]
    if progress:
        from tqdm import tqdm

        rngs = tqdm(rngs, desc="coverage")
    hits, widths = 0, []
    for rng in rngs:
        low, high = experiment(rng, level)
        low, high = float(low), float(high)
        if not (np.isfinite(low) and np.isfinite(high) and low <= high):
            raise InputError(f"experiment returned an invalid interval ({low}, {high})")
        hits += low <= t <= high
        widths.append(high - low)
    return CoverageResult(level=level, n_repeats=n, hits=int(hits), mean_width=float(np.mean(widths)))
