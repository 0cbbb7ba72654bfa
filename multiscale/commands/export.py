"""``multiscale export``: derived parameters → PyBaMM."""
from __future__ import annotations

import click

from ._common import not_built


@click.group("export")
def command() -> None:
    """Export derived parameters to other codes."""


@command.command("pybamm")
@click.argument("source", type=click.Path())
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False), help="BPX JSON file to write.")
def pybamm_(source, out_file) -> None:
    """Write SOURCE's derived parameters as a BPX JSON file that PyBaMM loads."""
    not_built("export to PyBaMM", "issue: export and end-to-end chain")
