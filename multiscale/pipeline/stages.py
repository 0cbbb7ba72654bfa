"""The stages of the chain, in order. A stage whose layer is not built says so."""
from __future__ import annotations

from ..errors import NotBuiltError
from .runner import Stage, StageContext


def _not_built(layer: str):
    def stage(ctx: StageContext) -> dict:
        raise NotBuiltError(f"{layer} is not built yet")

    return stage


STAGES: list[Stage] = [
    Stage("md", "ML-MD of the default interface", _not_built("the atomistic ML potential")),
    Stage("analysis", "RDF, D(z), φ(z) from the trajectory", _not_built("trajectory analysis")),
    Stage("reactions", "charge-transfer coefficient α from E_a(φ)", _not_built("the reactions layer")),
    Stage("continuum", "Nernst–Planck, PB capacitance, adsorption loop", _not_built("the continuum layer")),
    Stage("export", "derived parameters → PyBaMM (BPX)", _not_built("export to PyBaMM")),
    Stage("cell", "PyBaMM DFN and hybrid SPMe on a drive-like profile", _not_built("the hybrid cell model")),
]
