"""``multiscale hybrid``: the SPMe + ML-corrector cell model."""
from __future__ import annotations

import click

from ._common import not_built


@click.group("hybrid")
def command() -> None:
    """Hybrid cell model: PyBaMM SPMe + ML residual corrector trained against the DFN."""


@command.command("simulate")
@click.option("--profile", "profile_csv", required=True, type=click.Path(dir_okay=False),
              help="CSV with columns 'Time [s]' and 'Current [A]' (positive = discharge).")
@click.option("--out", "out_csv", required=True, type=click.Path(dir_okay=False), help="Output CSV.")
@click.option("--temperature-K", "temperature_K", type=float, default=298.15, show_default=True)
@click.option("--initial-soc", type=float, default=1.0, show_default=True)
def simulate(profile_csv, out_csv, temperature_K, initial_soc) -> None:
    """Simulate a current profile with the shipped hybrid model."""
    not_built("the hybrid SPMe model", "issue: hybrid cell model")


@command.command("train")
def train() -> None:
    """Generate DFN/SPMe data and train the residual corrector."""
    not_built("hybrid corrector training", "issue: hybrid cell model")
