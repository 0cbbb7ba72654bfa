"""Atoms → model input: species, neighbour pairs and angular triplets as tensors, and batching.

A graph stores the pair list from :func:`multiscale.atomistic.neighbours.neighbour_list` as
integer cell shifts, so that pair vectors r_ij = r_j + S_ij·h − r_i are rebuilt from positions
inside the autograd graph (forces = −∂E/∂r).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError, OutOfDomainError
from .neighbours import neighbour_list
from .system import SHEET_BOND_A, sheet_mask  # noqa: F401 - the sheet rule, re-exported


@dataclass
class Graph:
    numbers: np.ndarray
    species: np.ndarray
    positions: np.ndarray
    cell: np.ndarray
    i: np.ndarray
    j: np.ndarray
    shifts: np.ndarray
    tri_i: np.ndarray
    tri_j: np.ndarray
    tri_k: np.ndarray
    field_V_per_A: float
    total_charge: float
    min_distance_A: float
    #: per atom: a carbon of the graphene sheet (≥ 3 carbon neighbours within SHEET_BOND_A)
    sheet: np.ndarray | None = None


def species_index(numbers, elements) -> np.ndarray:
    """Map atomic numbers onto the model's element index; unknown elements raise."""
    numbers = np.asarray(numbers)
    lut = {int(z): k for k, z in enumerate(elements)}
    unknown = sorted({int(z) for z in numbers} - set(lut))
    if unknown:
        from ase.data import chemical_symbols

        raise OutOfDomainError(
            f"atoms contain element(s) {[chemical_symbols[z] for z in unknown]} the model was not trained on; "
            f"known elements: {[chemical_symbols[z] for z in elements]}"
        )
    return np.array([lut[int(z)] for z in numbers], dtype=np.int64)


def build_graph(atoms, elements, cutoff_A: float, angular_cutoff_A: float, *, field_V_per_A: float = 0.0,
                total_charge: float | None = None) -> Graph:
    """Neighbour pairs within ``cutoff_A`` and triplets within ``angular_cutoff_A`` of one configuration."""
    from .model import triplets

    if len(atoms) == 0:
        raise InputError("atoms is empty; a configuration needs at least one atom")
    species = species_index(atoms.numbers, elements)
    nl = neighbour_list(atoms.positions, atoms.cell, atoms.pbc, cutoff_A)
    ti, tj, tk = triplets(nl.i, nl.distances, angular_cutoff_A)
    q = float(np.sum(atoms.get_initial_charges())) if total_charge is None else float(total_charge)
    return Graph(atoms.numbers.copy(), species, atoms.positions.copy(), np.array(atoms.cell), nl.i, nl.j,
                 nl.shifts, ti, tj, tk, float(field_V_per_A), q,
                 float(nl.distances.min()) if len(nl) else np.inf,
                 sheet_mask(atoms.numbers, nl.i, nl.j, nl.distances))


def collate(graphs: list[Graph], *, requires_grad: bool = True) -> dict:
    """Concatenate graphs into one batch dict of tensors (float64); ``positions`` is a leaf."""
    off_a = 0
    off_p = 0
    parts: dict[str, list] = {k: [] for k in ("species", "positions", "i", "j", "sv", "tri_i", "tri_j", "tri_k",
                                                 "batch", "sheet")}
    for b, g in enumerate(graphs):
        n, p = len(g.species), len(g.i)
        parts["species"].append(g.species)
        parts["positions"].append(g.positions)
        parts["i"].append(g.i + off_a)
        parts["j"].append(g.j + off_a)
        parts["sv"].append(g.shifts @ g.cell)
        parts["tri_i"].append(g.tri_i + off_a)
        parts["tri_j"].append(g.tri_j + off_p)
        parts["tri_k"].append(g.tri_k + off_p)
        parts["batch"].append(np.full(n, b))
        parts["sheet"].append(np.zeros(n, dtype=bool) if g.sheet is None else g.sheet)
        off_a += n
        off_p += p
    t = {k: torch.from_numpy(np.concatenate(v)) for k, v in parts.items()}
    pos = t["positions"].to(torch.float64).requires_grad_(requires_grad)
    batch = dict(species=t["species"].long(), positions=pos, i=t["i"].long(), j=t["j"].long(),
                 shift_vectors=t["sv"].to(torch.float64), tri_i=t["tri_i"].long(), tri_j=t["tri_j"].long(),
                 tri_k=t["tri_k"].long(), batch=t["batch"].long(), n_configs=len(graphs), sheet=t["sheet"].bool(),
                 field=torch.tensor([g.field_V_per_A for g in graphs], dtype=torch.float64),
                 total_charge=torch.tensor([g.total_charge for g in graphs], dtype=torch.float64))
    batch["vectors"] = pos[batch["j"]] - pos[batch["i"]] + batch["shift_vectors"]
    return batch


class GraphBuilder:
    """Builds graphs with a Verlet skin: the cell-list search (cutoff + skin) is redone only when
    an atom moved more than skin/2 since the last build, or the cell, periodicity or atoms changed;
    otherwise the candidate pairs are filtered to the cutoff (Verlet, Phys. Rev. 159, 98 (1967))."""

    def __init__(self, elements, cutoff_A: float, angular_cutoff_A: float, *, skin_A: float = 0.6):
        self.elements = tuple(elements)
        self.cutoff_A = float(cutoff_A)
        self.angular_cutoff_A = float(angular_cutoff_A)
        self.skin_A = float(skin_A)
        self._ref = None
        self.n_builds = 0

    def __call__(self, atoms, *, field_V_per_A: float = 0.0, total_charge: float | None = None) -> Graph:
        from .model import triplets

        if len(atoms) == 0:
            raise InputError("atoms is empty; a configuration needs at least one atom")
        pos = atoms.positions
        cell = np.array(atoms.cell)
        key = (atoms.numbers.tobytes(), cell.tobytes(), atoms.pbc.tobytes())
        ref = self._ref
        if ref is None or ref["key"] != key or np.max(np.linalg.norm(pos - ref["pos"], axis=1)) > 0.5 * self.skin_A:
            species = species_index(atoms.numbers, self.elements)
            nl = neighbour_list(pos, cell, atoms.pbc, self.cutoff_A + self.skin_A)
            ref = self._ref = dict(key=key, pos=pos.copy(), i=nl.i, j=nl.j, shifts=nl.shifts,
                                   sv=nl.shifts @ cell, species=species)
            self.n_builds += 1
        vec = pos[ref["j"]] - pos[ref["i"]] + ref["sv"]
        d = np.linalg.norm(vec, axis=1)
        keep = d < self.cutoff_A
        i, j, shifts, d = ref["i"][keep], ref["j"][keep], ref["shifts"][keep], d[keep]
        ti, tj, tk = triplets(i, d, self.angular_cutoff_A)
        q = float(np.sum(atoms.get_initial_charges())) if total_charge is None else float(total_charge)
        return Graph(atoms.numbers.copy(), ref["species"], pos.copy(), cell, i, j, shifts, ti, tj, tk,
                     float(field_V_per_A), q, float(d.min()) if len(d) else np.inf,
                     sheet_mask(atoms.numbers, i, j, d))
