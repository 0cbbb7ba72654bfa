"""``multiscale analyze``: trajectory analysis → CSV table + PNG figure (thin CLI layer)."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import DataFileError, InputError
from ._common import quiet_option


def _species(value):
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",") if p.strip()]
    return parts or None


@click.command("analyze")
@click.argument("trajectory", type=click.Path())
@click.option("--what", type=click.Choice(["rdf", "msd", "diffusion-profile", "potential-profile"]), required=True)
@click.option("--species", default=None, help="Element(s), comma separated (centre species for rdf).")
@click.option("--species-b", default=None, help="rdf: neighbour element(s) (default: --species).")
@click.option("--bins", type=int, default=None, help="Number of bins (rdf: r bins; profiles: layers).")
@click.option("--r-max", "r_max_A", type=float, default=8.0, show_default=True, help="rdf: range [Å].")
@click.option("--timestep-ps", type=float, default=None, help="Time between saved frames [ps] (msd, diffusion).")
@click.option("--axis", type=click.IntRange(0, 2), default=2, show_default=True, help="Interface normal.")
@click.option("--charges", default=None, help="potential-profile: fixed charges, e.g. 'Na=1,Cl=-1' "
              "(default: charges stored in the trajectory).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Output folder.")
@quiet_option
def command(trajectory, what, species, species_b, bins, r_max_A, timestep_ps, axis, charges, out_dir, quiet) -> None:
    """Analyse TRAJECTORY (any format ASE reads); writes OUT/<what>.csv and OUT/<what>.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from .. import analysis
    from ..io import atomic_path

    if not Path(trajectory).exists():
        raise DataFileError(f"trajectory {trajectory!r} does not exist")
    out = Path(out_dir)
    sp = _species(species)
    if what == "rdf":
        a = analysis.RDF(sp, _species(species_b) or sp, r_max_A=r_max_A, n_bins=bins or 100, progress=not quiet)
        res = a.run(trajectory).results
        df = res.to_dataframe(["r", "g(r)", "coordination number"])
        ax = res.plot("g(r)")
        summary = {k: res.meta[k] for k in ("first_peak_r_A", "first_peak_height", "first_min_r_A",
                                            "coordination_number")}
    elif what == "msd":
        if timestep_ps is None:
            raise InputError("--timestep-ps is required for msd (the spacing of saved frames)")
        res = analysis.MSD(sp, progress=not quiet).run(trajectory, timestep_ps=timestep_ps).results
        df = res.to_dataframe(["lag time", "MSD"])
        ax = res.plot("MSD")
        summary = {"D [m2.s-1]": res.meta["diffusivity_m2_s"], "D error [m2.s-1]": res.meta["diffusivity_error_m2_s"],
                   "fit window [s]": res.meta["fit_window_s"]}
    elif what == "diffusion-profile":
        if timestep_ps is None:
            raise InputError("--timestep-ps is required for diffusion-profile (the spacing of saved frames)")
        chunk = analysis.read_all(trajectory)
        cell = chunk.require_cell("diffusion-profile (unwrapping)")
        df = analysis.diffusion_profile(chunk.positions, np.arange(chunk.n_frames) * timestep_ps, cell, axis=axis,
                                        species=sp, symbols=chunk.symbols, n_bins=bins or 10)
        ax = analysis.plot_diffusion_profile(df)
        ok = ~df["no data"]
        summary = {"layers": len(df), "layers without data": int((~ok).sum())}
    else:
        fixed = None
        if charges:
            try:
                fixed = {k.strip(): float(v) for k, v in (p.split("=") for p in charges.split(","))}
            except ValueError:
                raise InputError(f"--charges = {charges!r}: expected 'El=q,El=q' (charges in e)") from None
        first = analysis.read_all(trajectory, index="0")
        cell = first.require_cell("potential-profile (cross-section area)")[0]
        lo, hi = 0.0, float(np.linalg.norm(cell[axis]))
        cd = analysis.ChargeDensity(np.linspace(lo, hi, (bins or 200) + 1), axis=axis, fixed_charges=fixed,
                                    progress=not quiet)
        res = cd.run(trajectory).results
        df = res.to_dataframe(["z", "charge density", "potential", "field"])
        ax = res.plot("potential")
        summary = {"potential drop [V]": res.meta["potential_drop_V"], "boundary": res.meta["boundary"]}
    stem = what.replace("-", "_")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / f"{stem}.csv") as tmp:
        df.to_csv(tmp, index=False)
    with atomic_path(out / f"{stem}.png") as tmp:
        ax.figure.tight_layout()
        ax.figure.savefig(tmp, dpi=120, format="png")
    plt.close(ax.figure)
    click.echo(f"wrote {out / (stem + '.csv')} and {out / (stem + '.png')}")
    for k, v in summary.items():
        click.echo(f"  {k}: {v}")
