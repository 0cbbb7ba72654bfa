"""``multiscale potential``: the field-aware ML potential."""
from __future__ import annotations

import click

from ._common import not_built


@click.group("potential")
def command() -> None:
    """Train and evaluate the field-aware ML potential."""


@command.command("train")
def train() -> None:
    """Train the ML potential ensemble on labelled data."""
    not_built("ML potential training", "issue: atomistic ML potential")


@command.command("evaluate")
def evaluate() -> None:
    """Evaluate the ML potential against its reference."""
    not_built("ML potential evaluation", "issue: atomistic ML potential")
