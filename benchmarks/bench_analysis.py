"""RDF and MSD against MDAnalysis (InterRDF, EinsteinMSD(fft=True)) on the same trajectory.

The trajectory is a lattice random walk of ``--atoms`` atoms over ``--frames`` frames in a
cubic box. Positions lie on a 1/4 Å grid, so MDAnalysis' single-precision distances are exact,
and the bin edges (0.03 + k·0.1 Å) stay > 6e-6 Å away from every lattice distance, so the two
codes can be compared bin for bin (off the lattice, a float32 distance within ~1e-6 Å of an
edge can fall in the neighbouring bin in MDAnalysis). Both codes run in this process on identical
float32 coordinates; speed is the ratio of wall times (MDAnalysis / multiscale).

Targets: values equal to 1e-6 relative (RDF: every bin with counts; MSD: every lag > 0, lag 0
is zero up to FFT round-off in both); at least as fast as MDAnalysis for RDF and MSD at
10⁴ frames × 10³ atoms; peak extra memory of the streamed RDF independent of the trajectory
length (measured with tracemalloc at half and full length) and of the MSD within its budget.

    python benchmarks/bench_analysis.py --json [--frames 10000] [--atoms 1000]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tracemalloc
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

R_MIN = 0.03     # Å: bin edges off the lattice distances (see the module docstring)


def make_trajectory(n_frames: int, n_atoms: int, box_A: float, seed: int = 0):
    """Unwrapped lattice random walk (steps of −1/4, 0, +1/4 Å per axis) as float32."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, int(box_A * 4), size=(n_atoms, 3)).astype(np.int32)
    unwrapped = np.empty((n_frames, n_atoms, 3), dtype=np.float32)
    pos = start.copy()
    for f in range(n_frames):
        unwrapped[f] = pos / 4.0
        pos += rng.integers(-1, 2, size=pos.shape, dtype=np.int32)
    wrapped = np.mod(unwrapped, np.float32(box_A))
    return unwrapped, wrapped


def universe(pos, box_A):
    import MDAnalysis as mda

    u = mda.Universe.empty(pos.shape[1], trajectory=True)
    u.load_new(pos, order="fac")
    u.trajectory.dimensions_array[:] = [box_A, box_A, box_A, 90, 90, 90]
    return u


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def peak_extra_MB(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--atoms", type=int, default=1000)
    ap.add_argument("--box", type=float, default=25.0)
    ap.add_argument("--r-max", type=float, default=8.0)
    ap.add_argument("--bins", type=int, default=80)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")            # MDAnalysis import-time notices
    from MDAnalysis.analysis.msd import EinsteinMSD
    from MDAnalysis.analysis.rdf import InterRDF

    from multiscale.analysis import MSD, RDF

    n_a = args.atoms // 2
    unwrapped, wrapped = make_trajectory(args.frames, args.atoms, args.box)
    cell = [args.box] * 3

    # --- RDF: species A (first half) around species B (second half) ------------------------
    u_w = universe(wrapped, args.box)
    ref_rdf, t_mda_rdf = timed(lambda: InterRDF(u_w.atoms[:n_a], u_w.atoms[n_a:], nbins=args.bins,
                                                range=(R_MIN, R_MIN + args.r_max)).run())
    ours_rdf, t_ours_rdf = timed(lambda: RDF(np.arange(n_a), np.arange(n_a, args.atoms), r_min_A=R_MIN,
                                             r_max_A=R_MIN + args.r_max, n_bins=args.bins,
                                             chunk_size=256).run(wrapped, cell=cell))
    g_ref, g = ref_rdf.results.rdf, ours_rdf.results["g(r)"]
    nz = ref_rdf.results.count > 0
    rdf_rel = float(np.max(np.abs(g[nz] / g_ref[nz] - 1))) if nz.any() else 0.0
    rdf_zero_bins_match = bool(np.all(g[~nz] == 0))
    del u_w, ref_rdf

    # --- MSD ---------------------------------------------------------------------------------
    u_u = universe(unwrapped, args.box)
    ref_msd, t_mda_msd = timed(lambda: EinsteinMSD(u_u, select="all", msd_type="xyz", fft=True).run())
    ours_msd, t_ours_msd = timed(lambda: MSD(None, max_memory_MB=256).run(unwrapped, timestep_ps=1.0))
    m_ref = ref_msd.results.timeseries
    m = ours_msd.results["MSD"] * 1e20
    msd_rel = float(np.max(np.abs(m[1:] / m_ref[1:] - 1)))
    msd_lag0 = float(max(abs(m[0]), abs(m_ref[0])))
    del u_u, ref_msd

    # --- memory: streamed RDF at half and full length; MSD against its budget ---------------
    half = args.frames // 2
    n_mem = min(half, 400)
    rdf_mem = [peak_extra_MB(lambda n=n: RDF(np.arange(n_a), np.arange(n_a, args.atoms), r_max_A=args.r_max,
                                              n_bins=args.bins, chunk_size=64).run(wrapped[:n], cell=cell))
               for n in (n_mem, 2 * n_mem)]
    budget = 32.0
    msd_mem = peak_extra_MB(lambda: MSD(None, max_memory_MB=budget).run(unwrapped, timestep_ps=1.0))
    msd_input_MB = unwrapped.nbytes * 2 / 2**20    # a float64 copy of the whole trajectory

    rdf_speed = t_mda_rdf / t_ours_rdf
    msd_speed = t_mda_msd / t_ours_msd
    result = {
        "benchmark": "analysis",
        "frames": args.frames, "atoms": args.atoms, "box_A": args.box,
        "rdf": {"mdanalysis_s": round(t_mda_rdf, 3), "multiscale_s": round(t_ours_rdf, 3),
                "speed_ratio_mdanalysis_over_multiscale": round(rdf_speed, 3),
                "max_relative_difference": rdf_rel, "empty_bins_match": rdf_zero_bins_match},
        "msd": {"mdanalysis_s": round(t_mda_msd, 3), "multiscale_s": round(t_ours_msd, 3),
                "speed_ratio_mdanalysis_over_multiscale": round(msd_speed, 3),
                "max_relative_difference_lag_gt_0": msd_rel, "lag0_abs_A2": msd_lag0},
        "memory": {"rdf_peak_extra_MB": [round(x, 2) for x in rdf_mem], "rdf_frames": [n_mem, 2 * n_mem],
                   "msd_peak_extra_MB": round(msd_mem, 2), "msd_budget_MB": budget,
                   "whole_trajectory_float64_MB": round(msd_input_MB, 1)},
        "targets": {"rdf_relative_difference": 1e-6, "msd_relative_difference": 1e-6,
                    "speed_ratio_at_least": 1.0, "target_scale": "1e4 frames x 1e3 atoms",
                    "rdf_memory_growth_at_most": 1.25, "msd_memory_at_most_x_budget": 2.0},
    }
    result["pass"] = {
        "rdf_values": rdf_rel <= 1e-6 and rdf_zero_bins_match,
        "msd_values": msd_rel <= 1e-6 and msd_lag0 < 1e-6,
        "rdf_speed": rdf_speed >= 1.0,
        "msd_speed": msd_speed >= 1.0,
        "at_target_scale": args.frames >= 10000 and args.atoms >= 1000,
        "rdf_memory_bounded": rdf_mem[1] <= 1.25 * rdf_mem[0] + 1.0,
        "msd_memory_bounded": msd_mem <= 2.0 * budget,
    }
    result["all_pass"] = all(result["pass"].values())
    if not args.json:
        print(json.dumps(result, indent=2))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
