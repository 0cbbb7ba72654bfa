"""Built-in crystal prototypes for screening without structure files.

``li-graphite``: the phases of the graphite negative electrode, Li_xC₆ (0 ≤ x ≤ 1), built from
their experimental structures and relaxed by the chosen calculator:

* graphite, AB (Bernal) stacking, P6₃/mmc, a = 2.46 Å, c = 6.70 Å (4 C);
* LiC₆ (stage I), AA stacking with Li above every third hexagon (√3 × √3 R30°), P6/mmm,
  a = 4.30 Å, c = 3.70 Å (Guérard & Hérold, Carbon 13, 337 (1975));
* LiC₁₂ (stage II), the same in-plane order, Li in every second gallery, c = 7.05 Å;
* Li metal, bcc, a = 3.44 Å.

Graphite's layers are bound by dispersion, which GGA-trained potentials (CHGNet: Materials
Project PBE) lack: its c relaxes to ≈ 7.8 Å and intercalation comes out too favourable, so
hull voltages of Li_xC₆ from such a calculator sit a few tenths of a volt above experiment
(stage I/II plateaus 0.085/0.12 V vs Li; Dahn, PRB 44, 9170 (1991)). The card of the shipped
dataset gives the measured numbers.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

#: graphite in-plane lattice constant [Å]
GRAPHITE_A_A = 2.46


def _graphene_layers(c_A: float, layers: list[tuple[float, tuple[float, float]]]):
    """Hexagonal primitive cell with one graphene layer per (z [Å], in-plane fractional shift)."""
    from ase import Atoms

    a = GRAPHITE_A_A
    cell = [[a, 0.0, 0.0], [-a / 2, a * np.sqrt(3) / 2, 0.0], [0.0, 0.0, c_A]]
    frac = []
    for z_A, (sx, sy) in layers:
        for x, y in ((1 / 3, 2 / 3), (2 / 3, 1 / 3)):  # the cell origin is a hexagon centre
            frac.append(((x + sx) % 1.0, (y + sy) % 1.0, z_A / c_A))
    return Atoms(f"C{len(frac)}", scaled_positions=frac, cell=cell, pbc=True)


def _root3(atoms):
    """√3 × √3 R30° supercell (6 C per layer); hexagon centres at the origin stay there."""
    from ase.build import make_supercell

    return make_supercell(atoms, [[2, 1, 0], [-1, 1, 0], [0, 0, 1]])


def li_graphite_phases() -> list[tuple[str, object]]:
    """(name, Atoms) of graphite, LiC₁₂, LiC₆ and Li metal (see the module docstring)."""
    from ase import Atoms
    from ase.build import bulk

    graphite = _graphene_layers(6.70, [(0.0, (0.0, 0.0)), (3.35, (1 / 3, 1 / 3))])
    lic6 = _root3(_graphene_layers(3.70, [(0.0, (0.0, 0.0))]))
    lic6 += Atoms("Li", positions=[[0.0, 0.0, 1.85]])
    lic12 = _root3(_graphene_layers(7.05, [(0.0, (0.0, 0.0)), (3.70, (0.0, 0.0))]))
    lic12 += Atoms("Li", positions=[[0.0, 0.0, 1.85]])
    li = bulk("Li", "bcc", a=3.44)
    return [("graphite", graphite), ("LiC12", lic12), ("LiC6", lic6), ("Li (bcc)", li)]


PROTOTYPES = {"li-graphite": (li_graphite_phases, "C6")}


def prototype_structures(name: str) -> tuple[list[tuple[str, object]], str]:
    """(structures, host formula) of the prototype set ``name`` (one of :data:`PROTOTYPES`)."""
    if name not in PROTOTYPES:
        raise InputError(f"prototypes = {name!r} is unknown; choose one of {', '.join(PROTOTYPES)}")
    build, host = PROTOTYPES[name]
    return build(), host
