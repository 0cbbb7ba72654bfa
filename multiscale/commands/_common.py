"""Helpers shared by the CLI command modules."""
from __future__ import annotations

import click

from ..errors import NotBuiltError


def not_built(what: str, issue: str) -> None:
    """Say plainly that a part is not built yet (exit status 4), never fake output."""
    raise NotBuiltError(f"{what} is not built yet ({issue})")


quiet_option = click.option("--quiet", "-q", is_flag=True, help="Silence progress output.")
