"""Atomistic layer: xTB reference, labelled data, field-aware ML potential (deep ensemble), ML-MD.

Public entry points (see shared/CONTRACT.md): :func:`load_potential`, :func:`default_system`,
:func:`reference_calculator` and the calculator class :class:`MLPotential`.
"""
from .calculator import MLPotential, load_potential
from .reference import reference_calculator
from .system import build_interface, default_system

__all__ = ["MLPotential", "load_potential", "reference_calculator", "default_system", "build_interface"]
