"""Benchmark of the hybrid SPMe + ML corrector against the DFN on held-out profiles.

For every held-out case of the shipped dataset's manifest (families, temperatures and initial
SOCs never used in training; see data/hybrid_chen2020/README.md) the profile is rebuilt from its
seed and solved three ways, each timed as a whole-profile call (model build + solve):

- DFN (PyBaMM, Chen2020, IDAKLU): the reference;
- plain PyBaMM SPMe with the same solver settings: the accuracy baseline and the speed anchor;
- ``HybridSPMe.simulate`` (guarded SPMe + corrector).

Printed per family: SPMe and hybrid RMSE / max |error| vs the DFN [mV] on the points both reach,
how far each runs relative to the DFN, and the wall times. Diagnostic only (no target): the
hybrid's error on the points its guarded SPMe does not mark "Electrolyte depleted", and the
profiles whose hybrid end misses the DFN's (see the known limit in multiscale/battery/hybrid.py). Targets (issue 3) on in-domain cases
(RMS C-rate ≤ 2, peaks ≤ 3C): hybrid RMSE ≤ 2 mV and max ≤ 10 mV per family; hybrid ≥ 3× better
where SPMe RMSE > 3 mV; the hybrid runs as far as the DFN (ends within one sample of it);
cost ≤ 1.5× plain SPMe; Spearman(spread, |error|) > 0.

Usage: python benchmarks/bench_hybrid.py [--json] [--per-family N]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--per-family", type=int, default=9, help="held-out cases per family (max 9)")
    args = ap.parse_args()

    from scipy.stats import spearmanr

    from multiscale.battery import HybridSPMe
    from multiscale.battery.datagen import solve_pybamm
    from multiscale.battery.protocols import make_profile
    from multiscale.resources import data_path

    model = HybridSPMe.load()
    q = model.nominal_capacity_Ah
    manifest = json.loads(data_path("hybrid_chen2020", "manifest.json").read_text())
    held = [r for r in manifest["cases"] if r["split"] == "heldout"]
    per_fam: dict = {}
    for r in held:
        per_fam.setdefault(r["family"], [])
        if len(per_fam[r["family"]]) < args.per_family:
            per_fam[r["family"]].append(r)
    fams, all_err, all_spread = {}, [], []
    t_total = {"dfn": 0.0, "spme": 0.0, "hybrid": 0.0}
    skipped = []
    for fam, rows in sorted(per_fam.items()):
        acc = {"spme_sq": [], "hyb_sq": [], "spme_max": 0.0, "hyb_max": 0.0, "n": 0, "t_dfn": 0.0, "t_spme": 0.0,
               "t_hyb": 0.0, "hyb_reach_ok": 0, "spme_reach_ok": 0, "n_dfn_failed": 0, "hyb_sq_ok": [],
               "hyb_max_ok": 0.0, "reach_misses": []}
        for r in rows:
            prof = make_profile(r["family"], r["seed"], q, initial_soc=r["initial_soc"])
            if prof.rms_c_rate(q) > 2.0 + 1e-9:
                skipped.append(r["case_id"])
                continue
            kw = {"ambient_temperature_K": r["temperature_K"], "initial_soc": r["initial_soc"]}
            t0 = time.perf_counter()
            try:
                dfn = solve_pybamm("DFN", prof.time_s, prof.current_A, **kw)
            except Exception:  # noqa: BLE001 - a DFN failure is counted, as in data generation
                acc["n_dfn_failed"] += 1
                continue
            t1 = time.perf_counter()
            spme = solve_pybamm("SPMe", prof.time_s, prof.current_A, **kw)
            t2 = time.perf_counter()
            hyb = model.simulate(prof.time_s, prof.current_A, **kw)
            t3 = time.perf_counter()
            acc["t_dfn"] += t1 - t0
            acc["t_spme"] += t2 - t1
            acc["t_hyb"] += t3 - t2
            v_dfn = dfn["Voltage [V]"]
            n_d, n_s, n_h = v_dfn.size, spme["Voltage [V]"].size, len(hyb)
            dt_last = np.diff(prof.time_s).max()
            t_end_d = prof.time_s[n_d - 1]
            reach_ok = abs(prof.time_s[n_h - 1] - t_end_d) <= dt_last + 1e-9
            acc["hyb_reach_ok"] += int(reach_ok)
            acc["spme_reach_ok"] += int(abs(prof.time_s[n_s - 1] - t_end_d) <= dt_last + 1e-9)
            m = min(n_d, n_h)
            e_h = hyb["Voltage [V]"].to_numpy()[:m] - v_dfn[:m]
            ms = min(n_d, n_s)
            e_s = spme["Voltage [V]"][:ms] - v_dfn[:ms]
            acc["hyb_sq"].append(e_h**2)
            acc["spme_sq"].append(e_s**2)
            acc["hyb_max"] = max(acc["hyb_max"], float(np.abs(e_h).max()))
            dep = hyb["Electrolyte depleted"].to_numpy()
            e_ok = e_h[~dep[:m]]
            acc["hyb_sq_ok"].append(e_ok**2)
            acc["hyb_max_ok"] = max(acc["hyb_max_ok"], float(np.abs(e_ok).max()) if e_ok.size else 0.0)
            if not reach_ok:
                acc["reach_misses"].append({"case_id": r["case_id"], "t_end_dfn_s": round(float(t_end_d), 1),
                                            "t_end_hybrid_s": round(float(prof.time_s[n_h - 1]), 1),
                                            "depleted_points_before_dfn_end": int(dep[:m].sum())})
            acc["spme_max"] = max(acc["spme_max"], float(np.abs(e_s).max()))
            acc["n"] += 1
            all_err.append(np.abs(e_h))
            all_spread.append(hyb["Correction spread [V]"].to_numpy()[:m])
        if acc["n"] == 0:
            continue
        print(f"[bench_hybrid] {fam}: {acc['n']} profiles done", file=sys.stderr)
        s_rmse = 1e3 * float(np.sqrt(np.mean(np.concatenate(acc["spme_sq"]))))
        h_rmse = 1e3 * float(np.sqrt(np.mean(np.concatenate(acc["hyb_sq"]))))
        h_max = 1e3 * acc["hyb_max"]
        fams[fam] = {
            "n_profiles": acc["n"], "n_dfn_failed": acc["n_dfn_failed"],
            "spme_rmse_mV": round(s_rmse, 3), "spme_max_mV": round(1e3 * acc["spme_max"], 2),
            "hybrid_rmse_mV": round(h_rmse, 3), "hybrid_max_mV": round(h_max, 2),
            "spme_runs_as_far_as_dfn": f"{acc['spme_reach_ok']}/{acc['n']}",
            "hybrid_runs_as_far_as_dfn": f"{acc['hyb_reach_ok']}/{acc['n']}",
            "diagnostic_electrolyte_depleted": {
                "n_points": int(sum(a.size for a in acc["hyb_sq"]) - sum(a.size for a in acc["hyb_sq_ok"])),
                "hybrid_rmse_mV_elsewhere": round(1e3 * float(np.sqrt(np.mean(np.concatenate(acc["hyb_sq_ok"])))), 3),
                "hybrid_max_mV_elsewhere": round(1e3 * acc["hyb_max_ok"], 2),
                "reach_misses": acc["reach_misses"]},
            "wall_s": {"dfn": round(acc["t_dfn"], 3), "spme": round(acc["t_spme"], 3), "hybrid": round(acc["t_hyb"], 3)},
            "pass": {"rmse_le_2mV": bool(h_rmse <= 2.0), "max_le_10mV": bool(h_max <= 10.0),
                     "3x_better_where_spme_gt_3mV": bool((s_rmse <= 3.0) or (h_rmse * 3.0 <= s_rmse)),
                     "runs_as_far_as_dfn": bool(acc["hyb_reach_ok"] == acc["n"])},
        }
        t_total["dfn"] += acc["t_dfn"]
        t_total["spme"] += acc["t_spme"]
        t_total["hybrid"] += acc["t_hyb"]
    rho = float(spearmanr(np.concatenate(all_spread), np.concatenate(all_err)).statistic)
    cost_ratio = t_total["hybrid"] / t_total["spme"]
    targets = {
        "hybrid_rmse_mV_per_family": {"target": "<= 2", "pass": all(f["pass"]["rmse_le_2mV"] for f in fams.values())},
        "hybrid_max_mV_per_family": {"target": "<= 10", "pass": all(f["pass"]["max_le_10mV"] for f in fams.values())},
        "3x_better_than_spme_where_spme_rmse_gt_3mV": {
            "target": ">= 3x", "pass": all(f["pass"]["3x_better_where_spme_gt_3mV"] for f in fams.values())},
        "runs_as_far_as_dfn": {"target": "all profiles",
                               "pass": all(f["pass"]["runs_as_far_as_dfn"] for f in fams.values())},
        "cost_vs_plain_spme": {"value": round(cost_ratio, 3), "target": "<= 1.5", "pass": bool(cost_ratio <= 1.5)},
        "spearman_spread_vs_error": {"value": round(rho, 3), "target": "> 0", "pass": bool(rho > 0)},
    }
    out = {"benchmark": "hybrid", "device": "cpu", "reference": "PyBaMM DFN, Chen2020, IDAKLU",
           "anchor": "plain PyBaMM SPMe, same profiles, same solver settings",
           "families": fams, "wall_s_total": {k: round(v, 3) for k, v in t_total.items()},
           "speedup_vs_dfn": round(t_total["dfn"] / t_total["hybrid"], 2),
           "excluded_rms_above_2C": skipped, "targets": targets,
           "all_pass": all(t["pass"] for t in targets.values())}
    if not args.json:
        for fam, f in fams.items():
            print(f"{fam:14s} SPMe {f['spme_rmse_mV']:7.2f} / {f['spme_max_mV']:7.1f} mV   hybrid "
                  f"{f['hybrid_rmse_mV']:6.2f} / {f['hybrid_max_mV']:6.1f} mV   reach {f['hybrid_runs_as_far_as_dfn']}",
                  file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
