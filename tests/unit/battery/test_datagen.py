"""Data generation: held-out split, a real DFN/SPMe case, failures recorded, resume, packing."""
import json

import numpy as np
import pybamm

from multiscale.battery import datagen
from multiscale.battery.datagen import (
    HELDOUT_FAMILIES, HELDOUT_SOCS, HELDOUT_TEMPERATURES_C, design_cases, generate, load_traces, pack,
)
from multiscale.battery.protocols import cc


def test_split_never_trains_on_heldout_conditions():
    cases = design_cases(60, 21, seed=1)
    train = [c for c in cases if c.split == "train"]
    held = [c for c in cases if c.split == "heldout"]
    assert len(train) == 60 and len(held) == 21
    for c in train:
        assert c.family not in HELDOUT_FAMILIES
        assert all(abs(c.temperature_K - 273.15 - t) > 2.5 for t in HELDOUT_TEMPERATURES_C)
        assert all(abs(c.initial_soc - s) > 0.03 for s in HELDOUT_SOCS)
        assert 273.15 <= c.temperature_K <= 318.15 and 0.1 <= c.initial_soc <= 1.0
    assert {c.family for c in held} >= set(HELDOUT_FAMILIES)
    assert design_cases(60, 21, seed=1) == cases  # seeded


def _short(family, seed, q, initial_soc=1.0, **_):
    return cc(1.0, 300.0, q)


def test_generate_records_failures_resumes_and_packs(tmp_path, monkeypatch):
    monkeypatch.setattr(datagen, "make_profile", _short)
    cases = design_cases(2, 0, seed=3)
    real = datagen.solve_pybamm

    def flaky(model_name, *a, **k):
        if model_name == "DFN" and k["initial_soc"] == cases[1].initial_soc:
            raise pybamm.SolverError("forced failure for the test")
        return real(model_name, *a, **k)

    monkeypatch.setattr(datagen, "solve_pybamm", flaky)
    rows = generate(tmp_path, cases, n_workers=0, progress=False)
    status = {r["case_id"]: r for r in rows}
    assert status[cases[0].case_id]["status"] == "ok"
    bad = status[cases[1].case_id]
    assert bad["status"] == "failed" and "forced failure" in bad["message"]  # recorded, not dropped
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert {r["status"] for r in on_disk["cases"]} == {"ok", "failed"}

    def must_not_run(*a, **k):
        raise AssertionError("a finished case was solved again")

    monkeypatch.setattr(datagen, "solve_pybamm", must_not_run)
    generate(tmp_path, cases, n_workers=0, progress=False)  # resume: nothing to do
    pack(tmp_path, tmp_path / "packed")
    traces, manifest = load_traces(tmp_path / "packed")
    assert len(traces) == 1 and traces[0]["case_id"] == cases[0].case_id
    tr = traces[0]
    # the DFN and the SPMe agree to a few mV at 1C over 5 min (reference: ~5 mV RMSE at 1C)
    dv = tr["dfn_voltage_V"] - tr["spme_states"][:, 1]
    assert np.sqrt(np.mean(dv**2)) < 0.01
    assert np.all(np.diff(tr["time_s"]) > 0)
