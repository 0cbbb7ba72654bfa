"""``multiscale hybrid``: the SPMe + ML-corrector cell model (simulate, generate-data, train)."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import DataFileError, InputError
from ._common import quiet_option

# Per-case solves and training checkpoints live outside the checkout (resumable runs).
DEFAULT_WORK_DIR = Path.home() / ".cache" / "multiscale" / "hybrid"


@click.group("hybrid")
def command() -> None:
    """Hybrid cell model: PyBaMM SPMe + ML residual corrector trained against the DFN."""


@command.command("simulate")
@click.option("--profile", "profile_csv", required=True, type=click.Path(dir_okay=False),
              help="CSV with columns 'Time [s]' and 'Current [A]' (positive = discharge).")
@click.option("--out", "out_csv", required=True, type=click.Path(dir_okay=False), help="Output CSV.")
@click.option("--temperature-K", "temperature_K", type=float, default=298.15, show_default=True)
@click.option("--initial-soc", type=float, default=1.0, show_default=True)
@click.option("--model-dir", type=click.Path(file_okay=False), default=None,
              help="A retrained model folder (default: the shipped hybrid_chen2020).")
def simulate(profile_csv, out_csv, temperature_K, initial_soc, model_dir) -> None:
    """Simulate a current profile with the shipped hybrid model."""
    import pandas as pd

    from ..battery import HybridSPMe
    from ..io import atomic_path

    path = Path(profile_csv)
    if not path.is_file():
        raise DataFileError(f"--profile {profile_csv!r}: file not found")
    try:
        prof = pd.read_csv(path)
    except (ValueError, OSError) as exc:
        raise DataFileError(f"--profile {profile_csv!r} is not a readable CSV: {exc}") from None
    missing = [c for c in ("Time [s]", "Current [A]") if c not in prof.columns]
    if missing:
        raise InputError(f"--profile {profile_csv!r} lacks column(s) {missing}; has {list(prof.columns)}")
    try:
        t = prof["Time [s]"].to_numpy(dtype=float)
        i = prof["Current [A]"].to_numpy(dtype=float)
    except ValueError:
        raise InputError(f"--profile {profile_csv!r}: 'Time [s]' and 'Current [A]' must be numbers") from None
    model = HybridSPMe.load(directory=model_dir) if model_dir else HybridSPMe.load()
    df = model.simulate(t, i, ambient_temperature_K=temperature_K, initial_soc=initial_soc)
    with atomic_path(out_csv) as tmp:
        df.to_csv(tmp, index=False)
    n_out = int(df["Out of envelope"].sum())
    click.echo(f"wrote {len(df)} rows to {out_csv} ({df.attrs['termination']}"
               + (f"; {n_out} rows outside the training envelope" if n_out else "") + ")", err=True)


def _generate(work_dir, data_dir, n_train, n_heldout, n_workers, scheduler, seed, quiet):
    from ..battery.datagen import design_cases, generate, pack

    cases = design_cases(n_train, n_heldout, seed=seed)
    rows = generate(work_dir, cases, n_workers=n_workers, scheduler=scheduler, progress=not quiet)
    failed = [r for r in rows if r["status"] == "failed"]
    pack(work_dir, data_dir)
    click.echo(f"{len(rows) - len(failed)} cases ok, {len(failed)} failed (see {data_dir}/manifest.json)", err=True)


_data_options = [
    click.option("--data-dir", type=click.Path(file_okay=False), default="data/hybrid_chen2020", show_default=True),
    click.option("--work-dir", type=click.Path(file_okay=False), default=str(DEFAULT_WORK_DIR), show_default=True,
                 help="Per-case files and checkpoints (a rerun resumes from here)."),
]


def _add(options):
    def deco(f):
        for opt in reversed(options):
            f = opt(f)
        return f
    return deco


_gen_options = [
    click.option("--n-train", type=int, default=280, show_default=True),
    click.option("--n-heldout", type=int, default=63, show_default=True),
    click.option("--n-workers", type=int, default=1, show_default=True, help="Dask workers (0 = serial)."),
    click.option("--scheduler", default=None, help="Address of an existing Dask scheduler."),
    click.option("--seed", type=int, default=0, show_default=True),
]


@command.command("generate-data")
@_add(_data_options + _gen_options)
@quiet_option
def generate_data(data_dir, work_dir, n_train, n_heldout, n_workers, scheduler, seed, quiet) -> None:
    """Solve DFN and guarded SPMe on the protocol set (resumable) and pack DATA_DIR."""
    _generate(Path(work_dir) / "cases-run", data_dir, n_train, n_heldout, n_workers, scheduler, seed, quiet)


@command.command("train")
@_add(_data_options + _gen_options)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="models/hybrid_chen2020",
              show_default=True)
@click.option("--generate-data", "gen", is_flag=True, help="Generate (or resume) the dataset first.")
@click.option("--members", type=int, default=5, show_default=True)
@click.option("--epochs", type=int, default=150, show_default=True)
@click.option("--compare-memory", is_flag=True, help="Also train no-memory and GRU variants for the card.")
@quiet_option
def train(data_dir, work_dir, n_train, n_heldout, n_workers, scheduler, seed, out_dir, gen, members, epochs,
          compare_memory, quiet) -> None:
    """Generate DFN/SPMe data (optional) and train the residual corrector ensemble."""
    import json

    from ..battery.training import train_and_save

    if gen:
        _generate(Path(work_dir) / "cases-run", data_dir, n_train, n_heldout, n_workers, scheduler, seed, quiet)
    if members < 1 or epochs < 1:
        raise InputError(f"--members = {members} and --epochs = {epochs} must be >= 1")
    command = (f"multiscale hybrid train{' --generate-data' if gen else ''} --data-dir {data_dir} --out {out_dir} "
               f"--members {members} --epochs {epochs} --seed {seed}{' --compare-memory' if compare_memory else ''}")
    summary = train_and_save(data_dir, out_dir, Path(work_dir) / f"train-seed{seed}-m{members}-e{epochs}",
                             n_members=members, epochs=epochs, seed=seed, progress=not quiet,
                             compare_memory=compare_memory, command=command)
    click.echo(json.dumps(summary["heldout"], indent=2))
