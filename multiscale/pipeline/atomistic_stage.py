"""Atomistic stages of ``multiscale run``: ML-MD, trajectory analysis, reactions (α from E_a(φ))."""
from __future__ import annotations

from ..errors import NotBuiltError


def _require_potential():
    try:
        from ..atomistic import load_potential  # noqa: F401
    except ImportError as exc:
        raise NotBuiltError(f"the atomistic ML potential is not built yet ({exc})") from None
    return load_potential


def run_md(ctx) -> dict:
    _require_potential()
    raise NotBuiltError("the ML-MD stage is not wired yet")


def run_analysis(ctx) -> dict:
    if "md" not in ctx.results:
        raise NotBuiltError("trajectory analysis needs the md stage, which did not run")
    raise NotBuiltError("the analysis stage is not wired yet")


def run_reactions(ctx) -> dict:
    if "md" not in ctx.results:
        raise NotBuiltError("the reactions stage needs the ML potential, which is not built yet")
    raise NotBuiltError("the reactions stage is not wired yet")
