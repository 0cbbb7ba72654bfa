"""The stage runner: caching, resume after a failure, not-built stages, summary and report."""
import json

import pytest

from multiscale.config import validate
from multiscale.errors import NotBuiltError
from multiscale.pipeline.config import SCHEMA, load_run_config
from multiscale.pipeline.runner import Stage, StageError, run_pipeline


def test_embedded_default_equals_schema_defaults():
    assert load_run_config(None) == validate({}, SCHEMA)
    assert load_run_config(None, fast=True)["run"]["fast"] is True


def _stages(calls, fail_at=None):
    def make(name):
        def stage(ctx):
            calls.append(name)
            if name == fail_at:
                raise RuntimeError("solver blew up")
            return {"value": len(ctx.results), "parameters": {f"{name} parameter": {
                "value": 1.0, "unit": "V", "interval95": [0.9, 1.1], "provenance": "live"}}}
        return stage

    def not_built(ctx):
        raise NotBuiltError("the flux capacitor is not built yet")

    return [Stage("a", "first", make("a")), Stage("b", "second", make("b")),
            Stage("c", "not built", not_built), Stage("d", "last", make("d"))]


def test_resume_after_failure_keeps_finished_stages(tmp_path):
    calls = []
    with pytest.raises(StageError, match="stage 'b' failed: RuntimeError: solver blew up"):
        run_pipeline(None, out_dir=tmp_path, quiet=True, stages=_stages(calls, fail_at="b"))
    assert calls == ["a", "b"]
    assert (tmp_path / "stages" / "a.json").is_file()
    assert "solver blew up" in (tmp_path / "stages" / "b.error.log").read_text()

    calls.clear()
    result = run_pipeline(None, out_dir=tmp_path, quiet=True, stages=_stages(calls))
    assert calls == ["b", "d"]  # 'a' resumed from its cache, 'c' not built
    assert result.resumed == ["a"] and result.finished == ["b", "d"]
    assert result.not_built == {"c": "the flux capacitor is not built yet"}

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stages"]["a"]["status"] == "resumed"
    assert summary["parameters"]["d parameter"]["interval95"] == [0.9, 1.1]
    assert "not built" in (tmp_path / "report.html").read_text()


def test_config_change_invalidates_cache(tmp_path):
    calls = []
    run_pipeline(None, out_dir=tmp_path, quiet=True, stages=_stages(calls))
    cfg = tmp_path / "c.toml"
    cfg.write_text("[run]\nseed = 3\n")
    calls.clear()
    run_pipeline(cfg, out_dir=tmp_path, quiet=True, stages=_stages(calls))
    assert calls == ["a", "b", "d"]


def test_stage_returning_nan_fails_naming_the_stage(tmp_path):
    """A NaN in a stage's result cannot be written as strict JSON: the stage fails by name."""
    stages = [Stage("a", "first", lambda ctx: {"x": 1.0}),
              Stage("nan", "bad", lambda ctx: {"x": float("nan")})]
    with pytest.raises(StageError, match="stage 'nan' failed: ValueError"):
        run_pipeline(None, out_dir=tmp_path, quiet=True, stages=stages)
    assert (tmp_path / "stages" / "a.json").is_file() and not (tmp_path / "stages" / "nan.json").exists()
    assert json.loads((tmp_path / "summary.json").read_text())["failed"] == {"nan": "ValueError: Out of range float values are not JSON compliant: nan"}
