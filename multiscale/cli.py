"""The ``multiscale`` console script: a thin layer over the library.

Each command group lives in :mod:`multiscale.commands` next to the layer it drives. User
errors (:class:`multiscale.errors.MultiscaleError`, bad options, missing files) end in one
line on stderr and a non-zero exit status; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import os
import sys

import click

from . import __version__
from .errors import MultiscaleError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="multiscale")
def cli() -> None:
    """multiscale: electrochemistry from atoms to battery cells.

    ML-MD on a field-aware potential → interface analysis → continuum double layer and
    transport → PyBaMM cell models, with uncertainty carried along.
    """


def _register() -> None:
    from .commands import analyze, bench, export, hybrid, potential, run, screen

    for module in (run, hybrid, export, bench, analyze, potential, screen):
        cli.add_command(module.command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
    try:
        rv = cli.main(args=argv, prog_name="multiscale", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("multiscale: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"multiscale: error: {_one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except MultiscaleError as exc:
        click.echo(f"multiscale: error: {_one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)


def _one_line(message: str) -> str:
    return " ".join(message.split())


if __name__ == "__main__":  # pragma: no cover
    main()
