"""Entries: a composition with a total energy, and their validation as a set.

An :class:`Entry` is a small value object (pymatgen's ``PDEntry`` without the baggage): the
composition of the cell or formula unit the energy belongs to, the total energy of that
composition in eV, and a name. Per-atom quantities carry ``_per_atom`` in their name.

Formation energy per atom against elemental reference chemical potentials μ_el (eV/atom)::

    ΔE_f = E/N − Σ_el x_el μ_el,     x_el = n_el / N

(Materials Project convention; e.g. Jain et al., APL Mater. 1, 011002 (2013)). A negative
ΔE_f means the compound is stable against its elements.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Mapping

import numpy as np

from ..errors import InputError
from .composition import (
    composition_key,
    formula_string,
    parse_formula,
    reduced_formula_string,
    validate_composition,
)

#: Two entries with the same composition whose energies per atom differ by less than this are
#: the same entry given twice (eV/atom).
DUPLICATE_TOL_EV = 1e-12


@dataclass(frozen=True, eq=False)
class Entry:
    """A composition and its total energy.

    Parameters
    ----------
    composition
        ``{element: amount}`` of the cell or formula unit whose energy is given, or a formula
        string (``"Li2Co2O4"``).
    energy_eV
        Total energy of that composition [eV] (e.g. a DFT or ML-potential total energy).
    name
        A label; defaults to the formula as written.
    """

    composition: Mapping[str, float]
    energy_eV: float
    name: str = ""
    attributes: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        given = self.composition
        label = self.name or (given if isinstance(given, str) else "entry")
        comp = parse_formula(given) if isinstance(given, str) else validate_composition(given, name=f"entry {label!r}")
        object.__setattr__(self, "composition", comp)
        if not self.name:
            written = "".join(given.split()) if isinstance(given, str) else ""
            object.__setattr__(self, "name", written or formula_string(comp))
        try:
            e = float(self.energy_eV)
        except (TypeError, ValueError):
            raise InputError(f"entry {self.name!r}: energy_eV = {self.energy_eV!r} is not a number") from None
        if not math.isfinite(e):
            raise InputError(f"entry {self.name!r}: energy_eV = {self.energy_eV!r} is not finite")
        object.__setattr__(self, "energy_eV", e)

    def _identity(self) -> tuple:
        return (self.name, tuple(sorted(self.composition.items())), self.energy_eV)

    def __eq__(self, other) -> bool:
        return isinstance(other, Entry) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    # --- derived quantities ------------------------------------------------------------
    @cached_property
    def n_atoms(self) -> float:
        """Number of atoms of the composition the energy belongs to."""
        return float(sum(self.composition.values()))

    @cached_property
    def energy_per_atom_eV(self) -> float:
        """E/N [eV/atom]."""
        return self.energy_eV / self.n_atoms

    @property
    def elements(self) -> tuple[str, ...]:
        return tuple(self.composition)

    @property
    def formula(self) -> str:
        return formula_string(self.composition)

    @property
    def reduced_formula(self) -> str:
        return reduced_formula_string(self.composition)

    @cached_property
    def key(self) -> tuple:
        """Hashable atomic-fraction key (same for ``LiCoO2`` and ``Li2Co2O4``)."""
        return composition_key(self.composition)

    def fraction(self, element: str) -> float:
        """Atomic fraction x_el = n_el/N."""
        return self.composition.get(element, 0.0) / self.n_atoms

    @property
    def is_element(self) -> bool:
        return len(self.composition) == 1

    def renamed(self, name: str) -> "Entry":
        """A copy with another name (composition and energy already validated)."""
        new = copy.copy(self)
        object.__setattr__(new, "name", str(name))
        return new

    def to_dict(self) -> dict:
        return {"name": self.name, "composition": dict(self.composition), "energy_eV": self.energy_eV}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Entry":
        try:
            return cls(d["composition"], d["energy_eV"], d.get("name", ""))
        except KeyError as exc:
            raise InputError(f"entry {d!r} lacks the key {exc.args[0]!r}") from None


def as_entry(item: Any, index: int) -> Entry:
    """Convert ``Entry``, ``(formula, energy_eV)``, ``(formula, energy_eV, name)`` or a dict."""
    if isinstance(item, Entry):
        return item
    if isinstance(item, Mapping):
        if "formula" in item and "composition" not in item:
            item = dict(item, composition=item["formula"])
        return Entry.from_dict(item)
    if isinstance(item, (tuple, list)) and len(item) in (2, 3):
        return Entry(item[0], item[1], item[2] if len(item) == 3 else "")
    raise InputError(f"entries[{index}] = {item!r} must be an Entry, (formula, energy_eV[, name]) or a dict "
                     "with 'formula'/'composition' and 'energy_eV'")


def validate_entries(items: Iterable[Any]) -> list[Entry]:
    """Convert and check a set of entries for a phase diagram.

    Raises :class:`InputError` naming the entry for: an unknown element, a non-finite
    energy, a duplicate (same composition and energy per atom, or the same explicit name
    for different compounds), or an element without an elemental reference entry.
    Entries with the same default name (polymorphs given as formula tuples) are renamed
    ``"LiCoO2 (2)"``, ``"LiCoO2 (3)"`` … in input order.
    """
    if isinstance(items, (str, bytes)):
        raise InputError("entries must be a list of entries, not a string")
    entries = []
    for i, item in enumerate(items):
        try:
            entries.append(as_entry(item, i))
        except InputError as exc:
            raise InputError(f"entries[{i}]: {exc}") from None
    if not entries:
        raise InputError("entries is empty: a phase diagram needs at least the elemental references")
    seen: dict[tuple, list[Entry]] = {}
    names: dict[str, Entry] = {}
    renamed = []
    for i, e in enumerate(entries):
        for other in seen.get(e.key, []):
            if abs(other.energy_per_atom_eV - e.energy_per_atom_eV) < DUPLICATE_TOL_EV:
                raise InputError(f"entries[{i}] {e.name!r} duplicates {other.name!r}: same composition "
                                 f"{e.reduced_formula} and energy {e.energy_per_atom_eV:.6f} eV/atom")
        seen.setdefault(e.key, []).append(e)
        if e.name in names:
            prev = names[e.name]
            if prev.key != e.key:
                raise InputError(f"entries[{i}]: name {e.name!r} is used for two different compositions "
                                 f"({prev.formula} and {e.formula})")
            k = 2
            while f"{e.name} ({k})" in names:
                k += 1
            e = e.renamed(f"{e.name} ({k})")
        names[e.name] = e
        renamed.append(e)
    elements = {el for e in renamed for el in e.composition}
    have_ref = {e.elements[0] for e in renamed if e.is_element}
    missing = elements - have_ref
    if missing:
        el = sorted(missing)[0]
        first = next(e for e in renamed if el in e.composition)
        raise InputError(f"entry {first.name!r} contains {el} but there is no elemental reference entry for "
                         f"{el} (missing references: {', '.join(sorted(missing))}); add e.g. ('{el}', energy_eV)")
    return renamed


def elemental_references(entries: Iterable[Entry]) -> dict[str, Entry]:
    """The lowest-energy-per-atom elemental entry of every element (the reference μ_el)."""
    refs: dict[str, Entry] = {}
    for e in entries:
        if e.is_element:
            el = e.elements[0]
            if el not in refs or e.energy_per_atom_eV < refs[el].energy_per_atom_eV:
                refs[el] = e
    return refs


def formation_energy_per_atom(entry: Entry, reference_mu_eV: Mapping[str, float]) -> float:
    """ΔE_f = E/N − Σ_el x_el μ_el [eV/atom] against reference chemical potentials μ_el [eV/atom]."""
    total = 0.0
    for el, n in entry.composition.items():
        if el not in reference_mu_eV:
            raise InputError(f"entry {entry.name!r}: no reference chemical potential for {el}")
        total += n * reference_mu_eV[el]
    return (entry.energy_eV - total) / entry.n_atoms


def fraction_matrix(entries: Iterable[Entry], elements: list[str]) -> np.ndarray:
    """(n_entries, n_elements) atomic fractions x_el of each entry over ``elements``."""
    entries = list(entries)
    col = {el: j for j, el in enumerate(elements)}
    x = np.zeros((len(entries), len(elements)))
    for i, e in enumerate(entries):
        n = e.n_atoms
        for el, a in e.composition.items():
            x[i, col[el]] = a / n
    return x
