"""The whole chain behind ``multiscale run``: stages, cache, report."""
from .runner import PipelineResult, run_pipeline

__all__ = ["PipelineResult", "run_pipeline"]
