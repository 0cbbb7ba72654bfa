"""Radial distribution functions, coordination numbers and solvation-shell metrics.

Partial RDF of species B around species A, accumulated over frames f:

    g_AB(r) = Σ_f n_AB^f(r, r+dr) / [ Σ_f N_A^f · (N_B/V_acc) · ΔV_shell(r) · s(r) ]

with minimum-image distances in the periodic directions, ``N_B`` the number of B atoms other
than the centre itself, ``V_acc`` the volume accessible to the atoms (the cell for a bulk
liquid; area × thickness h for a slab) and ``ΔV_shell = 4π/3 [(r+dr)³ − r³]``. ``s(r)`` is the
fraction of a shell that lies inside a slab of thickness ``h``, averaged over uniformly placed
centres (ideal-gas reference, so that g → 1 for an uncorrelated slab):

    s(r) = 1 − r/(2h)   (r ≤ h),     s(r) = h/(2r)   (r > h);   s ≡ 1 in bulk.

For a bulk system this is exactly MDAnalysis' ``InterRDF`` normalisation (with
``exclusion_block=(1, 1)`` for A = B). The running coordination number counts real
neighbours, n_AB(r) = Σ_f Σ_{r'<r} n_AB^f / Σ_f N_A^f, so near an electrode it shows the
incomplete shells directly. Reference: Allen & Tildesley, *Computer Simulation of Liquids*,
2nd ed. (2017), §8.2.

Neighbour search: :class:`scipy.spatial.cKDTree` with ``boxsize`` (periodic k-d tree) for
orthorhombic cells; a blocked brute-force minimum-image search for triclinic ones.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError, check_range
from ..units import angstrom_m
from .base import AnalysisBase, Results
from .readers import minimum_image, select_atoms


def _slab_shell_integral(r: np.ndarray, h: float) -> np.ndarray:
    """∫₀^r 4πr'² s(r') dr' for a slab of thickness h (Å³)."""
    r = np.asarray(r, dtype=float)
    inner = 4 * np.pi * (np.minimum(r, h) ** 3 / 3 - np.minimum(r, h) ** 4 / (8 * h))
    outer = np.pi * h * (np.maximum(r, h) ** 2 - h**2)
    return inner + outer


class RDF(AnalysisBase):
    """Partial RDF g_AB(r), running coordination number and first-shell metrics.

    Parameters
    ----------
    species_a, species_b : centre and neighbour selection (element symbol(s), index array,
        boolean mask, or None for all atoms).
    r_max_A, n_bins, r_min_A : histogram range [Å] and number of uniform bins.
    pbc : periodic directions (default all three; a slab with vacuum uses (True, True, False)).
    slab : ``(axis, z_low_A, z_high_A)`` — atoms occupy this layer only: the accessible volume
        is area × (z_high − z_low) and the shell fraction s(r) is applied.
    electrode_window : ``(axis, z_electrode_A, d_min_A, d_max_A)`` — only centres whose
        distance |z − z_electrode| lies in [d_min, d_max) count (re-selected every frame).
    """

    def __init__(self, species_a=None, species_b=None, *, r_max_A: float = 10.0, n_bins: int = 100,
                 r_min_A: float = 0.0, pbc=(True, True, True), slab=None, electrode_window=None,
                 chunk_size: int = 256, progress: bool = False):
        super().__init__(chunk_size=chunk_size, progress=progress)
        self.r_max_A = check_range("r_max_A", r_max_A, low=0.0, low_inclusive=False)
        self.r_min_A = check_range("r_min_A", r_min_A, low=0.0, high=self.r_max_A, high_inclusive=False)
        if int(n_bins) < 1:
            raise InputError(f"n_bins = {n_bins!r} is out of range: must be >= 1")
        self.n_bins = int(n_bins)
        self.species_a, self.species_b = species_a, species_b
        self.pbc = np.asarray(pbc, dtype=bool)
        if self.pbc.shape != (3,):
            raise InputError(f"pbc = {pbc!r} must be three booleans")
        self.slab = None if slab is None else (int(slab[0]), float(slab[1]), float(slab[2]))
        if self.slab is not None and not self.slab[2] > self.slab[1]:
            raise InputError(f"slab = {slab!r}: z_high_A must exceed z_low_A")
        self.electrode_window = None if electrode_window is None else (int(electrode_window[0]),) + tuple(
            float(v) for v in electrode_window[1:])
        if self.electrode_window is not None and not self.electrode_window[3] > self.electrode_window[2] >= 0:
            raise InputError(f"electrode_window = {electrode_window!r}: need 0 <= d_min_A < d_max_A")

    # -- hooks ---------------------------------------------------------------------------------
    def _prepare(self, first) -> None:
        self.idx_a_ = select_atoms(first.symbols, first.n_atoms, self.species_a, name="species_a")
        self.idx_b_ = select_atoms(first.symbols, first.n_atoms, self.species_b, name="species_b")
        self.same_ = np.array_equal(self.idx_a_, self.idx_b_)
        self.n_common_ = np.intersect1d(self.idx_a_, self.idx_b_).size
        self.count_ = np.zeros(self.n_bins)
        self.n_centres_ = 0.0
        self.density_sum_ = 0.0   # Σ_f N_A^f · N_B'/V_acc
        self.volume_sum_ = 0.0

    def _single_frame(self, chunk) -> None:
        cells = chunk.require_cell("an RDF with periodic boundaries")
        for k in range(chunk.n_frames):
            self._frame(chunk.positions[k], cells[k])

    def _accessible_volume(self, cell: np.ndarray) -> float:
        if self.slab is None:
            return float(abs(np.linalg.det(cell)))
        axis, lo, hi = self.slab
        others = [i for i in range(3) if i != axis]
        area = float(np.linalg.norm(np.cross(cell[others[0]], cell[others[1]])))
        return area * (hi - lo)

    def _frame(self, pos: np.ndarray, cell: np.ndarray) -> None:
        a_idx = self.idx_a_
        if self.electrode_window is not None:
            axis, z_el, d_lo, d_hi = self.electrode_window
            dist = np.abs(pos[a_idx, axis] - z_el)
            a_idx = a_idx[(dist >= d_lo) & (dist < d_hi)]
        volume = self._accessible_volume(cell)
        # ordered A–B pairs that exist in this frame (a centre is never its own neighbour)
        n_pairs = a_idx.size * self.idx_b_.size - (np.isin(a_idx, self.idx_b_).sum() if self.n_common_ else 0)
        self.density_sum_ += n_pairs / volume
        self.n_centres_ += a_idx.size
        self.volume_sum_ += volume
        if a_idx.size == 0:
            return
        d = self._distances(pos, cell, a_idx)
        hist, _ = np.histogram(d, bins=self.n_bins, range=(self.r_min_A, self.r_max_A))
        self.count_ += hist

    def _distances(self, pos, cell, a_idx) -> np.ndarray:
        """All A–B distances ≤ r_max (ordered pairs, self pairs excluded), Å."""
        ortho = np.allclose(cell, np.diag(np.diag(cell)))
        lengths = np.diag(cell).copy()
        if ortho and np.all(lengths[self.pbc] > 2 * self.r_max_A):
            from scipy.spatial import cKDTree

            p = np.array(pos, dtype=float)
            box = lengths.copy()
            for i in range(3):
                if self.pbc[i]:
                    p[:, i] %= lengths[i]
                    p[:, i][p[:, i] >= lengths[i]] -= lengths[i]   # x % L can round to L
                else:
                    lo = p[:, i].min()
                    p[:, i] -= lo
                    box[i] = p[:, i].max() + 2 * self.r_max_A + 1.0   # no wrap-around contact
            if self.same_ and self.electrode_window is None:
                tree = cKDTree(p[a_idx], boxsize=box)
                pairs = tree.query_pairs(self.r_max_A, output_type="ndarray")
                dd = p[a_idx[pairs[:, 0]]] - p[a_idx[pairs[:, 1]]]
                dd -= box * np.round(dd / box)
                d = np.sqrt(np.einsum("ij,ij->i", dd, dd))
                return np.concatenate([d, d])
            ta = cKDTree(p[a_idx], boxsize=box)
            tb = cKDTree(p[self.idx_b_], boxsize=box)
            sm = ta.sparse_distance_matrix(tb, self.r_max_A, output_type="ndarray")
            if self.n_common_:
                sm = sm[a_idx[sm["i"]] != self.idx_b_[sm["j"]]]
            # a sparse matrix stores no exact zeros: count coincident A–B pairs separately
            n_zero = int(ta.count_neighbors(tb, 0.0)) - (int(np.isin(a_idx, self.idx_b_).sum()) if self.n_common_ else 0)
            return np.concatenate([sm["v"], np.zeros(n_zero)]) if n_zero else sm["v"]
        return self._brute_force(pos, cell, a_idx)

    def _brute_force(self, pos, cell, a_idx, block: int = 64) -> np.ndarray:
        if not self.pbc.all():
            raise InputError("a non-orthorhombic cell needs pbc = (True, True, True) in the RDF")
        heights = abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
        if np.any(heights < 2 * self.r_max_A):
            raise InputError(f"r_max_A = {self.r_max_A} exceeds half the smallest cell height "
                             f"{heights.min() / 2:.3f} Å: the minimum image is ambiguous")
        out = []
        pb = pos[self.idx_b_]
        # rounding fractional coordinates is not always the minimum image in a skewed cell:
        # also try the 26 neighbouring images (exact for r_max below half the smallest height)
        shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)]) @ cell
        for s in range(0, a_idx.size, block):
            ia = a_idx[s:s + block]
            dd = minimum_image(pos[ia][:, None, :] - pb[None], cell)
            d2 = np.full(dd.shape[:2], np.inf)
            for sh in shifts:
                e = dd + sh
                d2 = np.minimum(d2, np.einsum("ijk,ijk->ij", e, e))
            d = np.sqrt(d2)
            keep = (d <= self.r_max_A) & (ia[:, None] != self.idx_b_[None])
            out.append(d[keep])
        return np.concatenate(out)

    def _conclude(self) -> Results:
        edges = np.linspace(self.r_min_A, self.r_max_A, self.n_bins + 1)
        if self.slab is None:
            shell = 4.0 / 3.0 * np.pi * np.diff(edges**3)
        else:
            shell = np.diff(_slab_shell_integral(edges, self.slab[2] - self.slab[1]))
        norm = self.density_sum_ * shell
        if self.n_centres_ == 0:
            raise InputError("no centre atom fell inside electrode_window in any frame: widen the window")
        g = self.count_ / norm
        res = Results(title="g(r)")
        res.add("r", 0.5 * (edges[1:] + edges[:-1]) * angstrom_m, "m")
        res.add("r edges", edges * angstrom_m, "m")
        res.add("g(r)", g, "-", axis="r")
        res.add("count", self.count_, "-", axis="r")
        res.add("coordination number", np.cumsum(self.count_) / self.n_centres_, "-", axis="r")
        res.meta.update(n_frames=self.n_frames_, mean_centres_per_frame=self.n_centres_ / self.n_frames_,
                        accessible_volume_A3=self.volume_sum_ / self.n_frames_, slab=self.slab,
                        electrode_window=self.electrode_window)
        res.meta.update(shell_metrics(res))
        return res


def shell_metrics(res: Results) -> dict:
    """First peak (position, height), first minimum after it, and coordination number to it.

    The first peak is the first local maximum of g (3-bin running mean) above 1, or the global
    maximum if g never exceeds 1; the first minimum is the lowest point between that peak and
    the next maximum. CN(r_min) = running coordination number at r_min (real neighbours).
    """
    g = res["g(r)"]
    r_A = res["r"] / angstrom_m
    cn = res["coordination number"]
    gs = np.convolve(np.pad(g, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    is_max = np.r_[False, (gs[1:-1] >= gs[:-2]) & (gs[1:-1] > gs[2:]), False]
    cand = np.flatnonzero(is_max & (gs > 1.0))
    i_peak = int(cand[0]) if cand.size else int(np.argmax(gs))
    i_peak = int(i_peak - 1 + np.argmax(g[max(i_peak - 1, 0):i_peak + 2])) if i_peak > 0 else i_peak
    after = gs[i_peak:]
    is_min = np.r_[False, (after[1:-1] <= after[:-2]) & (after[1:-1] < after[2:]), False]
    mins = np.flatnonzero(is_min)
    if mins.size == 0:
        return {"first_peak_r_A": float(r_A[i_peak]), "first_peak_height": float(g[i_peak]),
                "first_min_r_A": float("nan"), "coordination_number": float("nan"), "shell_found": False}
    i_min = i_peak + int(mins[0])
    return {"first_peak_r_A": float(r_A[i_peak]), "first_peak_height": float(g[i_peak]),
            "first_min_r_A": float(r_A[i_min]), "coordination_number": float(cn[i_min]), "shell_found": True}


def compare_structure(results_by_label: dict):
    """One table of first-shell metrics across runs (e.g. electrode potentials or fields).

    ``results_by_label`` maps a label (a potential in V, a field in V/Å, a name) to an
    :class:`RDF` that has run or to its :class:`Results`. A run without a first minimum in
    range is marked ``"shell found" = False`` and its CN/r_min are left empty (NaN is
    explicit there, never silent).
    """
    import pandas as pd

    rows = []
    for label, item in results_by_label.items():
        res = item.results if isinstance(item, RDF) else item
        m = shell_metrics(res)
        rows.append({"label": label, "First peak r [m]": m["first_peak_r_A"] * angstrom_m,
                     "First peak g [-]": m["first_peak_height"], "First minimum r [m]": m["first_min_r_A"] * angstrom_m,
                     "Coordination number [-]": m["coordination_number"], "shell found": m["shell_found"]})
    if not rows:
        raise InputError("results_by_label is empty: give at least one RDF")
    return pd.DataFrame(rows)
