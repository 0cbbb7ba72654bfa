"""Is the ML potential's force error a limit of its networks' capacity, and would wider ones help?

``bench_force_residual.py`` found the shipped model's error on its own training frames nearly as
large as held out (bias, not variance). Bias has two readings: the descriptor does not hold the
information the forces need (no network on it can fit them), or the networks cannot fit that many
environments at once (capacity). This tells them apart.

Member 0 of the model is continued, alone, on ``n`` fixed frames of its own training split
(:func:`~multiscale.atomistic.validation.training_frames`), with plain Adam at a constant rate and
the model's own loss weights, for a fixed time. Recorded every ``--record-steps`` steps: the force
RMSE of the molecular atoms (the graphene sheet left out) on those same frames (the final state,
not a best-validation one), and at the start and the end the same on held-out frames.

- If even a few hundred frames cannot be fitted much below the start, the descriptor is the limit.
- If a few hundred can be and more frames cannot, at the same number of steps, the networks'
  capacity is; the same run with the networks widened
  (:func:`~multiscale.atomistic.model.widen_networks`: the same function at the start) then shows
  whether width buys it back.

    python benchmarks/bench_force_capacity.py --json [--model NAME] [--frames 400,1600]
        [--hidden 64,64 128,128] [--minutes 30] [--workers 2]

Every (frames, hidden) pair is one run, in its own process with one thread (``multiscale.parallel``);
``--hidden`` widths must be at least the model's (the model's own width is the control). Prints JSON.
Takes ``--minutes`` plus ~5 min per round of ``--workers`` runs.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def run_one(item: dict) -> dict:
    """One continued run: ``item`` holds model, n_frames, hidden, minutes, learning_rate, record_steps,
    heldout_stride, seed. Returns its record (see the module docstring)."""
    import torch

    torch.set_num_threads(1)
    import multiscale.atomistic.training as tr
    from multiscale.atomistic.ensemble import PotentialEnsemble
    from multiscale.atomistic.labelling import load_dataset
    from multiscale.atomistic.model import widen_networks
    from multiscale.atomistic.pi_electrons import subtract_baseline
    from multiscale.atomistic.system import electrode_atoms
    from multiscale.atomistic.validation import force_errors_by_element, pooled_force_rmse, training_frames
    from multiscale.atomistic import load_potential
    from multiscale.resources import data_path, model_path

    calc = load_potential(item["model"])
    frames = training_frames(calc, max_frames=item["n_frames"])
    held = load_dataset(data_path("xtb_li_ec_graphene", "labels_heldout2.db"), split="heldout")
    held = held[::item["heldout_stride"]]
    ens0, _ = tr.load_ensemble(model_path(item["model"]))
    settings = dict((calc.info or {}).get("history", {}).get("settings", {}))
    s = tr.TrainingSettings(weight_energy=float(settings.get("weight_energy", 100.0)),
                            weight_force=float(settings.get("weight_force", 1.0)),
                            weight_charge=float(settings.get("weight_charge", 10.0)),
                            weight_force_electrode=float(settings.get("weight_force_electrode", 1.0)))
    member = ens0.members[0]
    if tuple(item["hidden"]) != tuple(member.network_settings.hidden):
        member = widen_networks(member, item["hidden"], seed=item["seed"])
    buffers64 = {k: b.clone() for k, b in member.named_buffers()}
    work = subtract_baseline(frames, ens0.baseline) if ens0.baseline is not None else frames
    bs = 8
    batches = [tr._CachedBatch(work[b:b + bs], np.arange(b, min(b + bs, len(work))), member.descriptor,
                               member.elements, electrode_weight=s.weight_force_electrode,
                               factor_dtype=torch.float16) for b in range(0, len(work), bs)]
    molecular = [torch.from_numpy(~np.concatenate([electrode_atoms(a) for a in work[b:b + bs]]))
                 for b in range(0, len(work), bs)]
    member.float()

    def heldout() -> dict:
        member.double()
        for k, b in member.named_buffers():
            b.copy_(buffers64[k])
        e = PotentialEnsemble([member])
        e.baseline = ens0.baseline
        r = force_errors_by_element(e, held, by="role")
        member.float()
        return dict(molecular_meV_per_A=pooled_force_rmse(r), by_role={k: v["rmse_meV_per_A"] for k, v in r.items()})

    rec = dict(n_frames=len(frames), hidden=list(item["hidden"]), learning_rate=item["learning_rate"],
               weight_energy=s.weight_energy, n_heldout_frames=len(held), heldout_start=heldout())
    rec.update(fit_for_minutes(member, batches, molecular, s, minutes=item["minutes"],
                               learning_rate=item["learning_rate"], record_steps=item["record_steps"],
                               seed=item["seed"]))
    rec["heldout_end"] = heldout()
    return rec


def molecular_rmse(member, batches, molecular) -> float:
    """Force RMSE [meV/Å] of ``member`` on cached batches (descriptor caches or pair graphs), over the
    atoms ``molecular`` marks."""
    se, n = 0.0, 0
    for cb, mol in zip(batches, molecular):
        out = member(cb.batch, features=cb.features(), forces=True, create_graph=False)
        d = (out["forces"].detach() - cb.targets["forces"])[mol].double()
        se, n = se + float((d ** 2).sum()), n + int(mol.sum())
    return 1e3 * float(np.sqrt(se / (3 * n)))


def fit_for_minutes(member, batches, molecular, settings, *, minutes: float, learning_rate: float,
                    record_steps: int, seed: int, max_steps: int | None = None, heldout=None) -> dict:
    """Plain Adam at a constant rate on cached batches for ``minutes`` of training time (the recording
    passes not counted, so runs of different sizes compare by steps and by training minutes), or
    until ``max_steps`` optimiser steps, whichever comes first. ``heldout`` = (batches, molecular)
    adds their RMSE to every record.

    Returns steps, epochs, minutes_training, minutes_wall, the ``trajectory`` of training-set
    molecular force RMSEs every ``record_steps`` steps, and its start and end.
    """
    import torch

    ones = torch.ones(sum(len(cb.indices) for cb in batches), dtype=torch.float64)

    def record(steps, epochs, minutes_training):
        r = dict(steps=steps, epochs=epochs, minutes=round(minutes_training, 2),
                 train_molecular_meV_per_A=molecular_rmse(member, batches, molecular))
        if heldout is not None:
            r["heldout_molecular_meV_per_A"] = molecular_rmse(member, *heldout)
        return r

    trajectory = [record(0, 0, 0.0)]
    opt = torch.optim.Adam([q for q in member.parameters() if q.requires_grad], lr=learning_rate)
    rng = np.random.default_rng(seed)
    t0, steps, epochs, minutes_training = time.perf_counter(), 0, 0, 0.0
    limit = np.inf if max_steps is None else int(max_steps)
    while minutes_training < minutes and steps < limit:
        t_epoch = time.perf_counter()
        for bi in rng.permutation(len(batches))[:max(0, min(len(batches), limit - steps))]:
            opt.zero_grad()
            loss, _ = batches[bi].loss(member, settings, ones, train=True)
            loss.backward()
            opt.step()
            steps += 1
            if steps % record_steps == 0:
                minutes_training += (time.perf_counter() - t_epoch) / 60  # the recording is not training time
                trajectory.append(record(steps, epochs, minutes_training))
                t_epoch = time.perf_counter()
        epochs += 1
        minutes_training += (time.perf_counter() - t_epoch) / 60
    return dict(steps=steps, epochs=epochs, minutes_training=minutes_training,
                minutes_wall=(time.perf_counter() - t0) / 60, trajectory=trajectory,
                train_start_molecular_meV_per_A=trajectory[0]["train_molecular_meV_per_A"],
                train_end_molecular_meV_per_A=molecular_rmse(member, batches, molecular))


def check_fit_arguments(args) -> None:
    """The command-line arguments of a fixed-time fit (``--minutes``, ``--learning-rate``,
    ``--record-steps``, ``--heldout-stride``, ``--workers``), each refused by name when out of range."""
    if not 0.05 <= args.minutes <= 600:
        raise SystemExit(f"--minutes = {args.minutes} is out of range: must be in [0.05, 600]")
    if not 0 < args.learning_rate <= 1e-2:
        raise SystemExit(f"--learning-rate = {args.learning_rate} is out of range: must be in (0, 1e-2]")
    for name in ("record_steps", "heldout_stride"):
        if not 1 <= getattr(args, name) <= 100000:
            flag = "--" + name.replace("_", "-")
            raise SystemExit(f"{flag} = {getattr(args, name)} is out of range: must be in [1, 100000]")
    if not 0 <= args.workers <= 8:
        raise SystemExit(f"--workers = {args.workers} is out of range: must be in [0, 8]")


def _hidden(text: str) -> tuple:
    try:
        h = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise SystemExit(f"--hidden {text!r} must be comma-separated layer widths, e.g. 64,64") from None
    if not h or min(h) < 1 or max(h) > 1024:
        raise SystemExit(f"--hidden {text!r}: each width must be in [1, 1024]")
    return h


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--json", action="store_true")
    p.add_argument("--model", default="mlp_li_ec_graphene_vff")
    p.add_argument("--frames", default="400,1600", help="comma-separated training-frame counts, one run each")
    p.add_argument("--hidden", nargs="+", default=None,
                   help="network widths per run (default: the model's own); wider ones are widened copies")
    p.add_argument("--minutes", type=float, default=30.0, help="training time per run")
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--record-steps", type=int, default=1000, help="optimiser steps between training-set RMSEs")
    p.add_argument("--heldout-stride", type=int, default=8, help="every n-th frame of labels_heldout2.db")
    p.add_argument("--workers", type=int, default=2, help="runs side by side, one thread each (0: serial)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        n_frames = [int(x) for x in args.frames.split(",")]
    except ValueError:
        raise SystemExit(f"--frames {args.frames!r} must be comma-separated integers") from None
    if not n_frames or not all(16 <= n <= 20000 for n in n_frames):
        raise SystemExit(f"--frames {args.frames!r}: each count must be in [16, 20000]")
    check_fit_arguments(args)
    from multiscale.atomistic import load_potential
    from multiscale.parallel import parallel_map

    own = tuple(load_potential(args.model).ensemble.members[0].network_settings.hidden)
    widths = [_hidden(h) for h in args.hidden] if args.hidden else [own]
    for h in widths:
        if len(h) != len(own) or any(a < b for a, b in zip(h, own)):
            raise SystemExit(f"--hidden {','.join(map(str, h))}: needs {len(own)} layers, each at least the "
                             f"model's {','.join(map(str, own))}")
    items = [dict(model=args.model, n_frames=n, hidden=h, minutes=args.minutes, learning_rate=args.learning_rate,
                  record_steps=args.record_steps, heldout_stride=args.heldout_stride, seed=args.seed)
             for n in n_frames for h in widths]
    t0 = time.perf_counter()
    runs = parallel_map(run_one, items, n_workers=min(args.workers, len(items)), progress=not args.json,
                        description="capacity runs")
    out = dict(model=args.model, model_hidden=list(own), runs=runs, wall_minutes=(time.perf_counter() - t0) / 60)
    for r in runs:  # the headline per run: where training took the fit of its own frames, and held out
        key = f"n{r['n_frames']}_h{'x'.join(map(str, r['hidden']))}"
        out[f"{key}_train_molecular_start_end_meV_per_A"] = [r["train_start_molecular_meV_per_A"],
                                                             r["train_end_molecular_meV_per_A"]]
        out[f"{key}_heldout_molecular_start_end_meV_per_A"] = [r["heldout_start"]["molecular_meV_per_A"],
                                                               r["heldout_end"]["molecular_meV_per_A"]]
    print(json.dumps(out, indent=1 if args.json else None))
    return out


if __name__ == "__main__":
    main()
