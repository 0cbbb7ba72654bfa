"""Atomistic layer: xTB reference, labelled data, field-aware ML potential (deep ensemble), ML-MD.

Public entry points (see shared/CONTRACT.md): :func:`load_potential`, :func:`default_system`,
:func:`reference_calculator`, :func:`neb_barrier` and the calculator class :class:`MLPotential`.
"""
from .calculator import MLPotential, load_potential
from .neb import barriers_vs_potential, neb_barrier
from .reference import reference_calculator
from .system import build_interface, default_system

__all__ = ["MLPotential", "load_potential", "reference_calculator", "default_system", "build_interface",
           "neb_barrier", "barriers_vs_potential"]
