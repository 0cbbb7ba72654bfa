"""`multiscale run --fast` end to end: outputs, honest not-built list, resume, PyBaMM-loadable BPX."""
import json
import warnings

import numpy as np
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
        "md", "analysis", "reactions", "continuum", "thermo", "export", "cell"}


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


def test_thermo_stage_reports_the_hull_ocp_and_keeps_the_base_set_by_default(run_dir):
    out, _ = run_dir
    summary = json.loads((out / "summary.json").read_text())
    p = summary["parameters"]
    stage_one = p["Li_xC6 hull OCP at θ = 0.25"]
    lo, hi = stage_one["interval95"]
    assert lo < stage_one["value"] < hi and "convex hull" in stage_one["provenance"]
    assert p["Li_xC6 hull OCP at θ = 0.75"]["value"] < stage_one["value"]  # stage I below stage II
    assert (out / "figures" / "negative_ocp.png").is_file()
    assert summary["stages"]["thermo"]["used_in_cell"] is False
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not found in BPX file.*")
        pv = pybamm.ParameterValues.create_from_bpx(str(out / "parameters.bpx.json"))
    ocp = np.ravel(pv.evaluate(pv["Negative electrode OCP [V]"](pybamm.Scalar(0.25))))[0]
    assert abs(float(ocp) - stage_one["value"]) > 0.1  # the base set's graphite OCP, not the hull's


def test_hull_ocp_goes_into_the_cell_when_asked(tmp_path):
    """cell.negative_ocp = "hull": the exported BPX carries the hull staircase and the DFN runs on it."""
    cfg = tmp_path / "hull.toml"
    cfg.write_text('[md]\nlive_steps = 0\n[cell]\nnegative_ocp = "hull"\n')
    out = tmp_path / "run"
    result = run_pipeline(cfg, out_dir=out, quiet=True, fast=True)
    assert "cell" in result.finished and "thermo" in result.finished
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stages"]["thermo"]["used_in_cell"] is True
    assert "Negative electrode OCP [V]" in summary["stages"]["export"]["replaced"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not found in BPX file.*")
        pv = pybamm.ParameterValues.create_from_bpx(str(out / "parameters.bpx.json"))
    ocp = np.ravel(pv.evaluate(pv["Negative electrode OCP [V]"](pybamm.Scalar(0.25))))[0]
    assert float(ocp) == pytest.approx(summary["parameters"]["Li_xC6 hull OCP at θ = 0.25"]["value"], abs=1e-6)
    assert summary["parameters"]["SPMe vs DFN voltage RMSE"]["value"] > 0


def test_report_renders_in_a_headless_browser(run_dir, tmp_path):
    """report.html in real headless Chromium: title, tables, every embedded figure decoded."""
    from multiscale.pipeline.render_check import check_render, find_browser

    if find_browser() is None:
        pytest.skip("no Chromium-family browser on PATH (apt install chromium)")
    out, _ = run_dir
    rc = check_render(out / "report.html", screenshot=tmp_path / "shot.png")
    n_png = len(list((out / "figures").glob("*.png")))
    assert rc["ok"], rc
    assert rc["images_loaded"] == rc["images_total"] == n_png
    assert rc["screenshot"] and (tmp_path / "shot.png").stat().st_size > 10_000


def test_render_check_fails_on_a_broken_figure(tmp_path):
    from multiscale.pipeline.render_check import check_render, find_browser

    if find_browser() is None:
        pytest.skip("no Chromium-family browser on PATH (apt install chromium)")
    from multiscale.pipeline.report import _LOAD_PROBE

    page = tmp_path / "r.html"
    page.write_text("<!DOCTYPE html><html><head><title>t</title></head><body><table></table><table></table>"
                    '<img src="data:image/png;base64,AAAA"><script>' + _LOAD_PROBE + "</script></body></html>")
    rc = check_render(page)
    assert rc["images_total"] == 1 and rc["images_loaded"] == 0 and not rc["ok"]


def test_alpha_of_the_negative_electrode_comes_from_the_neb_scan(run_dir):
    """The reactions layer feeds the export: α from the CI-NEB scan reaches the BPX file, and the
    scan has the physical sign (a positive electrode pushes Li⁺ away: the barrier to the contact
    layer rises with φ)."""
    out, _ = run_dir
    summary = json.loads((out / "summary.json").read_text())
    scan = summary["stages"]["reactions"]["neb_scan"]
    assert scan["usable"], scan.get("why")
    assert np.all(np.diff(scan["barrier_eV"]) > 0)
    lo, hi = scan["alpha_ci95"]
    assert 0.0 < scan["alpha"] < 1.0 and lo < scan["alpha"] < hi
    assert "Negative electrode charge transfer coefficient" in summary["stages"]["export"]["replaced"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not found in BPX file.*")
        pv = pybamm.ParameterValues.create_from_bpx(str(out / "parameters.bpx.json"))
    assert pv["Negative electrode charge transfer coefficient"] == pytest.approx(scan["alpha"])
