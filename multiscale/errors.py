"""Exception hierarchy.

Every error a *user* can cause (bad argument, bad file, bad config) derives from
:class:`MultiscaleError`. The CLI turns these into a one-line message and a non-zero exit
status; anything else is a bug and keeps its traceback.

Messages name the argument, the offending value and the allowed range, e.g.
``temperature_K = -5.0 is out of range: must be > 0``.
"""
from __future__ import annotations

import math
from typing import Any


class MultiscaleError(Exception):
    """Base class of all errors a user can cause and fix."""

    exit_code = 2


class InputError(MultiscaleError, ValueError):
    """An argument has a bad value, shape or type."""


class ConfigError(InputError):
    """A configuration file has an unknown key, a missing key or an out-of-range value."""


class DataFileError(MultiscaleError, FileNotFoundError):
    """A file the user named (or a shipped artefact) is missing or unreadable."""


class ConvergenceError(MultiscaleError, RuntimeError):
    """An iterative solver did not converge; the message carries a diagnosis."""

    exit_code = 3


class NotFittedError(MultiscaleError, AttributeError):
    """A learned model was used before ``fit`` (scikit-learn convention)."""


class NotBuiltError(MultiscaleError, NotImplementedError):
    """A part of the chain that is not implemented yet; said plainly, never faked."""

    exit_code = 4


class OutOfDomainError(InputError):
    """An input lies outside the domain a model was trained or validated on."""


def check_range(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``float(value)`` or raise :class:`InputError` naming ``name`` and the range.

    NaN and infinities are always rejected.
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} = {value!r} is not a number") from None
    if not math.isfinite(x):
        raise InputError(f"{name} = {value!r} is not finite")
    bad_low = low is not None and (x < low if low_inclusive else x <= low)
    bad_high = high is not None and (x > high if high_inclusive else x >= high)
    if bad_low or bad_high:
        raise InputError(f"{name} = {value!r} is out of range: must be {_describe(low, high, low_inclusive, high_inclusive)}")
    return x


def _describe(low, high, low_inclusive, high_inclusive) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>=' if low_inclusive else '>'} {low:g}")
    if high is not None:
        parts.append(f"{'<=' if high_inclusive else '<'} {high:g}")
    return " and ".join(parts) if parts else "finite"


def check_finite_array(name: str, array: Any):
    """Return ``array`` as a float ndarray, raising :class:`InputError` on NaN/inf."""
    import numpy as np

    a = np.asarray(array, dtype=float)
    if not np.all(np.isfinite(a)):
        bad = np.flatnonzero(~np.isfinite(a.ravel()))
        raise InputError(f"{name} contains {bad.size} non-finite value(s), first at flat index {bad[0]}")
    return a
