"""Thermodynamics: formation energies, convex hull, voltage-dependent stability, voltage profiles.

From total energies of compounds (a table, or any ASE calculator with relaxation) to their
stability (energy above the convex hull, decomposition products), their stability window
against the lithium chemical potential μ_Li(V) = μ_Li^metal − eV, and the insertion voltage
profile V(x) of an electrode host, exportable as a PyBaMM open-circuit potential.

>>> from multiscale.thermo import PhaseDiagram
>>> pd = PhaseDiagram([("Li", -1.9), ("O2", -9.8), ("Li2O", -14.3)])
>>> round(pd.e_above_hull_per_atom("Li2O"), 6), pd.stable_formulas
(0.0, ['Li', 'Li2O', 'O2'])
"""
from .composition import parse_formula, reduced_formula
from .energies import Relaxation, get_calculator, relax, relax_many
from .entries import Entry, formation_energy_per_atom
from .grand_potential import StabilityWindow, stability_windows, stable_phases_at
from .phase_diagram import Decomposition, PhaseDiagram
from .screening import ScreenResult, read_candidates_table, screen
from .voltage import VoltageProfile, average_voltage, insertion_voltage_profile

__all__ = [
    "Decomposition",
    "Entry",
    "PhaseDiagram",
    "Relaxation",
    "ScreenResult",
    "StabilityWindow",
    "VoltageProfile",
    "average_voltage",
    "formation_energy_per_atom",
    "get_calculator",
    "insertion_voltage_profile",
    "parse_formula",
    "read_candidates_table",
    "reduced_formula",
    "relax",
    "relax_many",
    "screen",
    "stability_windows",
    "stable_phases_at",
]
