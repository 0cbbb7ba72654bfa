"""Compositional phase diagram: the lower convex hull of energy per atom over composition.

Points are (x_2 … x_d, E/N) with x_el the atomic fractions of the d elements. The lower convex
hull of the points, computed once in the constructor with Qhull (:class:`scipy.spatial.ConvexHull`),
is a set of simplicial facets; each facet f defines chemical potentials μ_f (eV/atom, one per
element) through

    Σ_el x_el^(v) μ_f,el = E_v/N_v      for the d vertices v of f,

and the hull energy at any composition is the largest of these supporting planes,

    E_hull(x) = max_f μ_f · x,          ΔE_hull = E/N − E_hull(x) ≥ 0   [eV/atom],

because the lower hull is a convex, piecewise-linear function of x. The facet achieving the
maximum contains x; its barycentric coordinates are the decomposition products (atomic
fractions of each phase). Only the lowest entry of each composition and compounds with a
negative formation energy enter Qhull (the others lie above the hull by construction), and an
extra point high above the centre keeps the hull full-dimensional, as in pymatgen's
``PhaseDiagram`` (Ong et al., Chem. Mater. 20, 1798 (2008)); results agree with it to 1e-12 eV/atom.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from ..errors import ConvergenceError, InputError
from .composition import composition_key, formula_string, parse_formula, reduced_amounts, validate_composition
from .entries import (
    Entry,
    elemental_references,
    formation_energy_per_atom,
    fraction_matrix,
    validate_entries,
)

#: rows of facet-plane evaluations done at once (memory ∝ CHUNK × n_facets)
_CHUNK = 2048


@dataclass(frozen=True)
class Decomposition:
    """Phases (hull entries) a composition decomposes into, with their atomic fractions."""

    phases: dict  # Entry -> atomic fraction (sums to 1)
    hull_energy_per_atom_eV: float

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.phases]

    def __str__(self) -> str:
        return " + ".join(f"{frac:.4g} {e.reduced_formula}" for e, frac in self.phases.items())


class PhaseDiagram:
    """Convex hull of formation energies; stability and decomposition of any composition.

    Parameters
    ----------
    entries
        ``[(formula, total_energy_eV), ...]``, ``(formula, energy_eV, name)`` tuples, dicts or
        :class:`~multiscale.thermo.Entry` objects. Every element needs at least one elemental
        entry; the lowest one per atom is the reference μ_el.

    Raises :class:`InputError` naming the entry for unknown elements, missing elemental
    references, non-finite energies and duplicates.
    """

    #: formation energies above −this (eV/atom) do not enter the hull (as pymatgen)
    FORMATION_TOL_EV = 1e-11
    #: barycentric coordinates below this are dropped from decompositions
    NUMERICAL_TOL = 1e-8
    #: facets whose composition matrix has |det| below this are degenerate (vertical) and dropped
    DET_TOL = 1e-14

    def __init__(self, entries: Iterable[Any], *, _facets: np.ndarray | None = None):
        self.entries: list[Entry] = validate_entries(entries)
        self.elements: list[str] = list(dict.fromkeys(el for e in self.entries for el in e.composition))
        refs = elemental_references(self.entries)
        self.reference_entries: dict[str, Entry] = {el: refs[el] for el in self.elements}
        self.reference_mu_eV: dict[str, float] = {el: r.energy_per_atom_eV for el, r in refs.items()}
        self._x = fraction_matrix(self.entries, self.elements)
        self._e = np.array([e.energy_per_atom_eV for e in self.entries])
        mu_ref = np.array([self.reference_mu_eV[el] for el in self.elements])
        self._ef = self._e - self._x @ mu_ref
        self._index = {e.name: i for i, e in enumerate(self.entries)}
        if _facets is None:
            self._facets = self._compute_facets()
        else:
            self._facets = np.asarray(_facets, dtype=int)
            if self._facets.ndim != 2 or self._facets.shape[1] != len(self.elements):
                raise InputError(f"facets must have shape (n, {len(self.elements)}) for {'-'.join(self.elements)}, "
                                 f"got {self._facets.shape}")
        self._mu = self._facet_potentials(self._facets)
        stable = np.unique(self._facets)
        self._stable_mask = np.zeros(len(self.entries), dtype=bool)
        self._stable_mask[stable] = True
        self._e_above = self._e - self.hull_energy_per_atom_eV(self._x)

    # --- construction ----------------------------------------------------------------
    def _compute_facets(self) -> np.ndarray:
        # lowest entry per composition, and only compounds below the elemental references
        best: dict[tuple, int] = {}
        for i, e in enumerate(self.entries):
            k = e.key
            if k not in best or self._e[i] < self._e[best[k]]:
                best[k] = i
        cand = sorted(i for i in best.values()
                      if self._ef[i] < -self.FORMATION_TOL_EV or self.entries[i].is_element)
        ref_idx = {self._index[r.name] for r in self.reference_entries.values()}
        cand = sorted(set(cand) | ref_idx)
        d = len(self.elements)
        if d == 1:
            return np.array([[int(np.argmin(self._e))]])
        idx = np.array(cand)
        pts = np.column_stack([self._x[idx, 1:], self._e[idx]])
        extra = np.full(d, 1.0 / d)
        extra[-1] = np.max(pts) + 1.0
        pts = np.vstack([pts, extra])
        from scipy.spatial import ConvexHull
        from scipy.spatial import QhullError

        try:
            simplices = ConvexHull(pts).simplices
        except QhullError as exc:
            raise ConvergenceError(f"Qhull failed on {len(idx)} hull candidates: {str(exc).splitlines()[0]}") from None
        simplices = simplices[np.all(simplices < len(idx), axis=1)]
        facets = idx[simplices]
        dets = np.linalg.det(self._x[facets])
        facets = facets[np.abs(dets) > self.DET_TOL]
        if len(facets) == 0:
            raise ConvergenceError("the convex hull has no non-degenerate lower facet")
        return np.sort(facets, axis=1)

    def _facet_potentials(self, facets: np.ndarray) -> np.ndarray:
        """μ_f (n_facets, d): Σ_el x_el μ_f,el = E/N at the d vertices of each facet."""
        return np.linalg.solve(self._x[facets], self._e[facets][..., None])[..., 0]

    # --- queries -----------------------------------------------------------------------
    def hull_energy_per_atom_eV(self, fractions: np.ndarray) -> np.ndarray:
        """E_hull(x) = max_f μ_f·x [eV/atom] for atomic fractions ``fractions`` (n, d) or (d,)."""
        x = np.asarray(fractions, dtype=float)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        out = np.empty(len(x))
        for s in range(0, len(x), _CHUNK):
            out[s:s + _CHUNK] = np.max(x[s:s + _CHUNK] @ self._mu.T, axis=1)
        return out[0] if single else out

    def _fractions(self, query: Any) -> tuple[np.ndarray, Entry | None]:
        """Atomic fractions of a formula / composition / Entry over this diagram's elements."""
        entry = query if isinstance(query, Entry) else None
        if entry is not None:
            comp = entry.composition
        elif isinstance(query, str):
            comp = parse_formula(query)
        elif isinstance(query, Mapping):
            comp = validate_composition(query)
        else:
            raise InputError(f"{query!r} must be a formula, a composition mapping or an Entry")
        outside = [el for el in comp if el not in self.elements]
        if outside:
            raise InputError(f"{formula_string(comp)!r} contains {', '.join(outside)}, outside this phase diagram's "
                             f"elements {'-'.join(self.elements)}")
        n = sum(comp.values())
        return np.array([comp.get(el, 0.0) / n for el in self.elements]), entry

    def _resolve(self, formula_or_entry: Any) -> Entry:
        """An Entry as given, or the lowest-energy entry of the formula's composition."""
        if isinstance(formula_or_entry, Entry):
            return formula_or_entry
        if isinstance(formula_or_entry, str) and formula_or_entry in self._index:
            return self.entries[self._index[formula_or_entry]]
        comp = parse_formula(formula_or_entry) if isinstance(formula_or_entry, str) else validate_composition(
            formula_or_entry)
        key = composition_key(comp)
        matches = [i for i, e in enumerate(self.entries) if e.key == key]
        if not matches:
            raise InputError(f"{formula_string(reduced_amounts(comp)[0])!r} is not among the entries of this phase "
                             "diagram; pass an Entry with its energy to place a new compound")
        return self.entries[min(matches, key=lambda i: self._e[i])]

    def e_above_hull_per_atom(self, formula_or_entry: Any) -> float:
        """ΔE_hull = E/N − E_hull(x) [eV/atom], ≥ 0; 0 on the hull.

        A formula string (or an entry name) means the lowest-energy entry of that composition
        in the diagram; an :class:`Entry` may be a new compound in the same chemical space.
        """
        entry = self._resolve(formula_or_entry)
        i = self._index.get(entry.name)
        if i is not None and self.entries[i] is entry:
            return float(self._e_above[i])
        x, _ = self._fractions(entry)
        return float(entry.energy_per_atom_eV - self.hull_energy_per_atom_eV(x))

    def e_above_hull_all(self) -> np.ndarray:
        """ΔE_hull of every entry, in the order of :attr:`entries` [eV/atom]."""
        return self._e_above.copy()

    def formation_energy_per_atom(self, formula_or_entry: Any) -> float:
        """ΔE_f = E/N − Σ x_el μ_el against the elemental references [eV/atom]."""
        return formation_energy_per_atom(self._resolve(formula_or_entry), self.reference_mu_eV)

    def decomposition(self, formula_or_composition: Any) -> Decomposition:
        """Hull phases (with atomic fractions) in equilibrium at a composition.

        For a stable compound this is the compound itself; for an unstable one the products
        of its lowest-energy decomposition.
        """
        if isinstance(formula_or_composition, str) and formula_or_composition in self._index:
            formula_or_composition = self.entries[self._index[formula_or_composition]]
        x, _ = self._fractions(formula_or_composition)
        f, bary = self._facet_containing(x)
        verts = self._facets[f]
        phases = {self.entries[v]: float(b) for v, b in zip(verts, bary) if b > self.NUMERICAL_TOL}
        total = sum(phases.values())
        phases = {e: b / total for e, b in sorted(phases.items(), key=lambda kv: -kv[1])}
        return Decomposition(phases, float(self._mu[f] @ x))

    def _facet_containing(self, x: np.ndarray) -> tuple[int, np.ndarray]:
        values = self._mu @ x
        order = np.argsort(-values)
        top = values[order[0]]
        best = None
        for f in order:
            if values[f] < top - 1e-9:
                break
            bary = np.linalg.solve(self._x[self._facets[f]].T, x)
            if best is None or bary.min() > best[1].min():
                best = (int(f), bary)
            if bary.min() > -self.NUMERICAL_TOL:
                break
        return best[0], np.clip(best[1], 0.0, None)

    # --- stable phases ------------------------------------------------------------------
    @property
    def stable_entries(self) -> list[Entry]:
        """Entries that are vertices of the lower hull."""
        return [e for e, s in zip(self.entries, self._stable_mask) if s]

    @property
    def unstable_entries(self) -> list[Entry]:
        return [e for e, s in zip(self.entries, self._stable_mask) if not s]

    @property
    def stable_formulas(self) -> list[str]:
        """Reduced formulas of the stable entries (sorted)."""
        return sorted({e.reduced_formula for e in self.stable_entries})

    @property
    def facets(self) -> list[tuple[Entry, ...]]:
        """Simplicial facets of the lower hull as tuples of stable entries."""
        return [tuple(self.entries[i] for i in f) for f in self._facets]

    @property
    def facet_chemical_potentials_eV(self) -> np.ndarray:
        """μ_f (n_facets, n_elements) [eV/atom], columns in the order of :attr:`elements`."""
        return self._mu.copy()

    def facets_of(self, formula_or_entry: Any) -> np.ndarray:
        """Indices of the facets that have the entry as a vertex (empty if it is not stable)."""
        entry = self._resolve(formula_or_entry)
        i = self._index.get(entry.name)
        if i is None:
            return np.array([], dtype=int)
        return np.flatnonzero(np.any(self._facets == i, axis=1))

    def table(self):
        """A :class:`pandas.DataFrame` of every entry: formation energy, ΔE_hull, decomposition."""
        import pandas as pd

        rows = []
        for i, e in enumerate(self.entries):
            dec = self.decomposition(e) if not self._stable_mask[i] else None
            rows.append({"name": e.name, "formula": e.reduced_formula, "energy [eV]": e.energy_eV,
                         "energy per atom [eV]": e.energy_per_atom_eV,
                         "formation energy [eV/atom]": float(self._ef[i]),
                         "e_above_hull [eV/atom]": float(self._e_above[i]), "stable": bool(self._stable_mask[i]),
                         "decomposition": e.reduced_formula if dec is None else str(dec)})
        return pd.DataFrame(rows)

    # --- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready dict: the entries and the hull facets (indices into the entries)."""
        return {"@class": "multiscale.thermo.PhaseDiagram", "version": 1, "elements": self.elements,
                "entries": [e.to_dict() for e in self.entries], "facets": self._facets.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PhaseDiagram":
        """Rebuild from :meth:`to_dict` without recomputing the hull."""
        if d.get("@class") != "multiscale.thermo.PhaseDiagram":
            raise InputError(f"not a serialised PhaseDiagram (@class = {d.get('@class')!r})")
        facets = np.asarray(d["facets"], dtype=int)
        n = len(d["entries"])
        if facets.ndim != 2 or facets.size == 0 or facets.min() < 0 or facets.max() >= n:
            raise InputError("serialised PhaseDiagram: 'facets' must index its entries")
        return cls([Entry.from_dict(e) for e in d["entries"]], _facets=facets)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "PhaseDiagram":
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InputError(f"serialised PhaseDiagram is not valid JSON: {exc}") from None

    def plot(self, ax=None, **kwargs):
        """Plot the hull (binary: E_f vs x; ternary: Gibbs triangle; else ΔE_hull per entry)."""
        from .plotting import plot_phase_diagram

        return plot_phase_diagram(self, ax=ax, **kwargs)

    def __repr__(self) -> str:
        return (f"PhaseDiagram({'-'.join(self.elements)}: {len(self.entries)} entries, "
                f"{int(self._stable_mask.sum())} stable, {len(self._facets)} facets)")
