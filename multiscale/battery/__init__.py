"""Battery cells: PyBaMM export, the hybrid SPMe + ML-corrector model, the real-time estimator.

``HybridSPMe`` is imported lazily so that ``import multiscale.battery`` stays cheap (PyBaMM and
torch load only when a model is used).
"""
from __future__ import annotations

__all__ = ["HybridSPMe"]


def __getattr__(name):
    if name == "HybridSPMe":
        from .hybrid import HybridSPMe

        return HybridSPMe
    raise AttributeError(f"module 'multiscale.battery' has no attribute {name!r}")
