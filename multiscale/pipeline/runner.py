"""Stage runner of ``multiscale run``: cached, resumable, honest about what is not built.

Each stage is a function ``stage(context) -> dict`` whose JSON-serialisable result is written
atomically to ``OUT/stages/<name>.json`` together with a hash of the configuration. A rerun
with the same configuration skips finished stages (resume after a kill); a stage that is not
built yet raises :class:`~multiscale.errors.NotBuiltError` and is listed as such in
``summary.json`` and the report — nothing is invented in its place.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import MultiscaleError, NotBuiltError


class StageError(MultiscaleError):
    """A stage of the chain failed; the message names it."""

    exit_code = 5
from ..io import atomic_write_json, atomic_write_text
from .config import load_run_config

log = logging.getLogger(__name__)


@dataclass
class Stage:
    name: str
    description: str
    func: Callable[["StageContext"], dict]


@dataclass
class StageContext:
    config: dict
    out_dir: Path
    results: dict[str, dict]
    scheduler: str | None = None
    quiet: bool = False

    @property
    def figures_dir(self) -> Path:
        path = self.out_dir / "figures"
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass
class PipelineResult:
    out_dir: Path
    finished: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    not_built: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    results: dict[str, dict] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.not_built


def _stages() -> list[Stage]:
    from .stages import STAGES

    return STAGES


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def run_pipeline(config_path=None, *, out_dir, scheduler: str | None = None, quiet: bool = False,
                 fast: bool | None = None, stages: list[Stage] | None = None) -> PipelineResult:
    """Run every stage of the chain into ``out_dir``; see the module docstring.

    A stage that raises is reported as ``StageError`` naming the stage (its traceback goes to
    ``OUT/stages/<name>.error.log``); stages finished before it stay cached, so the next run resumes.
    """
    from tqdm.auto import tqdm

    config = load_run_config(config_path, fast=fast)
    out_dir = Path(out_dir)
    (out_dir / "stages").mkdir(parents=True, exist_ok=True)
    digest = config_hash(config)
    ctx = StageContext(config=config, out_dir=out_dir, results={}, scheduler=scheduler, quiet=quiet)
    result = PipelineResult(out_dir=out_dir)
    stage_list = stages or _stages()
    for stage in tqdm(stage_list, desc="multiscale run", disable=quiet, unit="stage"):
        cache = out_dir / "stages" / f"{stage.name}.json"
        if cache.is_file():
            cached = json.loads(cache.read_text())
            if cached.get("config_hash") == digest:
                ctx.results[stage.name] = cached["result"]
                result.resumed.append(stage.name)
                log.info("stage %s: resumed from %s", stage.name, cache)
                continue
        log.info("stage %s: %s", stage.name, stage.description)
        start = time.perf_counter()
        try:
            out = dict(stage.func(ctx))
            out["wall_time_s"] = time.perf_counter() - start
            atomic_write_json(cache, {"config_hash": digest, "result": out})   # NaN or unserialisable: fails here
        except NotBuiltError as exc:
            result.not_built[stage.name] = str(exc)
            log.warning("stage %s: not built yet (%s)", stage.name, exc)
            continue
        except Exception as exc:  # any failure: keep finished stages, name the stage, keep the traceback
            log_path = out_dir / "stages" / f"{stage.name}.error.log"
            atomic_write_text(log_path, traceback.format_exc())
            what = str(exc) if isinstance(exc, MultiscaleError) else f"{type(exc).__name__}: {exc}"
            result.failed = {stage.name: what}
            result.results = ctx.results
            _write_outputs(ctx, result)
            raise StageError(f"stage {stage.name!r} failed: {what} (details in {log_path}; finished stages are "
                             f"kept and a rerun resumes after them)") from exc
        ctx.results[stage.name] = out
        result.finished.append(stage.name)
    result.results = ctx.results
    _write_outputs(ctx, result)
    return result


def _write_outputs(ctx: StageContext, result: PipelineResult) -> None:
    from .report import render_report

    parameters: dict[str, Any] = {}
    for res in ctx.results.values():
        parameters.update(res.get("parameters", {}))
    summary: dict[str, Any] = {
        "config": ctx.config,
        "parameters": parameters,
        "stages": {
            name: {"status": "finished" if name in result.finished else "resumed",
                   **{k: v for k, v in res.items() if k != "parameters"}}
            for name, res in ctx.results.items()
        },
        "not_built": result.not_built,
        "failed": result.failed,
    }
    atomic_write_json(ctx.out_dir / "summary.json", summary)
    atomic_write_text(ctx.out_dir / "report.html", render_report(summary, ctx.out_dir))
