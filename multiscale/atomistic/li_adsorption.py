"""Li at the graphite basal plane: the contact and solvated end points of Li⁺ leaving the electrode.

Used by the reactions stage of ``multiscale run`` (CI-NEB of the step, α from E_a(φ)) and by
active learning (the end points are configurations the potential must describe before that
barrier means anything). The contact height is the closest approach of Li to the sheet in the
reference MD the potential was first trained on (3.0–3.1 Å), not the adsorption height of Li on
graphene (≈ 1.8–2 Å); see :mod:`multiscale.pipeline.reactions_stage`.
"""
from __future__ import annotations

import numpy as np

#: Li above the hollow site of the basal plane at the start of the contact end point [Å]
#: (the closest approach in the training data, see the module docstring)
CONTACT_HEIGHT_A = 3.2


def _hollow_sites(sheet_xy: np.ndarray, cell, step_A: float = 0.1) -> np.ndarray:
    """In-plane points farthest from every sheet atom (hexagon centres), on a ``step_A`` grid."""
    lx, ly = float(cell[0, 0]), float(cell[1, 1])
    gx, gy = np.meshgrid(np.arange(0.0, lx, step_A), np.arange(0.0, ly, step_A), indexing="ij")
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    d = pts[:, None, :] - sheet_xy[None, :, :]
    d -= np.round(d / [lx, ly]) * [lx, ly]
    clearance = np.linalg.norm(d, axis=2).min(1)
    return pts[clearance > clearance.max() - 0.05]


def _clearest(sites_xyz: np.ndarray, others: np.ndarray, cell) -> np.ndarray:
    """The site with the largest in-plane-periodic distance to the ``others`` (the film's atoms)."""
    lxy = np.array([cell[0, 0], cell[1, 1]])
    d = sites_xyz[:, None, :] - others[None, :, :]
    d[..., :2] -= np.round(d[..., :2] / lxy) * lxy
    return sites_xyz[np.argmax(np.linalg.norm(d, axis=2).min(1))]


def adsorption_endpoints(calc, *, seed: int = 0, relax_steps: int = 300):
    """(adsorbed, solvated, distance d [Å]) on the 60-atom default cell, electrode frozen, relaxed at F = 0."""
    from ..atomistic import default_system
    from ..atomistic.md import relax
    from ..atomistic.system import electrode_atoms, freeze_electrode

    solvated = default_system(seed, size="train")
    freeze_electrode(solvated)
    calc.set(field_V_per_A=0.0)
    relax(solvated, calc, steps=relax_steps, fmax_eV_per_A=0.05)
    li = int(np.nonzero(solvated.numbers == 3)[0][0])
    sheet = electrode_atoms(solvated)
    z_sheet = float(solvated.positions[sheet, 2].mean())
    # the hollow site with the most room: the film's molecules may sit anywhere over the sheet
    xy = _hollow_sites(solvated.positions[sheet, :2], solvated.cell)
    sites = np.column_stack([xy, np.full(len(xy), z_sheet + CONTACT_HEIGHT_A)])
    film = ~sheet & (np.arange(len(solvated)) != li)
    adsorbed = solvated.copy()
    adsorbed.positions[li] = _clearest(sites, solvated.positions[film], solvated.cell)
    adsorbed.calc = calc
    relax(adsorbed, calc, steps=relax_steps, fmax_eV_per_A=0.05)
    solvated.calc = adsorbed.calc = None
    distance = float(solvated.positions[li, 2] - adsorbed.positions[li, 2])
    return adsorbed, solvated, distance
