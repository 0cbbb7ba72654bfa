"""Active learning: does a round of labelling the ensemble's disputed configurations keep ML-MD in its domain?

The same exploration (``multiscale.atomistic.active_learning.explore``) is run with two models in
one run, on packings neither was trained on or explored with (seeds 600, 601 by default; the
round that made ``labels_active.db`` explored seeds 500, 501):

* bulk LiBF₄/EC cubes 12:1 (1.0 mol/L), 8:1 (1.7 mol/L), 5:1 (2.8 mol/L), field 0;
* the 60-atom graphene interface cell (electrode frozen) at −0.1, 0, +0.1 V/Å;
* Langevin at 320 and 450 K, 1 fs step, ``--steps`` steps each.

Reported per model: the fraction of runs that reach their last step without leaving the
potential's domain (atoms closer than anything in training), the fraction of all steps reached,
the median per-frame max σ_F, and the mean temperature of the interface runs (a potential with
attractive holes heats a Langevin run far above its set point). No target is set in the issue;
the baseline is the model the round started from, measured here in the same run.

    python benchmarks/bench_active_learning.py --json [--model DIR_OR_NAME] [--baseline DIR_OR_NAME] [--steps 3000]
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _mean_temperature(rows, set_point_K):
    sel = [r["mean_temperature_K"] for r in rows if f"-T{set_point_K:.0f}-" in r["run"]]
    return float(sum(sel) / len(sel)) if sel else float("nan")


def measure(model, *, seeds, steps, n_workers):
    from multiscale.atomistic.active_learning import explore, exploration_summary

    t0 = time.time()
    runs = explore(model=model, bulk_compositions=[(12, 1), (8, 1), (5, 1)],
                   interface_fields_V_per_A=[-0.1, 0.0, 0.1], temperatures_K=[320.0, 450.0], seeds=seeds,
                   n_steps=steps, n_workers=n_workers, progress=False)
    s = exploration_summary(runs)
    iface = [r for r in s["runs"] if r["run"].startswith("iface")]
    bulk = [r for r in s["runs"] if r["run"].startswith("bulk")]
    return dict(model=model or "default", completed_fraction=s["completed_fraction"],
                steps_reached_fraction=s["steps_reached_fraction"], median_sigma_eV_per_A=s["median_sigma_eV_per_A"],
                bulk_completed=f"{sum(not r['left_domain'] for r in bulk)}/{len(bulk)}",
                interface_completed=f"{sum(not r['left_domain'] for r in iface)}/{len(iface)}",
                interface_mean_temperature_K={f"{t:.0f}": _mean_temperature(iface, t) for t in (320.0, 450.0)},
                wall_time_s=time.time() - t0, runs=s["runs"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--model", default=None, help="model after the round (default: the shipped default)")
    ap.add_argument("--baseline", default=None, help="model the round started from (omit to measure one model)")
    ap.add_argument("--seeds", default="600,601")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--n-workers", type=int, default=2)
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    out = dict(benchmark="active_learning", seeds=seeds, steps=args.steps)
    out["model"] = measure(args.model, seeds=seeds, steps=args.steps, n_workers=args.n_workers)
    if args.baseline:
        out["baseline"] = measure(args.baseline, seeds=seeds, steps=args.steps, n_workers=args.n_workers)
        out["completed_fraction_gain"] = out["model"]["completed_fraction"] - out["baseline"]["completed_fraction"]
    if not args.json:
        for key in ("model", "baseline"):
            if key in out:
                m = out[key]
                print(f"{key} {m['model']}: {100 * m['completed_fraction']:.0f} % of runs stay in the domain "
                      f"(bulk {m['bulk_completed']}, interface {m['interface_completed']}), "
                      f"{100 * m['steps_reached_fraction']:.0f} % of steps, median σ_F {m['median_sigma_eV_per_A']:.2f} eV/Å")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
