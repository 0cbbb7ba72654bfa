"""`multiscale run --fast` end to end: outputs, honest not-built list, resume, PyBaMM-loadable BPX."""
import json
import warnings

import pybamm
import pytest

from multiscale.pipeline import run_pipeline


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = run_pipeline(None, out_dir=out, quiet=True, fast=True)
    return out, result


def test_outputs_written(run_dir):
    out, result = run_dir
    for name in ("report.html", "summary.json", "parameters.bpx.json"):
        assert (out / name).is_file(), name
    assert list((out / "figures").glob("*.png"))
    summary = json.loads((out / "summary.json").read_text())
    for name, p in summary["parameters"].items():
        assert {"value", "unit", "provenance"} <= set(p), name
        assert p["provenance"], name
    # Stages that did not run are listed, never faked.
    assert set(result.not_built) | set(result.finished) | set(result.resumed) == {
        "md", "analysis", "reactions", "continuum", "export", "cell"}


def test_exported_bpx_runs_in_pybamm(run_dir):
    out, _ = run_dir
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not found in BPX file.*")
        pv = pybamm.ParameterValues.create_from_bpx(str(out / "parameters.bpx.json"))
    summary = json.loads((out / "summary.json").read_text())
    c_dl = summary["parameters"]["Double-layer capacitance at pzc"]["value"]
    assert pv["Negative electrode double-layer capacity [F.m-2]"] == pytest.approx(c_dl)


def test_second_run_resumes(run_dir):
    out, first = run_dir
    again = run_pipeline(None, out_dir=out, quiet=True, fast=True)
    assert again.finished == []
    assert sorted(again.resumed) == sorted(first.finished + first.resumed)
