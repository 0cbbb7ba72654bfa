"""``multiscale potential``: label reference data, train and evaluate the field-aware ML potential."""
from __future__ import annotations

import json

import click

from ._common import quiet_option

_DEFAULT_DB = "data/xtb_li_ec_graphene/labels.db"
_DEFAULT_MODEL_DIR = "models/mlp_li_ec_graphene"


def _floats(text: str) -> list[float]:
    from ..errors import InputError

    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"{text!r} must be a comma-separated list of numbers") from None


def _compositions(text: str) -> list[tuple[int, int]]:
    from ..errors import InputError

    try:
        return [(int(c.split(":")[0]), int(c.split(":")[1])) for c in text.split(",") if c.strip()]
    except (ValueError, IndexError):
        raise InputError(f"compositions = {text!r} must look like '5:1,8:1' (n_EC:n_LiBF4 pairs)") from None


@click.group("potential")
def command() -> None:
    """Label, train and evaluate the field-aware ML potential."""


@command.command("label")
@click.option("--db", "db_path", default=_DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
              help="ASE SQLite database to (re)fill; existing tasks are skipped.")
@click.option("--method", default="GFN1-xTB", show_default=True, type=click.Choice(["GFN1-xTB", "GFN2-xTB"]))
@click.option("--fields", default="-0.1,-0.05,0,0.05,0.1", show_default=True, help="Training fields [V/Å].")
@click.option("--heldout-fields", default="0.075", show_default=True, help="Held-out fields [V/Å].")
@click.option("--temperatures", default="300,600", show_default=True, help="MD temperatures [K].")
@click.option("--seeds", default="0,1,2", show_default=True, help="Packing/MD seeds.")
@click.option("--n-steps", default=80, show_default=True, type=int, help="Labelled MD steps per task.")
@click.option("--timestep-fs", default=1.0, show_default=True, type=float)
@click.option("--store-every", default=1, show_default=True, type=click.IntRange(min=1),
              help="Keep every k-th MD step as a row (the reference still drives every step).")
@click.option("--system", type=click.Choice(["interface", "bulk"]), default="interface", show_default=True,
              help="Graphene/EC/LiBF4 interface cells, or bulk LiBF4/EC cubes (give --fields 0).")
@click.option("--compositions", default="5:1", show_default=True,
              help="Bulk only: comma-separated n_EC:n_LiBF4 cell compositions, e.g. 5:1,8:1,6:2.")
@click.option("--n-workers", default=1, show_default=True, type=int, help="Dask workers (0 = serial).")
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler.")
@click.option("--extxyz", default=None, type=click.Path(dir_okay=False), help="Also export all rows as extxyz.")
@click.option("--candidates", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Label the active-learning candidates of `potential explore` instead: reference MD of "
                   "--n-steps from each (every --store-every-th step kept), at its own field and temperature.")
@quiet_option
def label(db_path, method, fields, heldout_fields, temperatures, seeds, n_steps, timestep_fs, store_every, system,
          compositions, n_workers, scheduler, extxyz, candidates, quiet) -> None:
    """Label reference-MD configurations (xTB with an applied field) into an ASE database."""
    from ..atomistic.labelling import export_extxyz, generate_reference_md

    if candidates:
        from ..atomistic.active_learning import label_candidates, read_candidates

        n = label_candidates(read_candidates(candidates), db_path, reference_steps=n_steps, store_every=store_every,
                             timestep_fs=timestep_fs, method=method, seed=int(_floats(seeds)[0]),
                             n_workers=n_workers, scheduler=scheduler, progress=not quiet)
        click.echo(f"wrote {n} labelled configurations from {candidates} to {db_path}")
        if extxyz:
            click.echo(f"exported {export_extxyz(db_path, extxyz)} frames to {extxyz}")
        return
    n = generate_reference_md(db_path, fields_V_per_A=_floats(fields), heldout_fields_V_per_A=_floats(heldout_fields),
                              temperatures_K=_floats(temperatures), seeds=[int(s) for s in _floats(seeds)],
                              n_steps=n_steps, timestep_fs=timestep_fs, method=method, store_every=store_every,
                              system=system, compositions=_compositions(compositions), n_workers=n_workers,
                              scheduler=scheduler, progress=not quiet)
    click.echo(f"wrote {n} labelled configurations to {db_path}")
    if extxyz:
        click.echo(f"exported {export_extxyz(db_path, extxyz)} frames to {extxyz}")


@command.command("train")
@click.option("--db", "db_paths", default=(_DEFAULT_DB,), show_default=True, type=click.Path(dir_okay=False),
              multiple=True, help="Label database(s); repeat to train on several (their train rows are pooled).")
@click.option("--frame-stride", default=1, show_default=True, type=click.IntRange(min=1),
              help="Keep every n-th frame of each reference trajectory (neighbouring MD frames 1 fs apart "
                   "carry little new information; a stride trades them for epochs).")
@click.option("--out", "out_dir", default=_DEFAULT_MODEL_DIR, show_default=True, type=click.Path(file_okay=False))
@click.option("--members", default=4, show_default=True, type=int)
@click.option("--epochs", default=200, show_default=True, type=int)
@click.option("--max-minutes", default=30.0, show_default=True, type=float)
@click.option("--batch-size", default=8, show_default=True, type=int)
@click.option("--learning-rate", default=3e-3, show_default=True, type=float)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--validation-split", type=click.Choice(["random", "trajectory"]), default="random", show_default=True,
              help="Hold out random configurations, or whole trajectories (transfer to new arrangements).")
@click.option("--energy-weight", default=100.0, show_default=True, type=click.FloatRange(0.0, 1e5),
              help="Loss weight of the squared per-atom energy error [(eV/atom)²] against the squared force error "
                   "[(eV/Å)², weight 1]; raise it when energies miss and forces sit at their floor.")
@click.option("--weight-decay", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Decoupled weight decay (AdamW) of the networks' weight matrices; 0 = plain Adam. A lever when "
                   "energies fit the training packings but not new ones.")
@click.option("--electrode-force-weight", default=1.0, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Weight of the graphene electrode's force errors (its xTB forces are not local; ML-MD freezes it).")
@click.option("--feature-std-floor", default=0.0, show_default=True, type=click.FloatRange(0.0, 10.0),
              help="Floor of the descriptor stds as a fraction of their median (0: absolute 1e-3 only).")
@click.option("--hidden", default="64,64", show_default=True, help="Hidden layer widths of each element network.")
@click.option("--cutoff", "cutoff_A", default=5.0, show_default=True, type=click.FloatRange(2.0, 12.0),
              help="Radial cutoff of the descriptor [Å] (forces then range over twice it).")
@click.option("--angular-shells", default=3, show_default=True, type=click.IntRange(1, 16),
              help="Radial shells of the angular symmetry functions.")
@click.option("--zetas", default="1,4", show_default=True, help="Angular exponents ζ (each with λ = ±1).")
@click.option("--radial-functions", default=12, show_default=True, type=click.IntRange(1, 64),
              help="Gaussians of the radial symmetry functions, evenly spaced on [0.7, cutoff − 0.3] Å.")
@click.option("--radial-width", "radial_width_A", default=0.45, show_default=True, type=click.FloatRange(0.02, 3.0),
              help="Width σ [Å] of each radial Gaussian (about their spacing resolves bond lengths).")
@click.option("--angular-cutoff", "angular_cutoff_A", default=3.5, show_default=True,
              type=click.FloatRange(1.6, 12.0), help="Cutoff of the angular symmetry functions [Å] (≤ --cutoff).")
@click.option("--angular-width", "angular_width_A", default=0.6, show_default=True,
              type=click.FloatRange(0.02, 3.0), help="Width σ [Å] of the angular functions' radial shells.")
@click.option("--messages", default=None, metavar="CHANNELS,GAUSSIANS,CUTOFF",
              help="Add one round of learned linear messages to the symmetry functions: each neighbour within "
                   "CUTOFF Å sends a CHANNELS-wide projection of its own descriptor, weighted by GAUSSIANS radial "
                   "functions (e.g. 16,4,4.0). With --init-from a parent without them: the parent's function at "
                   "the start.")
@click.option("--architecture", type=click.Choice(["behler-parrinello", "painn"]), default="behler-parrinello",
              show_default=True, help="Symmetry functions + element MLPs, or PaiNN message passing.")
@click.option("--features", default=64, show_default=True, type=click.IntRange(4, 512),
              help="PaiNN: features per atom.")
@click.option("--layers", default=3, show_default=True, type=click.IntRange(1, 8),
              help="PaiNN: message-passing rounds (receptive field layers × cutoff).")
@click.option("--rbf", default=20, show_default=True, type=click.IntRange(2, 64), help="PaiNN: radial basis size.")
@click.option("--switch-width", "switch_width_A", default=0.5, show_default=True, type=click.FloatRange(0.0, 4.0),
              help="PaiNN: width [Å] of the smooth switch of every message to zero at the cutoff (0: none, "
                   "energies then jump when pairs cross it).")
@click.option("--device", default="cpu", show_default=True, help="PaiNN: torch device ('cpu', 'cuda').")
@click.option("--parallel-members", default=1, show_default=True, type=click.IntRange(min=1),
              help="PaiNN: members trained at once in separate processes.")
@click.option("--init-from", default=None, type=click.Path(file_okay=False, exists=True),
              help="Continue training from the trained ensemble in this folder (same architecture and settings, "
                   "except that --hidden may widen its networks and --messages may add messages: added units and "
                   "inputs start with zero weights, so the run starts from the parent's function; fresh optimiser "
                   "at --learning-rate).")
@click.option("--resume", is_flag=True, help="Continue from the (partial) ensemble in OUT up to --epochs in total.")
@click.option("--baseline",
              type=click.Choice(["none", "graphene-pi", "graphene-pi-bonds", "graphene-pi-vff", "inherit"]),
              default="none", show_default=True,
              help="Physics term the network learns on top of: 'graphene-pi' is the Γ-point Hückel π-band "
                   "energy of the graphene sheet (multiscale.atomistic.pi_electrons), whose forces are not local; "
                   "'graphene-pi-bonds' adds a σ-bond pair term fitted to the sheet's in-plane forces; "
                   "'graphene-pi-vff' fits σ valence-angle terms with it (a valence force field); 'inherit' "
                   "keeps the --init-from ensemble's baseline as it is (e.g. after `potential bending`).")
@click.option("--sheet-energy", type=click.Choice(["network", "baseline"]), default="network", show_default=True,
              help="'baseline': the sheet's own atomic energies come from the baseline (needs its bond terms); "
                   "the network keeps the electrolyte and its interaction with the sheet.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64),
              help="torch intra-op threads of this process (symmetry-function training runs in one process).")
@click.option("--cache-dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True,
              help="Storage of the descriptor-Jacobian factors (radial and angular) in the training cache (most of "
                   "its memory; the run prints the cache size). float16 halves them, for more data in the same memory.")
@click.option("--average-from-epoch", default=None, type=click.IntRange(min=0),
              help="Stochastic weight averaging: average each member's weights over every epoch from this one on "
                   "(a continued run counts from 0) and keep the average where its validation loss is lower "
                   "than the member's best epoch. Off by default.")
@quiet_option
def train(db_paths, frame_stride, out_dir, members, epochs, max_minutes, batch_size, learning_rate, seed,
          validation_split, energy_weight, weight_decay, electrode_force_weight, feature_std_floor, hidden, cutoff_A,
          angular_shells, zetas,
          radial_functions, radial_width_A, angular_cutoff_A, angular_width_A, messages, architecture, features,
          layers, rbf,
          switch_width_A, device, parallel_members, init_from, resume,
          baseline, sheet_energy, threads, cache_dtype, average_from_epoch, quiet) -> None:
    """Train the ensemble on the rows with split=train; write ensemble.pt + ensemble.json to OUT."""
    import torch

    from ..atomistic.labelling import load_training_frames
    from ..atomistic.message_passing import MessagePassingSettings
    from ..atomistic.model import DescriptorSettings, NetworkSettings
    from ..atomistic.pi_electrons import PiBandSettings, fit_bond_terms
    from ..atomistic.training import TrainingSettings, attach_core_repulsion, save_ensemble, train_ensemble

    torch.set_num_threads(threads)
    settings = TrainingSettings(n_members=members, epochs=epochs, max_minutes=max_minutes, batch_size=batch_size,
                                learning_rate=learning_rate, seed=seed, validation_split=validation_split,
                                weight_energy=energy_weight, weight_decay=weight_decay,
                                weight_force_electrode=electrode_force_weight,
                                feature_std_floor=feature_std_floor, cache_dtype=cache_dtype,
                                average_from_epoch=average_from_epoch,
                                descriptor=DescriptorSettings(cutoff_A=cutoff_A, n_angular_radial=angular_shells,
                                                              zetas=tuple(_floats(zetas)), n_radial=radial_functions,
                                                              radial_width_A=radial_width_A,
                                                              angular_cutoff_A=angular_cutoff_A,
                                                              angular_width_A=angular_width_A),
                                network=NetworkSettings(hidden=tuple(int(h) for h in _floats(hidden)),
                                                        sheet_energy_from_baseline=sheet_energy == "baseline",
                                                        messages=_message_settings(messages)),
                                architecture=architecture, device=device, parallel_members=parallel_members,
                                init_from=init_from,
                                baseline=_initial_baseline(baseline, init_from),
                                message_passing=MessagePassingSettings(cutoff_A=cutoff_A, n_features=features,
                                                                       n_layers=layers, n_rbf=rbf,
                                                                       switch_width_A=switch_width_A))
    frames = load_training_frames(db_paths, frame_stride=frame_stride)
    bond_fit = None
    if baseline in ("graphene-pi-bonds", "graphene-pi-vff"):
        vff = baseline == "graphene-pi-vff"  # fitted robustly (trim: fit_bond_terms says why)
        fitted, bond_fit = fit_bond_terms(frames, seed=seed, angles=vff, trim=3.0 if vff else None)
        settings.baseline = fitted.to_dict()
        if not quiet:
            what = "σ-bond and valence-angle terms" if bond_fit["angles"] else "σ-bond term"
            click.echo(f"{what} of the sheet fitted on {bond_fit['n_frames']} frames ({bond_fit['n_frames_trimmed']} "
                       "trimmed): in-plane sheet force RMS "
                       f"{bond_fit['pi_only_rmse_meV_per_A']:.0f} → {bond_fit['pi_plus_bonds_rmse_meV_per_A']:.0f} meV/Å")
    settings.validate()
    previous = _previous_commands(out_dir) if resume else (_previous_commands(init_from) if init_from else [])
    ens, hist = train_ensemble(frames, settings, checkpoint_dir=out_dir, progress=not quiet, resume=resume)
    fields = sorted({round(float(a.info["field_V_per_A"]), 4) for a in frames})
    dbs = " ".join(f"--db {d}" for d in db_paths)
    meta = dict(reference=str(frames[0].info.get("method", "GFN1-xTB")), dataset=[str(d) for d in db_paths],
                frame_stride=frame_stride, n_configurations=len(frames), trained_fields_V_per_A=fields, history=hist,
                partial=False,
                command=f"multiscale potential train {dbs} --frame-stride {frame_stride} --out {out_dir} "
                        f"--members {members} --epochs {epochs} --max-minutes {max_minutes} --seed {seed} "
                        f"--batch-size {batch_size} --learning-rate {learning_rate}"
                        f" --validation-split {validation_split} --electrode-force-weight {electrode_force_weight}"
                        f" --hidden {hidden} --cutoff {cutoff_A} --angular-shells {angular_shells} --zetas {zetas}"
                        f" --radial-functions {radial_functions} --radial-width {radial_width_A}"
                        f" --angular-cutoff {angular_cutoff_A} --angular-width {angular_width_A}"
                        f" --feature-std-floor {feature_std_floor} --architecture {architecture}"
                        + (f" --features {features} --layers {layers} --rbf {rbf} --switch-width {switch_width_A}"
                           f" --device {device}"
                           f" --parallel-members {parallel_members}" if architecture == "painn" else "")
                        + (f" --messages {messages}" if messages else "")
                        + (f" --energy-weight {energy_weight}" if energy_weight != 100.0 else "")
                        + (f" --weight-decay {weight_decay}" if weight_decay > 0.0 else "")
                        + (f" --init-from {init_from}" if init_from else "")
                        + (f" --baseline {baseline}" if baseline != "none" else "")
                        + (f" --sheet-energy {sheet_energy}" if sheet_energy != "network" else "")
                        + (f" --cache-dtype {cache_dtype}" if cache_dtype != "float32" else "")
                        + (f" --average-from-epoch {average_from_epoch}" if average_from_epoch is not None else "")
                        + (" --resume" if resume else ""))
    meta["commands"] = previous + [meta["command"]]
    if bond_fit is not None:
        meta["bond_term_fit"] = bond_fit
    if init_from:  # the histories of the runs this one continues, oldest first
        meta["previous_histories"] = _previous_histories(init_from)
    if baseline == "inherit":  # how the inherited baseline was fitted (`potential bending` reports)
        from pathlib import Path

        parent = json.loads((Path(init_from) / "ensemble.json").read_text()).get("meta", {})
        meta["inherited_baseline_fits"] = {k: v for k, v in parent.items()
                                           if k.endswith("_fit") or k == "inherited_baseline_fits"}
    save_ensemble(ens, out_dir, meta=meta)
    attach_core_repulsion(out_dir, frames)
    import numpy as np

    vf = np.array(hist["val_force_rmse"], dtype=float)  # (epochs, members); NaN after a member stopped
    best = [round(float(np.nanmin(col)), 4) for col in vf.T] if vf.size else None
    click.echo(f"trained {members} members on {len(frames)} configurations in {hist['minutes']:.1f} min; "
               f"best validation force RMSE per member {best} eV/Å; wrote {out_dir}")
    if "weight_average" in hist:
        wa = hist["weight_average"]
        _record_provenance(wa["folder"], meta, averages_of=out_dir)
        attach_core_repulsion(wa["folder"], frames)
        click.echo(f"weight averages over {wa['n_epochs']} epochs per member: validation loss "
                   f"{[None if v is None else round(v, 5) for v in wa['val_loss']]}, kept {wa['kept']}; "
                   f"every member's average in {wa['folder']}")


def _record_provenance(folder, meta: dict, **extra) -> None:
    """Add the run's provenance (its command, data and settings; not its history, which is the run's
    own) to the metadata of another ensemble the run wrote, such as its weight averages: a folder
    that is copied elsewhere then still says how it was made."""
    from pathlib import Path

    from ..io import atomic_path

    path = Path(folder) / "ensemble.json"
    info = json.loads(path.read_text())
    info["meta"] = {**{k: v for k, v in meta.items() if k != "history"}, **info["meta"],
                    **{k: str(v) for k, v in extra.items()}}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(info, indent=2, default=float))


def _message_settings(text):
    """``--messages CHANNELS,GAUSSIANS,CUTOFF`` → :class:`MessageSettings` (None when not given)."""
    from ..atomistic.model import MessageSettings

    if not text:
        return None
    parts = text.split(",")
    try:
        if len(parts) != 3:
            raise ValueError
        s = MessageSettings(n_channels=int(parts[0]), n_radial=int(parts[1]), cutoff_A=float(parts[2]))
    except ValueError:
        raise click.BadParameter(f"{text!r} must be CHANNELS,GAUSSIANS,CUTOFF, e.g. 16,4,4.0",
                                 param_hint="--messages") from None
    s.validate()
    return s


def _initial_baseline(kind: str, init_from) -> dict | None:
    """The baseline a training run starts from (the bond and angle fits come after, on the frames)."""
    from pathlib import Path

    from ..atomistic.pi_electrons import PiBandSettings

    if kind == "inherit":
        if not init_from:
            raise click.BadParameter("'inherit' takes the baseline of the --init-from ensemble; give --init-from",
                                     param_hint="--baseline")
        return json.loads((Path(init_from) / "ensemble.json").read_text()).get("baseline")
    return PiBandSettings().to_dict() if kind.startswith("graphene-pi") else None


@command.command("md")
@click.option("--out", "out_dir", default="data/mlmd_li_ec_graphene", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the trajectories (.npz) and manifest.json.")
@click.option("--fields", default="-0.1,0,0.1", show_default=True, help="Applied fields [V/Å], one run each.")
@click.option("--steps", "n_steps", default=10000, show_default=True, type=int, help="MD steps per field.")
@click.option("--timestep-fs", default=0.5, show_default=True, type=float)
@click.option("--interval", default=20, show_default=True, type=int, help="Store every n-th step.")
@click.option("--temperature-K", "temperature_K", default=300.0, show_default=True, type=float)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--size", default="md", show_default=True, type=click.Choice(["md", "train"]),
              help="Default system size: 300-atom MD cell or the 60-atom training cell.")
@click.option("--n-workers", default=0, show_default=True, type=int, help="Dask workers (0 = serial).")
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler.")
@quiet_option
def md(out_dir, fields, n_steps, timestep_fs, interval, temperature_K, seed, size, n_workers, scheduler, quiet) -> None:
    """Production ML-MD of the default interface at each field, stored for `multiscale run` to reuse."""
    from ..atomistic.production import run_production

    man = run_production(out_dir, fields_V_per_A=_floats(fields), n_steps=n_steps, timestep_fs=timestep_fs,
                         interval=interval, temperature_K=temperature_K, seed=seed, size=size, n_workers=n_workers,
                         scheduler=scheduler, progress=not quiet)
    for r in man["runs"]:
        click.echo(f"F = {r['field_V_per_A']:+.3f} V/Å: {r['n_frames']} frames, {r['time_ps']:.2f} ps, "
                   f"{r['n_untrusted_frames']} untrusted, {r['wall_time_s']:.0f} s")
    click.echo(f"wrote {out_dir}/manifest.json")


@command.command("transport")
@click.option("--out", "out_dir", default="data/mlmd_bulk_transport", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the runs (.npz), manifest.json and diffusivity.json.")
@click.option("--compositions", default="26:1,25:2,24:3", show_default=True,
              help="Comma-separated n_EC:n_LiBF4 cubes (one concentration each; ~0.45, 0.9, 1.35 mol/L).")
@click.option("--temperatures", default="300,360", show_default=True, help="Temperatures [K], one run each.")
@click.option("--steps", "n_steps", default=30000, show_default=True, type=int, help="MD steps per state point.")
@click.option("--timestep-fs", default=1.0, show_default=True, type=float)
@click.option("--interval", default=20, show_default=True, type=int, help="Store every n-th step.")
@click.option("--friction-per-fs", default=0.001, show_default=True, type=float, help="Langevin friction.")
@click.option("--equilibration-ps", default=2.0, show_default=True, type=float,
              help="Time discarded at the start of each run before the MSD.")
@click.option("--model", default=None, help="Shipped model folder name (default: the package default).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--analyse-only", is_flag=True, help="Only (re)analyse the runs already in OUT.")
@click.option("--n-workers", default=0, show_default=True, type=int, help="Dask workers (0 = serial).")
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler.")
@quiet_option
def transport(out_dir, compositions, temperatures, n_steps, timestep_fs, interval, friction_per_fs, equilibration_ps,
              model, seed, analyse_only, n_workers, scheduler, quiet) -> None:
    """Bulk LiBF4/EC ML-MD → self-diffusivities and the salt diffusivity D_e(c, T) for the export."""
    from pathlib import Path

    from ..atomistic.electrolyte_transport import analyse_runs, plot_diffusivity, run_bulk_md

    if not analyse_only:
        man = run_bulk_md(out_dir, compositions=_compositions(compositions), temperatures_K=_floats(temperatures),
                          n_steps=n_steps, timestep_fs=timestep_fs, interval=interval,
                          friction_per_fs=friction_per_fs, seed=seed, model=model, n_workers=n_workers,
                          scheduler=scheduler, progress=not quiet)
        for r in man["runs"]:
            click.echo(f"{r['file']}: {r['concentration_mol_L']:.2f} mol/L, {r['time_ps']:.1f} ps, untrusted "
                       f"{100 * r['untrusted_fraction']:.0f} %, {r['wall_time_s']:.0f} s"
                       + (f" (stopped: {r['stop_reason']})" if r["stop_reason"] else ""))
    res = analyse_runs(out_dir, equilibration_ps=equilibration_ps)
    plot_diffusivity(res, Path(out_dir) / "diffusivity.png")
    tab = res["electrolyte_diffusivity"]
    for c, d, e in zip(tab["concentration_mol_m3"], tab["diffusivity_m2_s"], tab["diffusivity_error_m2_s"]):
        click.echo(f"D_e({c / 1000:.2f} mol/L, {tab['reference_temperature_K']:.0f} K) = {d:.3g} ± {1.96 * e:.2g} m2/s")
    click.echo(f"E_a = {tab['activation_energy_J_mol'] / 1000:.1f} ± {1.96 * tab['activation_energy_error_J_mol'] / 1000:.1f}"
               f" kJ/mol; wrote {out_dir}/diffusivity.json")


@command.command("explore")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for exploration.json and candidates.extxyz.")
@click.option("--model", default=None, help="Shipped model name or a folder with a trained ensemble (default: the "
                                            "package default).")
@click.option("--bulk", "bulk", default="12:1,8:1", show_default=True,
              help="Bulk cubes to explore, n_EC:n_LiBF4 pairs ('' for none).")
@click.option("--interface-fields", default="-0.1,0,0.1", show_default=True,
              help="Fields [V/Å] of the interface training cell to explore ('' for none).")
@click.option("--temperatures", default="320", show_default=True, help="Temperatures [K].")
@click.option("--seeds", default="0", show_default=True, help="Packing/MD seeds (one run per system and seed).")
@click.option("--steps", "n_steps", default=3000, show_default=True, type=int, help="ML-MD steps per run.")
@click.option("--timestep-fs", default=1.0, show_default=True, type=float)
@click.option("--interval", default=10, show_default=True, type=int, help="Keep every n-th step as a frame.")
@click.option("--sigma-min", default=0.3, show_default=True, type=float,
              help="Frames with max σ_F below this [eV/Å] are not candidates.")
@click.option("--max-per-run", default=8, show_default=True, type=int)
@click.option("--max-total", default=120, show_default=True, type=int)
@click.option("--min-separation", default=50, show_default=True, type=int,
              help="Candidates of one run at least this many steps apart.")
@click.option("--li-endpoints", default="", show_default=True,
              help="Also add the relaxed end points of Li+ leaving the basal plane (the α scan of `multiscale run`) "
                   "for these packing seeds, e.g. 0,1,2,3, each at -0.1, 0 and 0.1 V/Å.")
@click.option("--n-workers", default=0, show_default=True, type=int, help="Dask workers (0 = serial).")
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler.")
@quiet_option
def explore(out_dir, model, bulk, interface_fields, temperatures, seeds, n_steps, timestep_fs, interval, sigma_min,
            max_per_run, max_total, min_separation, li_endpoints, n_workers, scheduler, quiet) -> None:
    """Active learning, step one: ML-MD on fresh cells, report how far it stays in its domain, and
    write the configurations the ensemble disputes most (label them with `potential label --candidates`)."""
    import re
    from pathlib import Path

    from ..atomistic import active_learning as al

    comps = _compositions(bulk) if bulk.strip() else []
    fields = _floats(interface_fields)
    runs = []
    if comps or fields or not li_endpoints.strip():  # endpoints alone need no exploration MD
        runs = al.explore(model=model, bulk_compositions=comps, interface_fields_V_per_A=fields,
                          temperatures_K=_floats(temperatures), seeds=[int(s) for s in _floats(seeds)],
                          n_steps=n_steps, timestep_fs=timestep_fs, interval=interval, n_workers=n_workers,
                          scheduler=scheduler, progress=not quiet)
    summary = al.exploration_summary(runs)
    cands = al.select_candidates(runs, sigma_min_eV_per_A=sigma_min, max_per_run=max_per_run,
                                 min_separation_steps=min_separation, max_total=max_total)
    if li_endpoints.strip():
        ends = al.li_endpoint_candidates(model=model, seeds=[int(s) for s in _floats(li_endpoints)])
        for c in ends[::3]:  # one line per end point (its σ_F is measured at F = 0)
            click.echo(f"{re.sub(r'-F[-+][0-9.]+', '', c['run'])}: max σ_F {c['sigma_eV_per_A']:.2f} eV/Å at F = 0")
        cands += ends
    summary["model"] = model or "default"
    summary["n_candidates"] = len(cands)
    summary["n_pre_failure_candidates"] = sum(c["pre_failure"] for c in cands)
    al.save_exploration(summary, out_dir)
    for r in summary["runs"]:
        click.echo(f"{r['run']}: {r['steps_run']}/{r['n_steps']} steps, median σ_F {r['median_sigma_eV_per_A']:.2f} "
                   f"eV/Å, T {r['mean_temperature_K']:.0f} K" + (f" (left the domain: {r['stop_reason']})"
                                                                  if r["left_domain"] else ""))
    if runs:
        click.echo(f"{summary['n_completed']}/{summary['n_runs']} runs stayed in the domain "
                   f"({100 * summary['steps_reached_fraction']:.0f} % of the steps); median σ_F "
                   f"{summary['median_sigma_eV_per_A']:.2f} eV/Å")
    if cands:
        n = al.write_candidates(cands, Path(out_dir) / "candidates.extxyz")
        click.echo(f"wrote {n} candidates ({summary['n_pre_failure_candidates']} just before a failure) to "
                   f"{out_dir}/candidates.extxyz")
    else:
        click.echo("no candidates: every frame is below --sigma-min and no run left the domain")


@command.command("core")
@click.option("--db", "db_paths", default=(_DEFAULT_DB,), show_default=True, type=click.Path(dir_okay=False),
              multiple=True, help="Label database(s) the model was trained on (repeat for several).")
@click.option("--out", "out_dir", default=_DEFAULT_MODEL_DIR, show_default=True, type=click.Path(file_okay=False))
def core(db_paths, out_dir) -> None:
    """Store the training set's per-pair minimum distances in OUT (core repulsion below them).

    `potential train` does this itself; this command adds it to a model trained before it existed.
    """
    from ..atomistic.labelling import load_training_frames
    from ..atomistic.training import attach_core_repulsion

    meta = attach_core_repulsion(out_dir, load_training_frames(db_paths))
    el = meta["pair_min_distance_elements"]
    r = meta["pair_min_distance_A"]
    pairs = ", ".join(f"{el[a]}-{el[b]} {r[a][b]:.2f}" for a in range(len(el)) for b in range(a, len(el)))
    click.echo(f"core repulsion below the training minima [Å]: {pairs}; wrote {out_dir}/ensemble.json")


@command.command("bending")
@click.option("--db", "db_paths", default=(_DEFAULT_DB,), show_default=True, type=click.Path(dir_okay=False),
              multiple=True, help="Label database(s) the model was trained on (repeat for several).")
@click.option("--frame-stride", default=8, show_default=True, type=click.IntRange(1),
              help="Use every n-th training frame for the fit.")
@click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False, exists=True),
              help="Folder of a trained ensemble with a graphene baseline (rewritten in place).")
@click.option("--terms", type=click.Choice(["bending", "flexural", "valence"]), default="bending", show_default=True,
              help="'bending': one constant k of ½ k Σ h²; 'flexural': force constants of five neighbour shells "
                   "(pi_electrons.fit_flexural), added to what the baseline has; 'valence': refit the σ bond and "
                   "valence-angle terms to the in-plane sheet forces (replacing the bond terms, robustly: "
                   "pi_electrons.fit_bond_terms with angles and trim 3).")
def bending(db_paths, frame_stride, model_dir, terms) -> None:
    """Fit the sheet's baseline terms of a trained model (ensemble.json rewritten atomically).

    The π, σ-bond and angle terms are fitted to in-plane forces; what they and the network leave
    of the sheet's normal forces that tracks its corrugation is the out-of-plane term (k ½ Σ h²,
    or the flexural force constants with --terms flexural), fitted to the model's residual
    normal forces. --terms valence refits the in-plane σ terms of an existing model (the network
    is untouched: continue training with `train --init-from DIR --baseline inherit`).
    """
    import json
    from pathlib import Path

    from ..atomistic.labelling import load_training_frames
    from ..atomistic.pi_electrons import fit_bending, fit_bond_terms, fit_flexural
    from ..atomistic.training import load_ensemble
    from ..atomistic.validation import predict_frames
    from ..errors import InputError
    from ..io import atomic_path

    ens, info = load_ensemble(model_dir)
    if ens.baseline is None:
        raise InputError(f"model {model_dir} has no graphene baseline; train it with --baseline graphene-pi-bonds")
    frames = load_training_frames(db_paths, frame_stride=frame_stride)
    if terms == "valence":
        fitted, report = fit_bond_terms(frames, ens.baseline, angles=True, trim=3.0)
    else:
        pred = [p["forces"] for p in predict_frames(ens, frames)]
        fitted, report = (fit_flexural if terms == "flexural" else fit_bending)(frames, pred, ens.baseline)
    info["baseline"] = fitted.to_dict()
    meta = info.setdefault("meta", {})
    dbs = " ".join(f"--db {d}" for d in db_paths)
    meta[f"{terms}_fit"] = dict(report, command=f"multiscale potential bending {dbs} --frame-stride {frame_stride} "
                                                f"--model {model_dir}" + (f" --terms {terms}" if terms != "bending"
                                                                          else ""))
    with atomic_path(Path(model_dir) / "ensemble.json") as tmp:
        tmp.write_text(json.dumps(info, indent=2, default=float))
    if terms == "valence":
        click.echo(f"σ bond and valence-angle terms refitted on {report['n_frames']} frames "
                   f"({report['n_frames_trimmed']} trimmed): in-plane sheet force RMS {report['pi_only_rmse_meV_per_A']:.0f}"
                   f" → {report['pi_plus_bonds_rmse_meV_per_A']:.0f} meV/Å; wrote {model_dir}/ensemble.json")
        return
    constants = (f"flexural force constants {', '.join(f'{k:.2f}' for k in fitted.flexural_coefficients)} eV/Å²"
                 if terms == "flexural" else f"out-of-plane term k = {fitted.bending_eV_per_A2:.3f} eV/Å²")
    click.echo(f"{constants} on {report['n_frames']} frames: sheet normal force "
               f"RMSE {report['normal_force_rmse_before_meV_per_A']:.0f} → "
               f"{report['normal_force_rmse_after_meV_per_A']:.0f} meV/Å; wrote {model_dir}/ensemble.json")


def _previous_histories(model_dir) -> list[dict]:
    """Training histories of an ensemble and of the runs it continued (``meta.previous_histories``)."""
    import json
    from pathlib import Path

    meta = json.loads((Path(model_dir) / "ensemble.json").read_text()).get("meta", {})
    return list(meta.get("previous_histories", [])) + ([meta["history"]] if meta.get("history") else [])


def _previous_commands(out_dir) -> list[str]:
    """The training commands recorded in an existing ensemble.json (a partial checkpoint has none)."""
    import json
    from pathlib import Path

    f = Path(out_dir) / "ensemble.json"
    if not f.is_file():
        return []
    meta = json.loads(f.read_text()).get("meta", {})
    cmds = meta.get("commands") or ([meta["command"]] if meta.get("command") else [])
    return list(cmds) or ["(interrupted first run: partial checkpoint at epoch "
                          f"{meta.get('epoch', '?')}, see the model card)"]


@command.command("evaluate")
@click.option("--db", "db_path", default=_DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False))
@click.option("--model", "model_name", default=None, help="Shipped model name (default mlp_li_ec_graphene).")
@click.option("--out", "out_file", default=None, type=click.Path(dir_okay=False), help="JSON report to write.")
@click.option("--rdf-steps", default=0, show_default=True, type=int,
              help="ML-MD steps for the RDF comparison (0 skips it).")
@click.option("--response/--no-response", default=False, help="Also compute E(F) against the reference (xTB calls).")
@quiet_option
def evaluate(db_path, model_name, out_file, rdf_steps, response, quiet) -> None:
    """Validation protocol: errors per field and per chemical role, RDF vs reference MD, field response."""
    from ..atomistic.validation import run_protocol
    from ..io import atomic_write_json

    report = run_protocol(db_path, model_name, rdf_steps=rdf_steps, response=response, progress=not quiet)
    if out_file:
        atomic_write_json(out_file, report)
    click.echo(json.dumps(report["errors_by_field"], indent=1))
