"""Convex hull of 10,000 entries in a quaternary space: time and e_above_hull vs pymatgen.

Both codes start from the same list of (formula, total energy) pairs and end with the energy
above the hull of every entry. Targets: ours ≤ 2 s, faster than pymatgen (ratio printed,
timed in the same run), and |ΔE_hull − ΔE_hull(pymatgen)| ≤ 1e-8 eV/atom for every entry.

Run: ``python benchmarks/bench_hull.py --json`` (or ``multiscale bench hull --json``).
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ELEMENTS = ("Li", "Fe", "P", "O")
MU = {"Li": -1.91, "Fe": -8.47, "P": -5.41, "O": -4.93}   # eV/atom, roughly MP GGA(+U) scale


def random_entries(n: int, seed: int = 0, max_amount: int = 8) -> list[tuple[str, float]]:
    """Elemental references plus n random Li–Fe–P–O compounds (formation −1.5 … +0.3 eV/atom)."""
    rng = np.random.default_rng(seed)
    entries = [(el, MU[el]) for el in ELEMENTS]
    while len(entries) < n:
        amounts = rng.integers(0, max_amount + 1, size=len(ELEMENTS))
        if (amounts > 0).sum() < 2:
            continue
        formula = "".join(f"{el}{a}" for el, a in zip(ELEMENTS, amounts) if a)
        energy = float(sum(a * MU[el] for el, a in zip(ELEMENTS, amounts)) + amounts.sum() * rng.uniform(-1.5, 0.3))
        entries.append((formula, energy))
    return entries


def run_ours(entries):
    from multiscale.thermo import PhaseDiagram
    from multiscale.thermo.composition import _parse_formula_cached

    _parse_formula_cached.cache_clear()      # every run parses from scratch, like pymatgen's
    t0 = time.perf_counter()
    pd = PhaseDiagram(entries)
    e_hull = pd.e_above_hull_all()
    return time.perf_counter() - t0, e_hull, pd


def run_pymatgen(entries):
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    t0 = time.perf_counter()
    pe = [PDEntry(Composition(f), e) for f, e in entries]
    pd = PhaseDiagram(pe)
    e_hull = np.array([pd.get_e_above_hull(e) for e in pe])
    return time.perf_counter() - t0, e_hull, pd


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    entries = random_entries(args.n)
    times = []
    for _ in range(args.repeats):
        t, ours, pd = run_ours(entries)
        times.append(t)
    t_ours = float(np.median(times))
    result = {"benchmark": "hull", "n_entries": len(entries), "elements": list(ELEMENTS),
              "n_stable": len(pd.stable_entries), "n_facets": len(pd.facets), "time_s": t_ours,
              "time_s_runs": times}
    try:
        t_ref, ref, ref_pd = run_pymatgen(entries)
    except ImportError:
        result.update({"pymatgen": "not installed", "targets": {"time_s <= 2": t_ours <= 2.0},
                       "pass": t_ours <= 2.0})
        return result
    err = float(np.max(np.abs(ours - ref)))
    ratio = t_ref / t_ours
    same_stable = len(ref_pd.stable_entries) == len(pd.stable_entries)
    targets = {"time_s <= 2": t_ours <= 2.0, "faster than pymatgen (ratio > 1)": ratio > 1.0,
               "max |dE_hull| <= 1e-8 eV/atom": err <= 1e-8, "same number of stable entries": same_stable}
    result.update({"pymatgen_time_s": t_ref, "speedup_vs_pymatgen": ratio, "max_abs_e_above_hull_diff_eV_atom": err,
                   "pymatgen_n_stable": len(ref_pd.stable_entries), "targets": targets,
                   "pass": all(targets.values())})
    return result


if __name__ == "__main__":
    res = main()
    import sys

    if "--json" not in sys.argv:
        for k, v in res.items():
            print(f"{k}: {v}")
    print(json.dumps(res))
