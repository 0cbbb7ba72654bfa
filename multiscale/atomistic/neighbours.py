"""Cell-list neighbour search with periodic boundaries (numpy, O(N) for fixed density).

For a cutoff r_c, every pair (i, j, S) with |r_j + S·h − r_i| < r_c is returned, where h is the
3×3 cell matrix (rows = lattice vectors) and S an integer shift vector; periodic directions get
as many images as the cutoff needs (ceil(r_c / d_k), with d_k = V / |a_l × a_m| the distance
between lattice planes), so cells smaller than 2 r_c are handled. Non-periodic directions get no
images. Self pairs (i = i, S = 0) are excluded; each pair appears in both orders.

Algorithm: wrap atoms into the cell, add the periodic images that lie within r_c of the cell,
bin all points into cubes of side ≥ r_c, and compare each atom only with points in its own and
the 26 surrounding bins (Allen & Tildesley, *Computer Simulation of Liquids*, 2nd ed., §5.3.2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, check_range


@dataclass(frozen=True)
class NeighbourList:
    """Pairs i → j: ``vectors`` = r_j + shift − r_i [Å], ``distances`` [Å], ``shifts`` (integers)."""

    i: np.ndarray
    j: np.ndarray
    shifts: np.ndarray
    vectors: np.ndarray
    distances: np.ndarray
    cutoff_A: float

    def __len__(self) -> int:
        return len(self.i)


def _expand_ranges(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [start, start+count): (owner index per element, element)."""
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(starts)), counts)
    offs = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(starts, counts) + offs


def neighbour_list(positions, cell, pbc, cutoff_A: float) -> NeighbourList:
    """All pairs closer than ``cutoff_A`` under the periodicity ``pbc`` (3 booleans)."""
    r_c = check_range("cutoff_A", cutoff_A, low=0.0, low_inclusive=False)
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise InputError(f"positions has shape {pos.shape}; must be (n_atoms, 3)")
    n = len(pos)
    h = np.asarray(cell, dtype=float).reshape(3, 3)
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    if pbc.any():
        vol = abs(np.linalg.det(h))
        if vol < 1e-9:
            raise InputError("cell has zero volume but pbc is set; a periodic cell needs three lattice vectors")
        cross = [np.linalg.norm(np.cross(h[(k + 1) % 3], h[(k + 2) % 3])) for k in range(3)]
        widths = np.array([vol / c for c in cross])
        frac = pos @ np.linalg.inv(h)
        shift0 = np.where(pbc, np.floor(frac), 0.0)
        frac = frac - shift0
        pos_w = frac @ h
        n_img = np.where(pbc, np.ceil(r_c / widths).astype(int), 0)
    else:
        shift0 = np.zeros((n, 3))
        pos_w = pos
        n_img = np.zeros(3, dtype=int)
        frac = None
    # periodic images within r_c of the cell
    grids = [np.arange(-m, m + 1) for m in n_img]
    S = np.stack(np.meshgrid(*grids, indexing="ij"), -1).reshape(-1, 3)
    S = S[np.argsort(np.abs(S).sum(1), kind="stable")]  # S = 0 first
    if frac is not None and len(S) > 1:
        lo = -r_c / widths
        hi = 1.0 + r_c / widths
        f_all = frac[None, :, :] + S[:, None, :]
        keep = np.all((f_all >= lo - 1e-12) | ~pbc, axis=-1) & np.all((f_all <= hi + 1e-12) | ~pbc, axis=-1)
        img_s, img_a = np.nonzero(keep)
    else:
        img_s, img_a = np.zeros(n, dtype=int), np.arange(n)
    pts = pos_w[img_a] + S[img_s] @ h
    # bin the points
    origin = pts.min(0)
    nbin = np.maximum(1, np.floor((pts.max(0) - origin) / r_c).astype(int) + 1)
    b = np.minimum(np.floor((pts - origin) / r_c).astype(int), nbin - 1)
    lin = (b[:, 0] * nbin[1] + b[:, 1]) * nbin[2] + b[:, 2]
    order = np.argsort(lin, kind="stable")
    lin_sorted = lin[order]
    n_bins = int(np.prod(nbin))
    starts = np.searchsorted(lin_sorted, np.arange(n_bins), side="left")
    ends = np.searchsorted(lin_sorted, np.arange(n_bins), side="right")
    # central atoms are the S = 0 images (the first n points)
    centre_pts = np.nonzero(np.all(S[img_s] == 0, axis=1))[0]
    bc = b[centre_pts]
    ii, jj = [], []
    for off in np.stack(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij"), -1).reshape(-1, 3):
        nb = bc + off
        ok = np.all((nb >= 0) & (nb < nbin), axis=1)
        if not ok.any():
            continue
        lin_nb = (nb[ok, 0] * nbin[1] + nb[ok, 1]) * nbin[2] + nb[ok, 2]
        owner, idx = _expand_ranges(starts[lin_nb], ends[lin_nb] - starts[lin_nb])
        ii.append(np.nonzero(ok)[0][owner])
        jj.append(order[idx])
    ci = np.concatenate(ii) if ii else np.zeros(0, dtype=int)
    pj = np.concatenate(jj) if jj else np.zeros(0, dtype=int)
    pi = centre_pts[ci]
    vec = pts[pj] - pts[pi]
    d = np.linalg.norm(vec, axis=1)
    keep = (d < r_c) & (pj != pi)
    pi, pj, vec, d = pi[keep], pj[keep], vec[keep], d[keep]
    ai, aj = img_a[pi], img_a[pj]
    shifts = S[img_s[pj]] - shift0[aj] + shift0[ai]
    o = np.lexsort((aj, ai))
    return NeighbourList(ai[o], aj[o], shifts[o].astype(int), vec[o], d[o], r_c)
