"""``multiscale export``: derived parameters → PyBaMM."""
from __future__ import annotations

import click


@click.group("export")
def command() -> None:
    """Export derived parameters to other codes."""


@command.command("pybamm")
@click.argument("source", type=click.Path())
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False), help="BPX JSON file to write.")
@click.option("--module", "module_file", type=click.Path(dir_okay=False), default=None,
              help="Also write a parameter-set module for PyBaMM's pybamm_parameter_sets entry point.")
def pybamm_(source, out_file, module_file) -> None:
    """Write SOURCE's derived parameters (a run folder or a JSON file) as a BPX JSON file.

    PyBaMM loads it with ``pybamm.ParameterValues.create_from_bpx(FILE)``.
    """
    from ..battery.export import export_parameters, load_derived, write_bpx, write_parameter_set_module

    derived, base_set = load_derived(source)
    export = export_parameters(derived, base_set=base_set)
    write_bpx(export, out_file)
    if module_file:
        write_parameter_set_module(export, module_file)
    click.echo(f"wrote {out_file} (base set {base_set}; replaced: {', '.join(export.replaced) or 'nothing'})")
