"""``multiscale analyze``: trajectory analysis."""
from __future__ import annotations

import click

from ._common import not_built


@click.command("analyze")
@click.argument("trajectory", type=click.Path())
@click.option("--what", type=click.Choice(["rdf", "msd", "diffusion-profile", "potential-profile"]), required=True)
def command(trajectory, what) -> None:
    """Analyse a trajectory (any format ASE reads)."""
    not_built("trajectory analysis", "issue: trajectory analysis")
