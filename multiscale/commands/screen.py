"""``multiscale screen``: materials screening on the convex hull.

CANDIDATES is a table of formulas and total energies (CSV/JSON, ``--calculator table``) or
structure files that are relaxed with an ASE calculator (``--calculator emt|chgnet|gfn1-xtb|
gfn2-xtb``); the output folder gets ``screen.csv`` (formation energy, E above hull,
decomposition, stable voltage window), ``phase_diagram.json`` and ``hull.png``.
"""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError
from ._common import quiet_option

CALCULATOR_CHOICES = ("table", "emt", "chgnet", "gfn1-xtb", "gfn2-xtb")


@click.command("screen")
@click.argument("candidates", nargs=-1, type=click.Path())
@click.option("--prototypes", default=None, type=click.Choice(["li-graphite"]),
              help="Screen a built-in set of structures instead of CANDIDATES (li-graphite: graphite, LiC12, "
                   "LiC6, Li; host C6) with --calculator.")
@click.option("--calculator", default="table", show_default=True, type=click.Choice(CALCULATOR_CHOICES),
              help="'table': CANDIDATES is one CSV/JSON of formula + energy_eV; else an ASE calculator that "
                   "relaxes the structure files given as CANDIDATES.")
@click.option("--out", "out_dir", default="screen_out", show_default=True, type=click.Path(file_okay=False),
              help="Output folder.")
@click.option("--open-element", default="Li", show_default=True,
              help="Element exchanged with a metal reservoir for the stability windows vs voltage.")
@click.option("--host", default=None, help="Host formula (e.g. CoO2): also write its insertion voltage profile.")
@click.option("--x-max", type=float, default=None, help="Largest x of the profile (default: most lithiated stable phase).")
@click.option("--fmax", "fmax_eV_A", type=float, default=0.05, show_default=True, help="Force tolerance [eV/Å].")
@click.option("--max-steps", type=int, default=300, show_default=True, help="Optimiser steps (0: single point).")
@click.option("--fixed-cell", is_flag=True, help="Relax atoms only (no cell filter).")
@click.option("--workers", "n_workers", type=int, default=0, show_default=True,
              help="Dask workers for relaxations (0: serial).")
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler.")
@quiet_option
def command(candidates, prototypes, calculator, out_dir, open_element, host, x_max, fmax_eV_A, max_steps, fixed_cell,
            n_workers, scheduler, quiet) -> None:
    """Formation energies, hull distances and stable voltage windows of CANDIDATES."""
    from ..thermo.screening import read_candidates_table, screen

    if prototypes is not None and (candidates or calculator == "table"):
        raise InputError("--prototypes replaces CANDIDATES and needs an ASE calculator (--calculator chgnet, ...)")
    if prototypes is None and not candidates:
        raise InputError("give CANDIDATES (structure files or one table) or --prototypes")
    if calculator == "table":
        if len(candidates) != 1:
            raise InputError(f"--calculator table takes one CSV/JSON file, got {len(candidates)} CANDIDATES")
        entries = read_candidates_table(candidates[0])
    else:
        from ..thermo.energies import read_structures, relax_many

        tables = [c for c in candidates if Path(c).suffix.lower() in (".csv", ".json")]
        if tables:
            raise InputError(f"{tables[0]!r} is a table of energies: use --calculator table, or give structure files")
        if prototypes is not None:
            from ..thermo.prototypes import prototype_structures

            structures, default_host = prototype_structures(prototypes)
            host = host or default_host
        else:
            structures = read_structures(candidates)
        relaxations = relax_many(structures, calculator, n_workers=n_workers, scheduler=scheduler,
                                 progress=not quiet, fmax_eV_A=fmax_eV_A, max_steps=max_steps,
                                 relax_cell=not fixed_cell)
        entries = [r.entry for r in relaxations]
        unconverged = [r.name for r in relaxations if not r.converged]
        if unconverged and not quiet:
            click.echo(f"warning: {len(unconverged)} relaxation(s) did not converge: {', '.join(unconverged)}", err=True)
    result = screen(entries, open_element=open_element, host=host, x_max=x_max)
    paths = result.write(out_dir)
    if not quiet:
        pd = result.phase_diagram
        click.echo(f"{len(pd.entries)} entries in {'-'.join(pd.elements)}, {len(pd.stable_entries)} stable: "
                   f"{', '.join(pd.stable_formulas)}")
        if result.voltage_profile is not None:
            click.echo(f"average voltage of {result.voltage_profile.host}: "
                       f"{result.voltage_profile.average_voltage_V():.3f} V vs {result.voltage_profile.element}")
        click.echo("wrote " + ", ".join(str(p) for p in paths.values()))
