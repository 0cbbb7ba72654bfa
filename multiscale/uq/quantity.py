"""A derived number with its unit, standard uncertainty, confidence interval and provenance.

:class:`Estimate` is the value object other layers put in their summaries (pipeline report,
``summary.json``): ``Estimate(0.48, "1", std=0.03, provenance="fit_transfer_coefficient")``.
The interval defaults to the symmetric ``value ± k·std`` at ``level`` (k the normal quantile, or
Student's t with ``dof``); an explicit ``interval`` (e.g. Monte Carlo percentiles, which need
not be symmetric) overrides it. Units are strings in the PyBaMM/SI style used across the
package ("V", "F.m-2", "m2.s-1", "eV", "1" for dimensionless).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError, check_range
from .propagation import delta_method, interval as _interval, sample_interval
from .validation import check_level


@dataclass(frozen=True)
class Estimate:
    """value ± std [unit], with a ``level`` confidence interval and where it came from."""

    value: float
    unit: str
    std: float
    level: float = 0.95
    interval: tuple[float, float] | None = None
    dof: float | None = None
    provenance: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self):
        v = check_range("value", self.value)
        s = check_range("std", self.std, low=0.0)
        lv = check_level(self.level)
        object.__setattr__(self, "value", v)
        object.__setattr__(self, "std", s)
        object.__setattr__(self, "level", lv)
        if self.interval is None:
            object.__setattr__(self, "interval", _interval(v, s, lv, dof=self.dof))
        else:
            low, high = (check_range("interval[0]", self.interval[0]), check_range("interval[1]", self.interval[1]))
            if low > high:
                raise InputError(f"interval = ({low}, {high}) has low > high")
            object.__setattr__(self, "interval", (low, high))

    # --- constructors -------------------------------------------------------------------------
    @classmethod
    def from_delta_method(cls, func, mean, cov, *, unit: str, level: float = 0.95, dof: float | None = None,
                          provenance: str = "delta method", **kwargs) -> "Estimate":
        """Propagate θ ~ N(mean, cov) through a scalar ``func`` (see :func:`delta_method`)."""
        value, std = delta_method(func, mean, cov, **kwargs)
        if np.ndim(value) != 0:
            raise InputError("Estimate.from_delta_method needs a scalar-valued func")
        return cls(value, unit, std, level=level, dof=dof, provenance=provenance)

    @classmethod
    def from_samples(cls, samples, *, unit: str, level: float = 0.95, provenance: str = "Monte Carlo") -> "Estimate":
        """Mean, std (ddof=1) and percentile interval of 1-D ``samples``."""
        a = np.asarray(samples, dtype=float).ravel()
        if a.size < 2 or not np.all(np.isfinite(a)):
            raise InputError(f"samples needs >= 2 finite values, got {a.size} (finite: {int(np.isfinite(a).sum())})")
        return cls(float(a.mean()), unit, float(a.std(ddof=1)), level=level, interval=sample_interval(a, level),
                   provenance=provenance, meta={"n_samples": int(a.size)})

    # --- use ----------------------------------------------------------------------------------
    @property
    def relative_std(self) -> float:
        return self.std / abs(self.value) if self.value != 0 else math.inf

    def contains(self, x: float) -> bool:
        """True when ``x`` lies in the interval (e.g. a reference value)."""
        return self.interval[0] <= float(x) <= self.interval[1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: value, unit, std, level, interval [low, high], provenance."""
        return {"value": self.value, "unit": self.unit, "std": self.std, "level": self.level,
                "interval": [self.interval[0], self.interval[1]], "dof": self.dof, "provenance": self.provenance}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Estimate":
        try:
            return cls(d["value"], d["unit"], d["std"], level=d.get("level", 0.95),
                       interval=tuple(d["interval"]) if d.get("interval") is not None else None,
                       dof=d.get("dof"), provenance=d.get("provenance", ""))
        except KeyError as exc:
            raise InputError(f"Estimate dict is missing key {exc.args[0]!r}") from None

    def __format__(self, spec: str) -> str:
        spec = spec or ".4g"
        lo, hi = self.interval
        unit = "" if self.unit in ("", "1") else f" {self.unit}"
        return (f"{self.value:{spec}} ± {self.std:.2g}{unit} "
                f"({100 * self.level:g} % CI {lo:{spec}} to {hi:{spec}})")

    def __str__(self) -> str:
        return format(self, "")


#: alias: a physical quantity with uncertainty
Quantity = Estimate
