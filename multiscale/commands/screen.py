"""``multiscale screen``: materials screening on the convex hull."""
from __future__ import annotations

import click

from ._common import not_built


@click.command("screen")
@click.argument("candidates", type=click.Path())
@click.option("--calculator", default="table", show_default=True)
def command(candidates, calculator) -> None:
    """Formation energies, hull distances and stable voltage windows of CANDIDATES."""
    not_built("materials screening", "issue: materials screening")
