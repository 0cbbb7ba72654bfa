"""DFN / SPMe training and validation traces: PyBaMM solves on the protocols, through Dask.

Each *case* is one protocol (family + seed) at an ambient temperature and an initial SOC. The
DFN (Doyle–Fuller–Newman P2D model; Doyle, Fuller, Newman, J. Electrochem. Soc. 140 (1993)
1526) and the SPMe (Marquis et al., J. Electrochem. Soc. 166 (2019) A3693) are solved by
PyBaMM with the IDAKLU solver on the same current, sampled at the profile's time points:

    "Ambient temperature [K]" = "Initial temperature [K]" = T,  initial state from SOC,
    "Current function [A]" = linear interpolant of the profile (positive = discharge).

A case that the DFN cannot solve is recorded in the manifest with ``status = "failed"`` and
its message, and skipped (never dropped silently). A solve that stops at a voltage cut-off
before the end of the profile is kept up to that point (``status = "ok"``, ``t_end_s`` and
``termination`` in the manifest). Each finished case is written at once to ``cases/<id>.npz``
and the manifest rewritten atomically, so an interrupted run resumes where it stopped.

Split (held-out evaluation): the ``drive_cycle`` family, the ambient temperatures 5, 20 and
40 °C (± 2.5 °C bands) and initial SOCs 0.25, 0.55, 0.85 (± 0.03 bands) are never drawn for
training; held-out cases draw all families at those temperatures and SOCs.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import DataFileError
from ..io import atomic_path, atomic_write_json
from .features import SPME_STATE_VARIABLES
from .protocols import FAMILIES, make_profile

log = logging.getLogger(__name__)

HELDOUT_FAMILIES = ("drive_cycle",)
HELDOUT_TEMPERATURES_C = (5.0, 20.0, 40.0)
HELDOUT_SOCS = (0.25, 0.55, 0.85)
TEMPERATURE_RANGE_C = (0.0, 45.0)
SOC_RANGE = (0.1, 1.0)
_T_BAND_C, _SOC_BAND = 2.5, 0.03
SOLVER_TOLERANCES = {"rtol": 1e-6, "atol": 1e-8}
#: Largest solver step [s]. Without it IDA's adaptive step can jump over a whole 10 s pulse after
#: a long rest (seen here: the DFN "missed" HPPC pulses); with it any current feature lasting
#: ≥ 2·MAX_STEP_S is resolved, shorter ones by the error control once a step straddles them.
MAX_STEP_S = 5.0


@dataclass
class Case:
    """One data-generation case (a manifest row, without its outcome)."""

    case_id: str
    family: str
    seed: int
    temperature_K: float
    initial_soc: float
    split: str
    parameter_set: str = "Chen2020"


def design_cases(n_train: int, n_heldout: int, *, seed: int = 0, parameter_set: str = "Chen2020") -> list[Case]:
    """Draw the case list: training cases avoid the held-out families, temperatures and SOCs."""
    rng = np.random.default_rng(seed)
    train_fams = [f for f in FAMILIES if f not in HELDOUT_FAMILIES]
    cases = []
    for k in range(int(n_train)):
        fam = train_fams[k % len(train_fams)]
        t_c = _draw_outside(rng, TEMPERATURE_RANGE_C, HELDOUT_TEMPERATURES_C, _T_BAND_C)
        soc = _draw_outside(rng, _soc_range(fam), HELDOUT_SOCS, _SOC_BAND)
        cases.append(Case(f"train-{k:04d}", fam, int(rng.integers(2**31)), round(273.15 + t_c, 3),
                          round(soc, 4), "train", parameter_set))
    for k in range(int(n_heldout)):
        fam = FAMILIES[k % len(FAMILIES)]
        t_c = HELDOUT_TEMPERATURES_C[(k // len(FAMILIES)) % len(HELDOUT_TEMPERATURES_C)]
        lo, hi = _soc_range(fam)
        socs = [s for s in HELDOUT_SOCS if lo <= s <= hi]
        soc = socs[int(rng.integers(len(socs)))]
        cases.append(Case(f"heldout-{k:04d}", fam, int(rng.integers(2**31)), round(273.15 + t_c, 3), soc,
                          "heldout", parameter_set))
    return cases


def _soc_range(family: str) -> tuple[float, float]:
    if family in ("cc_charge", "cccv_charge"):
        return (0.1, 0.8)
    if family in ("cc_discharge",):
        return (0.2, 1.0)
    return (0.3, 1.0)


def _draw_outside(rng, bounds, centres, band) -> float:
    while True:
        x = float(rng.uniform(*bounds))
        if all(abs(x - c) > band for c in centres):
            return x


_BASE_PARAMETERS: dict = {}


def base_parameter_values(parameter_set: str = "Chen2020"):
    """A fresh copy of a PyBaMM parameter set (cached per process)."""
    import pybamm

    if parameter_set not in _BASE_PARAMETERS:
        _BASE_PARAMETERS[parameter_set] = pybamm.ParameterValues(parameter_set)
    return _BASE_PARAMETERS[parameter_set].copy()


def solve_pybamm(model_name: str, time_s, current_A, *, ambient_temperature_K: float, initial_soc: float,
                 parameter_values=None, variables: Sequence[str] = ("Voltage [V]",), model=None) -> dict:
    """Solve a PyBaMM lithium-ion model on a current profile; outputs at the profile times.

    ``model_name`` is ``"DFN"`` or ``"SPMe"`` (``model`` overrides it with a model instance).
    Returns ``{"Time [s]": t[:n], var: values[:n] ..., "termination": str}`` where ``n`` is the
    number of profile points reached before the solver stopped (a voltage cut-off event).
    Positive current discharges. Raises :class:`pybamm.SolverError` when the solver fails.
    """
    import pybamm

    os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
    t = np.asarray(time_s, dtype=float)
    i = np.asarray(current_A, dtype=float)
    pv = parameter_values.copy() if parameter_values is not None else base_parameter_values()
    t0 = t[0]
    pv.update({
        "Ambient temperature [K]": float(ambient_temperature_K),
        "Initial temperature [K]": float(ambient_temperature_K),
        "Current function [A]": pybamm.Interpolant(t - t0, i, pybamm.t, interpolator="linear"),
    })
    if model is None:
        model = {"DFN": pybamm.lithium_ion.DFN, "SPMe": pybamm.lithium_ion.SPMe}[model_name]()
    solver = pybamm.IDAKLUSolver(**SOLVER_TOLERANCES, options={"dt_max": MAX_STEP_S})
    sim = pybamm.Simulation(model, parameter_values=pv, solver=solver)
    sol = sim.solve(t_eval=[0.0, t[-1] - t0], t_interp=t - t0, initial_soc=float(initial_soc))
    t_stop = float(sol.t[-1])
    n = int(np.searchsorted(t - t0, t_stop + 1e-6, side="right"))
    out = {"Time [s]": t[:n], "termination": str(sol.termination)}
    for var in variables:
        out[var] = np.interp(t[:n] - t0, sol.t, np.asarray(sol[var].entries, dtype=float).reshape(-1))
    return out


def run_case(case: dict) -> dict:
    """Solve one case with the DFN and the SPMe; never raises for a solver failure.

    Returns a dict with ``status`` (``"ok"`` / ``"failed"``), ``message`` and, when ok, the
    arrays ``time_s``, ``current_A``, ``dfn_voltage_V`` and the SPMe states (float64).
    """
    import pybamm

    from .robust_spme import robust_spme_states

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    pv = base_parameter_values(case["parameter_set"])
    q = float(pv["Nominal cell capacity [A.h]"])
    prof = make_profile(case["family"], case["seed"], q, initial_soc=case["initial_soc"])
    res = {"case_id": case["case_id"], "status": "ok", "message": "", "time_s": prof.time_s,
           "current_A": prof.current_A}
    try:
        dfn = solve_pybamm("DFN", prof.time_s, prof.current_A, ambient_temperature_K=case["temperature_K"],
                           initial_soc=case["initial_soc"], parameter_values=pv)
    except (pybamm.SolverError, ValueError, RuntimeError) as exc:
        res.update(status="failed", message=f"DFN: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        return res
    n = dfn["Time [s]"].size
    if n < 2:
        res.update(status="failed", message=f"DFN stopped at the first point ({dfn['termination']})")
        return res
    res["dfn_voltage_V"] = dfn["Voltage [V]"]
    res["termination"] = dfn["termination"]
    try:
        spme = robust_spme_states(prof.time_s[:n], prof.current_A[:n], ambient_temperature_K=case["temperature_K"],
                                  initial_soc=case["initial_soc"], parameter_values=pv)
    except (pybamm.SolverError, ValueError, RuntimeError) as exc:
        res.update(status="failed", message=f"SPMe: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        return res
    res["spme"] = spme
    return res


def _case_file(work_dir: Path, case_id: str) -> Path:
    return work_dir / "cases" / f"{case_id}.npz"


def _save_case(work_dir: Path, res: dict) -> None:
    arrays = {"time_s": res["time_s"], "current_A": res["current_A"]}
    if res["status"] == "ok":
        arrays["dfn_voltage_V"] = res["dfn_voltage_V"]
        spme = res["spme"]
        m = spme["Time [s]"].size
        arrays["spme_states"] = np.column_stack([spme[v] for v in SPME_STATE_VARIABLES])
        arrays["n_spme"] = np.asarray(m)
    with atomic_path(_case_file(work_dir, res["case_id"])) as tmp:
        np.savez_compressed(tmp, **arrays)


def generate(work_dir, cases: Sequence[Case], *, n_workers: int = 1, scheduler: str | None = None,
             progress: bool = True) -> list[dict]:
    """Solve every case not yet done in ``work_dir`` (resumable); returns the manifest rows.

    ``work_dir/manifest.json`` lists every case with ``status`` (``ok``/``failed``/``pending``),
    ``message``, ``t_end_s`` and ``termination``; ``work_dir/cases/<id>.npz`` holds the traces.
    """
    from ..parallel import parallel_map

    work_dir = Path(work_dir)
    (work_dir / "cases").mkdir(parents=True, exist_ok=True)
    manifest_file = work_dir / "manifest.json"
    rows = {c.case_id: {**asdict(c), "status": "pending", "message": ""} for c in cases}
    if manifest_file.exists():
        for row in json.loads(manifest_file.read_text())["cases"]:
            if row["case_id"] in rows and row["status"] != "pending" and (
                    _case_file(work_dir, row["case_id"]).exists()):
                rows[row["case_id"]] = row
    todo = [asdict(c) for c in cases if rows[c.case_id]["status"] == "pending"]
    log.info("%d cases, %d to solve", len(rows), len(todo))

    def write_manifest():
        atomic_write_json(manifest_file, {"parameter_set": cases[0].parameter_set if cases else "",
                                          "solver": {"name": "IDAKLU", **SOLVER_TOLERANCES, "dt_max_s": MAX_STEP_S},
                                          "cases": list(rows.values())})

    def on_result(_, res):
        _save_case(work_dir, res)
        row = rows[res["case_id"]]
        row["status"], row["message"] = res["status"], res["message"]
        row["n_points"] = int(res["time_s"].size)
        if res["status"] == "ok":
            row["t_end_s"] = float(res["time_s"][res["dfn_voltage_V"].size - 1])
            row["termination"] = res["termination"]
        write_manifest()

    write_manifest()
    if todo:
        parallel_map(run_case, todo, n_workers=n_workers, scheduler=scheduler, progress=progress,
                     description="DFN/SPMe cases", on_result=on_result)
    return list(rows.values())


def pack(work_dir, out_dir) -> Path:
    """Pack the per-case files of ``work_dir`` into ``out_dir/traces.npz`` + ``manifest.json``.

    ``traces.npz`` holds, for the ``ok`` cases in manifest order, concatenated float32 arrays
    (``time_s``, ``current_A``, ``dfn_voltage_V``, ``spme_states`` (n, 10)) and ``offsets``
    (case k is ``offsets[k]:offsets[k+1]``, truncated to where both DFN and SPMe reached).
    """
    work_dir, out_dir = Path(work_dir), Path(out_dir)
    manifest = json.loads((work_dir / "manifest.json").read_text())
    cols = {"time_s": [], "current_A": [], "dfn_voltage_V": [], "spme_states": []}
    offsets, ids = [0], []
    for row in manifest["cases"]:
        if row["status"] != "ok":
            continue
        with np.load(_case_file(work_dir, row["case_id"])) as z:
            n = min(z["dfn_voltage_V"].size, int(z["n_spme"]))
            cols["time_s"].append(z["time_s"][:n])
            cols["current_A"].append(z["current_A"][:n])
            cols["dfn_voltage_V"].append(z["dfn_voltage_V"][:n])
            cols["spme_states"].append(z["spme_states"][:n])
        offsets.append(offsets[-1] + n)
        ids.append(row["case_id"])
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "traces.npz") as tmp:
        np.savez_compressed(tmp, offsets=np.asarray(offsets, dtype=np.int64), case_id=np.asarray(ids),
                            time_s=np.concatenate(cols["time_s"]),  # float64: times up to 7200 s at 1 s
                            **{k: np.concatenate(v).astype(np.float32) for k, v in cols.items() if k != "time_s"},
                            state_names=np.asarray(SPME_STATE_VARIABLES))
    atomic_write_json(out_dir / "manifest.json", manifest)
    return out_dir / "traces.npz"


def load_traces(data_dir=None) -> tuple[list[dict], dict]:
    """Load a packed dataset: ``(cases, manifest)``; each case a dict of arrays + its manifest row."""
    from ..resources import data_path

    data_dir = Path(data_dir) if data_dir is not None else data_path("hybrid_chen2020")
    f = data_dir / "traces.npz"
    if not f.exists():
        raise DataFileError(f"{f} not found; regenerate with `multiscale hybrid train --generate-data`")
    manifest = json.loads((data_dir / "manifest.json").read_text())
    rows = {r["case_id"]: r for r in manifest["cases"]}
    out = []
    with np.load(f) as z:
        off = z["offsets"]
        arrays = {k: z[k] for k in ("time_s", "current_A", "dfn_voltage_V", "spme_states")}
        for k, cid in enumerate(z["case_id"]):
            sl = slice(off[k], off[k + 1])
            case = {key: np.asarray(a[sl], dtype=float) for key, a in arrays.items()}
            case.update(rows[str(cid)])
            out.append(case)
    return out, manifest


def main(argv=None) -> None:  # pragma: no cover - thin script entry for nohup runs
    import argparse

    ap = argparse.ArgumentParser(description="Generate DFN/SPMe traces (resumable).")
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--out", default=None)
    ap.add_argument("--n-train", type=int, default=280)
    ap.add_argument("--n-heldout", type=int, default=63)
    ap.add_argument("--n-workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    cases = design_cases(a.n_train, a.n_heldout, seed=a.seed)
    generate(a.work_dir, cases, n_workers=a.n_workers)
    if a.out:
        pack(a.work_dir, a.out)


if __name__ == "__main__":  # pragma: no cover
    main()
