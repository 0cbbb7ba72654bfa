"""Li⁺ at the graphite basal plane: the contact and solvated end points of the ion-transfer step.

Used by the reactions stage of ``multiscale run`` (CI-NEB of the step at three fields, α from
E_a(φ)) and by active learning (the end points are configurations the potential must describe
before that barrier means anything).

What the step is. In the 60-atom cell (graphene, 4 EC, one LiBF₄) there is no adsorbed Li at the
graphene adsorption height (≈ 1.8–2 Å). Started at 1.8 and 2.2 Å over a hollow site and relaxed
with GFN1-xTB (packing seed 0), the Li ends 4.45–4.47 Å above the sheet, in the first molecular
layer; the ML potential does the same from 2.0–3.0 Å (4.1–4.3 Å, seed 1). With its BF₄⁻ in the film
the ion keeps its charge (Mulliken q_Li ≈ +0.57 e in xTB there) and is not reduced by neutral
graphene. The step scanned is therefore the ion transfer across the double layer: Li⁺ in the
contact layer (the relaxed minimum closest to the sheet, directly below its solvated place)
⇄ Li⁺ solvated (the relaxed packing). That is the step the field acts on; the electron transfer
to the host that follows at an edge plane is outside this cell.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

#: heights of Li above the hollow site of the basal plane from which the contact end point is
#: relaxed [Å] (none of them is a minimum, see the module docstring: they all end in the contact layer)
START_HEIGHTS_A = (2.0, 2.5, 3.0)


def _hollow_sites(sheet_xy: np.ndarray, cell, step_A: float = 0.1) -> np.ndarray:
    """In-plane points farthest from every sheet atom (hexagon centres), on a ``step_A`` grid."""
    lx, ly = float(cell[0, 0]), float(cell[1, 1])
    gx, gy = np.meshgrid(np.arange(0.0, lx, step_A), np.arange(0.0, ly, step_A), indexing="ij")
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    d = pts[:, None, :] - sheet_xy[None, :, :]
    d -= np.round(d / [lx, ly]) * [lx, ly]
    clearance = np.linalg.norm(d, axis=2).min(1)
    return pts[clearance > clearance.max() - 0.05]


def _site_below(sites_xy: np.ndarray, li_xy: np.ndarray, cell) -> np.ndarray:
    """The site nearest to ``li_xy`` in the plane, as an image next to it (periodic in x and y)."""
    lxy = np.array([cell[0, 0], cell[1, 1]])
    d = sites_xy - li_xy
    d -= np.round(d / lxy) * lxy
    return li_xy + d[np.argmin(np.linalg.norm(d, axis=1))]


def adsorption_endpoints(calc, *, seed: int = 0, relax_steps: int = 600,
                         start_heights_A: tuple[float, ...] = START_HEIGHTS_A):
    """(contact, solvated, distance d [Å]) on the 60-atom default cell, electrode frozen, relaxed at F = 0.

    ``solvated`` is packing ``seed`` relaxed. ``contact`` is the same cell with the Li moved straight
    down, over the hollow site below it, to each of ``start_heights_A`` above the sheet, and relaxed;
    of those, the minimum closest to the sheet is kept (the path between the two is then along the
    field, and no molecule has to be crossed sideways). ``d = z_Li(solvated) − z_Li(contact)``: when it
    is small (the packing already has its Li⁺ in the contact layer, or the contact start relaxed
    back out) there is no step to scan, and the caller decides what to do with that.
    """
    from ..atomistic import default_system
    from ..atomistic.md import relax
    from ..atomistic.system import electrode_atoms, freeze_electrode

    if not start_heights_A or min(start_heights_A) <= 0:
        raise InputError(f"start_heights_A must be positive heights above the sheet [Å], got {start_heights_A!r}")
    solvated = default_system(seed, size="train")
    freeze_electrode(solvated)
    calc.set(field_V_per_A=0.0)
    relax(solvated, calc, steps=relax_steps, fmax_eV_per_A=0.05)
    li = int(np.nonzero(solvated.numbers == 3)[0][0])
    sheet = electrode_atoms(solvated)
    z_sheet = float(solvated.positions[sheet, 2].mean())
    below = _site_below(_hollow_sites(solvated.positions[sheet, :2], solvated.cell), solvated.positions[li, :2],
                        solvated.cell)
    contact = None
    for height in sorted(start_heights_A):
        trial = solvated.copy()
        trial.positions[li] = [below[0], below[1], z_sheet + float(height)]
        trial.calc = calc
        relax(trial, calc, steps=relax_steps, fmax_eV_per_A=0.05)
        trial.calc = None
        if contact is None or trial.positions[li, 2] < contact.positions[li, 2]:
            contact = trial
    solvated.calc = None
    distance = float(solvated.positions[li, 2] - contact.positions[li, 2])
    return contact, solvated, distance
