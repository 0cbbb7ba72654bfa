"""Core repulsion below the shortest distance of each element pair in the training data.

A local ML potential is only defined where it has seen data. Closer than any pair distance of
its training set it extrapolates, and a network fitted to thermal configurations often turns
*attractive* there: MD or a relaxation then pulls two atoms together (seen with the shipped
potential for B–C, a BF₄⁻ boron onto an EC carbon, within a few femtoseconds of a random
packing). Production potentials add a fixed repulsive baseline for the same reason (ZBL in
ACE/MACE, pair tables in DeePMD). Here the baseline is zero on every training configuration,
so the fit is untouched, and rises steeply below the data:

    E_core = Σ_{i<j} k · (w_ab − r_ij)³   for r_ij < w_ab,  0 otherwise,
    w_ab = min(s · r_ab, c · (R_a + R_b)),

with r_ab the shortest a–b distance in the training set, R the covalent radii (ASE,
Cordero et al. 2008), s = ``onset_fraction`` (1: never beyond the data) and c =
``covalent_fraction`` (0.9: only where two atoms overlap more than a covalent bond would).
The covalent cap matters because a small training set's shortest contacts are not physical
limits: held-out reference MD brings e.g. H and B (training minimum 2.6 Å) much closer, and a
wall at the data edge alone put eV/Å errors on those legitimate frames. k = ``stiffness_eV_per_A3``
(200 eV/Å³: 0.2 eV at 0.1 Å inside, 6 eV/Å of force there). The term and its first two
derivatives vanish at the onset (C², so NVE stays smooth). It is a guard, not physics: a
configuration that needs it is still outside the data, and the calculator flags it
(``out_of_domain``). A random packing can start inside a wall (steep forces): relax it first
(``multiscale.atomistic.md.relax``).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

#: Stiffness of the cubic wall [eV/Å³].
DEFAULT_STIFFNESS_EV_PER_A3 = 200.0
#: Where the wall starts, as a fraction of the shortest training distance of the pair ...
DEFAULT_ONSET_FRACTION = 1.0
#: ... and at most this fraction of the sum of the two covalent radii.
DEFAULT_COVALENT_FRACTION = 0.9


def pair_minimum_distances(frames, elements, cutoff_A: float) -> np.ndarray:
    """(n_el, n_el) shortest distance of each element pair over ``frames`` (minimum image) [Å].

    Pairs never closer than ``cutoff_A`` in the data get 0: no wall (their shortest contact is
    unknown, and a wall at the cutoff would be a made-up interaction), but the calculator flags
    a configuration where such a pair comes within the cutoff as outside the data.
    """
    from .neighbours import neighbour_list

    lut = {int(z): k for k, z in enumerate(elements)}
    n_el = len(elements)
    r_min = np.full((n_el, n_el), float(cutoff_A))
    for a in frames:
        unknown = set(int(z) for z in a.numbers) - set(lut)
        if unknown:
            raise InputError(f"frames contain element(s) {sorted(unknown)} not in elements = {list(elements)}")
        nl = neighbour_list(a.positions, a.cell, a.pbc, cutoff_A)
        if len(nl) == 0:
            continue
        s = np.array([lut[int(z)] for z in a.numbers])
        si, sj = s[nl.i], s[nl.j]
        flat = np.full(n_el * n_el, np.inf)
        np.minimum.at(flat, si * n_el + sj, nl.distances)
        r_min = np.minimum(r_min, flat.reshape(n_el, n_el))
    r_min = np.minimum(r_min, r_min.T)
    r_min[r_min >= float(cutoff_A)] = 0.0
    return r_min


class CoreRepulsion:
    """E_core and its forces for one configuration's neighbour pairs (a full list: i→j and j→i)."""

    def __init__(self, pair_min_distance_A, *, stiffness_eV_per_A3: float = DEFAULT_STIFFNESS_EV_PER_A3,
                 onset_fraction: float = DEFAULT_ONSET_FRACTION, elements=None,
                 covalent_fraction: float = DEFAULT_COVALENT_FRACTION):
        """``elements``: atomic numbers of the matrix rows; without them there is no covalent cap."""
        r = np.asarray(pair_min_distance_A, dtype=float)
        if r.ndim != 2 or r.shape[0] != r.shape[1] or not np.all(np.isfinite(r)) or np.any(r < 0):
            raise InputError("pair_min_distance_A must be a square matrix of finite distances >= 0 [Å] "
                             "(0: pair never within the cutoff in training, no wall)")
        if not np.allclose(r, r.T):
            raise InputError("pair_min_distance_A must be symmetric (r_ab = r_ba)")
        if not stiffness_eV_per_A3 > 0:
            raise InputError(f"stiffness_eV_per_A3 = {stiffness_eV_per_A3} must be > 0")
        if not 0.0 < onset_fraction <= 1.0:
            raise InputError(f"onset_fraction = {onset_fraction} must be in (0, 1]")
        self.r_min = r
        self.r_wall = r * float(onset_fraction)
        if elements is not None:
            from ase.data import covalent_radii

            if len(elements) != r.shape[0]:
                raise InputError(f"elements has {len(elements)} entries for a {r.shape[0]}×{r.shape[0]} table")
            if not 0.0 < covalent_fraction <= 2.0:
                raise InputError(f"covalent_fraction = {covalent_fraction} must be in (0, 2]")
            rc = np.array([covalent_radii[int(z)] for z in elements])
            self.r_wall = np.minimum(self.r_wall, float(covalent_fraction) * (rc[:, None] + rc[None, :]))
            self.r_wall[r == 0] = 0.0           # never-seen pairs: no wall
        self.k = float(stiffness_eV_per_A3)

    def closest_ratio(self, species, i, j, distances) -> tuple[float, int, bool]:
        """(min over pairs with a wall of r_ij / r_wall (< 1: inside the wall), the pair row where it
        occurs or −1, whether any pair never seen within the cutoff in training is present)."""
        if len(i) == 0:
            return np.inf, -1, False
        r_ab = self.r_wall[species[i], species[j]]
        seen = r_ab > 0
        unseen = bool((~seen).any())
        if not seen.any():
            return np.inf, -1, unseen
        ratio = np.where(seen, distances / np.where(seen, r_ab, 1.0), np.inf)
        k = int(np.argmin(ratio))
        return float(ratio[k]), k, unseen

    def energy_forces(self, species, positions, i, j, shift_vectors) -> tuple[float, np.ndarray]:
        """(E_core [eV], forces (N, 3) [eV/Å]); ``shift_vectors`` (P, 3) = periodic image offsets."""
        forces = np.zeros_like(positions, dtype=float)
        if len(i) == 0:
            return 0.0, forces
        vec = positions[j] - positions[i] + shift_vectors
        d = np.linalg.norm(vec, axis=1)
        r_ab = self.r_wall[species[i], species[j]]
        delta = r_ab - d
        on = (delta > 0) & (r_ab > 0)
        if not on.any():
            return 0.0, forces
        i, j, vec, d, delta = i[on], j[on], vec[on], d[on], delta[on]
        energy = 0.5 * self.k * float(np.sum(delta ** 3))          # each pair appears twice
        # dE/dr = −3kδ² per pair; F_j = −dE/dr · r̂_ij, F_i = −F_j; halved for the double count
        fj = (1.5 * self.k * delta ** 2 / d)[:, None] * vec
        np.add.at(forces, j, fj)
        np.add.at(forces, i, -fj)
        return energy, forces
