"""Cost of the symmetry-function grid: one 4-member ensemble call on the 300-atom MD cell.

The radial/angular grid of ``DescriptorSettings`` sets how finely the model resolves bond
lengths and what one MD step costs. This benchmark times, in one run, a 4-member ensemble
(64-64 networks unless named, untrained weights: the cost does not depend on their values) for each grid on
the 300-atom MD cell (forces + σ_F + charges, neighbour list included) and prints each call's
time relative to the default grid, which is the anchor. The electrode is frozen as in ML-MD.

    python benchmarks/bench_descriptor_cost.py --json [--calls 8] [--threads 1] [--grids default,vff,...]

Grids (settable from ``multiscale potential train``):
  default      12 radial Gaussians σ 0.45 Å; 3 angular shells σ 0.6 Å, angular cutoff 3.5 Å
  radial32     32 radial Gaussians σ 0.2 Å; angular as default
  angular5     5 angular shells σ 0.3 Å; radial as default
  fine         radial32 + angular5 (``models/mlp_li_ec_graphene_fine``)
  fine_cut4    fine with the angular cutoff at 4.0 Å (more triplets)
  fine_h128    fine with 128-128 element networks (capacity, not resolution)
  fine_zeta4   fine with four angular exponents ζ = 1, 2, 4, 16 (angular resolution)
  vff          the shipped vff model's grid (32 radial σ 0.2 Å to 6.5 Å; 5 angular shells σ 0.3 Å)
  vff_messages vff with learned linear messages (16 channels, 4 Gaussians, 4 Å; ``--messages 16,4,4.0``)
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

GRIDS = {
    "default": dict(),
    "radial32": dict(n_radial=32, radial_width_A=0.2),
    "angular5": dict(n_angular_radial=5, angular_width_A=0.3),
    "fine": dict(n_radial=32, radial_width_A=0.2, n_angular_radial=5, angular_width_A=0.3),
    "fine_cut4": dict(n_radial=32, radial_width_A=0.2, n_angular_radial=5, angular_width_A=0.3,
                      angular_cutoff_A=4.0),
    "fine_h128": dict(n_radial=32, radial_width_A=0.2, n_angular_radial=5, angular_width_A=0.3),
    "fine_zeta4": dict(n_radial=32, radial_width_A=0.2, n_angular_radial=5, angular_width_A=0.3,
                       zetas=(1.0, 2.0, 4.0, 16.0)),
    "vff": dict(n_radial=32, radial_width_A=0.2, n_angular_radial=5, angular_width_A=0.3),
    "vff_messages": dict(n_radial=32, radial_width_A=0.2, n_angular_radial=5, angular_width_A=0.3),
}
#: element-network widths where a variant differs from the 64-64 default
HIDDEN = {"fine_h128": (128, 128)}
#: message settings (:class:`~multiscale.atomistic.model.MessageSettings`) where a variant has them
MESSAGES = {"vff_messages": dict(n_channels=16, n_radial=4, cutoff_A=4.0)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--json", action="store_true")
    p.add_argument("--calls", type=int, default=8, help="timed calls per grid (the minimum is kept)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--grids", default=",".join(GRIDS), help="comma-separated grids to time (default: all); the "
                                                             "default grid, the anchor, is always timed")
    args = p.parse_args(argv)
    grids = ["default"] + [g for g in dict.fromkeys(x.strip() for x in args.grids.split(",")) if g and g != "default"]
    unknown = [g for g in grids if g not in GRIDS]
    if unknown:
        raise SystemExit(f"--grids {args.grids!r}: unknown {', '.join(unknown)}; each must be one of "
                         f"{', '.join(GRIDS)}")
    import torch

    from multiscale.atomistic import default_system
    from multiscale.atomistic.calculator import MLPotential
    from multiscale.atomistic.ensemble import PotentialEnsemble
    from multiscale.atomistic.model import DescriptorSettings, FieldAwarePotential, MessageSettings, NetworkSettings

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out: dict = dict(cell_atoms=None, threads=args.threads, grids={})
    for name in grids:
        kw = GRIDS[name]
        settings = DescriptorSettings(cutoff_A=6.5, **kw)
        messages = MessageSettings(**MESSAGES[name]) if name in MESSAGES else None
        net = NetworkSettings(hidden=HIDDEN.get(name, (64, 64)), messages=messages)
        members = [FieldAwarePotential(descriptor=settings, network=net) for _ in range(4)]
        for m in members:
            m.field_range.copy_(torch.tensor([-0.2, 0.2], dtype=torch.float64))
            m.min_distance.fill_(0.5)
        calc = MLPotential(PotentialEnsemble(members))
        big = default_system(0, size="md")
        big.calc = calc
        big.get_forces()  # warm-up
        times = []
        for _ in range(args.calls):
            big.positions[-1, 0] += 1e-6  # an electrolyte atom: a fresh call, the frozen sheet as in MD
            t = time.perf_counter()
            big.get_forces()
            times.append(time.perf_counter() - t)
        out["cell_atoms"] = len(big)
        out["grids"][name] = dict(settings=settings.to_dict(), hidden=list(HIDDEN.get(name, (64, 64))),
                                  messages=MESSAGES.get(name), n_features=int(members[0].descriptor.n_features),
                                  seconds_per_call=min(times), atom_steps_per_s=len(big) / min(times))
    anchor = out["grids"]["default"]["seconds_per_call"]
    for g in out["grids"].values():
        g["cost_vs_default"] = g["seconds_per_call"] / anchor
    if args.json:
        print(json.dumps(out))
    else:
        for name, g in out["grids"].items():
            print(f"{name:10s} {g['n_features']!s:>5} features  {g['seconds_per_call'] * 1e3:6.1f} ms  "
                  f"×{g['cost_vs_default']:.2f}")
    return out


if __name__ == "__main__":
    main()
