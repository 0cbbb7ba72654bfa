"""Find shipped artefacts (``models/``, ``data/``) from a checkout or an installed wheel.

In a source checkout (editable install included) they are the top-level folders next to the
package. In a wheel they are mapped to ``multiscale/_shipped/{models,data}`` (see setup.py).
The environment variables ``MULTISCALE_MODELS_DIR`` / ``MULTISCALE_DATA_DIR`` override both,
which is how a user points the package at artefacts they retrained.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import DataFileError

_PACKAGE_DIR = Path(__file__).resolve().parent
_KINDS = {
    "models": "MULTISCALE_MODELS_DIR",
    "data": "MULTISCALE_DATA_DIR",
    "benchmarks": "MULTISCALE_BENCHMARKS_DIR",
}


def _candidates(kind: str) -> list[Path]:
    env = os.environ.get(_KINDS[kind])
    out = [Path(env)] if env else []
    out.append(_PACKAGE_DIR.parent / kind)  # source checkout
    out.append(_PACKAGE_DIR / "_shipped" / kind)  # installed wheel
    return out


def shipped_dir(kind: str) -> Path:
    """The folder holding shipped ``kind`` artefacts (``"models"`` or ``"data"``)."""
    if kind not in _KINDS:
        raise DataFileError(f"kind = {kind!r} is not one of {sorted(_KINDS)}")
    for path in _candidates(kind):
        if path.is_dir():
            return path
    tried = ", ".join(str(p) for p in _candidates(kind))
    raise DataFileError(f"no shipped {kind}/ folder found (tried {tried})")


def shipped_path(kind: str, *parts: str, must_exist: bool = True) -> Path:
    """Path of a shipped artefact, e.g. ``shipped_path("models", "hybrid_chen2020", "card.md")``.

    Raises :class:`DataFileError` naming the file and the command that regenerates it when it
    is missing (``must_exist``).
    """
    for base in _candidates(kind):
        path = base.joinpath(*parts)
        if path.exists():
            return path
    if must_exist:
        rel = "/".join(parts)
        raise DataFileError(
            f"shipped artefact {kind}/{rel} not found; see {kind}/README.md for the command that regenerates it"
        )
    return shipped_dir(kind).joinpath(*parts)


def model_path(*parts: str, must_exist: bool = True) -> Path:
    return shipped_path("models", *parts, must_exist=must_exist)


def data_path(*parts: str, must_exist: bool = True) -> Path:
    return shipped_path("data", *parts, must_exist=must_exist)
