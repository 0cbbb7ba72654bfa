"""Stability in contact with a lithium reservoir: the grand potential against voltage.

With lithium open (exchanged with a Li/Li⁺ counter electrode at potential V), the relevant
energy of a phase is the grand potential Φ = E − μ_Li N_Li with

    μ_Li(V) = μ_Li^metal − z e V        (V vs Li/Li⁺, z = 1 for Li, 2 for Mg …),

μ_Li^metal the elemental reference energy per atom. A hull vertex v is stable at μ_Li iff a
supporting plane μ of the compositional hull passes through v with that Li component:
{μ : μ·x_j ≤ E_j/N_j ∀j, μ·x_v = E_v/N_v}. Over this polyhedron μ_Li ranges between the
smallest and largest μ_f,Li of the hull facets that contain v (its vertices); the range is
unbounded below (stable up to V → +∞) for a Li-free phase and is the single point
μ_Li = μ_Li^metal for Li metal, which is stable for V ≤ 0. Unstable compounds (ΔE_hull > 0)
are stable at no voltage. See Ong, Wang, Kang, Ceder, Chem. Mater. 20, 1798 (2008) and
Ong et al., Electrochem. Commun. 12, 427 (2010).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from .entries import Entry


@dataclass(frozen=True)
class StabilityWindow:
    """Voltage window [V vs M/M⁺] in which a phase is on the grand-potential hull."""

    entry: Entry
    min_potential_V: float
    max_potential_V: float

    @property
    def name(self) -> str:
        return self.entry.name

    def contains(self, potential_V: float) -> bool:
        return self.min_potential_V - 1e-9 <= potential_V <= self.max_potential_V + 1e-9


def _check_open_element(pd, element: str, charge: int) -> int:
    if element not in pd.elements:
        raise InputError(f"element = {element!r} is not in this phase diagram ({'-'.join(pd.elements)})")
    if not isinstance(charge, int) or charge < 1:
        raise InputError(f"charge = {charge!r} must be a positive integer (ion charge z of the open element)")
    return pd.elements.index(element)


def chemical_potential_eV(pd, potential_V: float, *, element: str = "Li", charge: int = 1) -> float:
    """μ(V) = μ^metal − z e V [eV/atom]; μ^metal is the diagram's elemental reference."""
    _check_open_element(pd, element, charge)
    v = float(potential_V)
    if not math.isfinite(v):
        raise InputError(f"potential_V = {potential_V!r} is not finite")
    return pd.reference_mu_eV[element] - charge * v


def stability_windows(pd, *, element: str = "Li", charge: int = 1) -> list[StabilityWindow]:
    """Voltage window of every stable entry of ``pd`` with ``element`` open.

    Returns one :class:`StabilityWindow` per hull vertex, sorted by decreasing upper bound;
    bounds are ±inf where unbounded (see module docstring).
    """
    j = _check_open_element(pd, element, charge)
    mu_metal = pd.reference_mu_eV[element]
    mu = pd.facet_chemical_potentials_eV[:, j]
    out = []
    for e in pd.stable_entries:
        if e.is_element and e.elements[0] == element:
            out.append(StabilityWindow(e, -math.inf, 0.0))
            continue
        f = pd.facets_of(e)
        mu_max = float(mu[f].max())
        mu_min = float(mu[f].min()) if element in e.composition else -math.inf
        out.append(StabilityWindow(e, (mu_metal - mu_max) / charge, (mu_metal - mu_min) / charge))
    return sorted(out, key=lambda w: (-w.max_potential_V, -w.min_potential_V))


def stable_phases_at(pd, potential_V: float, *, element: str = "Li", charge: int = 1) -> list[Entry]:
    """Phases on the grand-potential hull at ``potential_V`` (V vs M/M⁺)."""
    chemical_potential_eV(pd, potential_V, element=element, charge=charge)
    return [w.entry for w in stability_windows(pd, element=element, charge=charge) if w.contains(potential_V)]


def voltage_windows(pd, *, element: str = "Li", charge: int = 1) -> list[dict[str, Any]]:
    """Split the voltage axis at every window edge; list the stable phases in each interval.

    Returns ``[{"min_potential_V", "max_potential_V", "phases": [names]}, ...]`` from high to
    low voltage; the phases of an interval are those stable throughout it.
    """
    wins = stability_windows(pd, element=element, charge=charge)
    edges = sorted({b for w in wins for b in (w.min_potential_V, w.max_potential_V) if math.isfinite(b)},
                   reverse=True)
    edges = [math.inf] + edges + [-math.inf]
    out = []
    for hi, lo in zip(edges[:-1], edges[1:]):
        if hi - lo < 1e-9:
            continue
        mid = 0.5 * (hi + lo) if math.isfinite(hi) and math.isfinite(lo) else (lo + 1.0 if math.isfinite(lo) else hi - 1.0)
        phases = [w.name for w in wins if w.contains(mid)]
        out.append({"min_potential_V": lo, "max_potential_V": hi, "phases": phases})
    return out


def windows_table(pd, *, element: str = "Li", charge: int = 1):
    """Stability windows as a :class:`pandas.DataFrame` (one row per stable entry)."""
    import pandas as pd_

    rows = [{"name": w.name, "formula": w.entry.reduced_formula, "min potential [V]": w.min_potential_V,
             "max potential [V]": w.max_potential_V} for w in stability_windows(pd, element=element, charge=charge)]
    return pd_.DataFrame(rows)


def grand_potential_per_atom_eV(pd, entry: Entry, potential_V: float, *, element: str = "Li",
                                charge: int = 1) -> float:
    """Φ/N_other = (E − μ_Li(V) N_Li) / (N − N_Li) [eV per non-Li atom]."""
    mu = chemical_potential_eV(pd, potential_V, element=element, charge=charge)
    n_li = entry.composition.get(element, 0.0)
    n_other = entry.n_atoms - n_li
    if n_other <= 0:
        raise InputError(f"entry {entry.name!r} contains only {element}: its grand potential per host atom is undefined")
    return (entry.energy_eV - mu * n_li) / n_other
