"""Mean-squared displacement by FFT, block-averaged errors, bulk D with Yeh–Hummer.

MSD(τ) = ⟨|r_i(t+τ) − r_i(t)|²⟩_{i,t} over all time origins, computed in O(T log T) per atom
with the Wiener–Khinchin split (Calandrini, Pellegrini, Calligari, Hinsen, Kneller,
*Collection SFN* 12, 201 (2011); the algorithm of MDAnalysis' ``EinsteinMSD(fft=True)``):

    MSD(m) = S1(m) − 2 S2(m),
    S1(m) = 1/(T−m) Σ_{k=0}^{T−m−1} [r²(k+m) + r²(k)],   S2(m) = 1/(T−m) Σ_k r(k)·r(k+m),

S2 from a zero-padded FFT autocorrelation. Coordinates must be unwrapped (the reader unwraps).
Einstein relation in d dimensions: MSD = 2 d D τ; D is the slope of a straight-line fit over
the reported fit window. Errors: the trajectory is cut into ``n_blocks`` contiguous blocks, D
is fitted in each over the same window and the error is the standard error of the block means.

Finite-size correction for a cubic periodic box of edge L (Yeh & Hummer, J. Phys. Chem. B
108, 15873 (2004)):  D₀ = D_PBC + ξ k_B T / (6π η L),  ξ = 2.837297.

Memory: positions are gathered for a block of atoms at a time (``max_memory_MB``), so peak
memory is bounded by that budget; a file is re-read once per atom block.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError, check_range
from ..units import angstrom_m, boltzmann_J_K, ps_s
from .base import Results
from .readers import FrameChunk, iter_chunks, select_atoms

YEH_HUMMER_XI = 2.837297
_DIMS = {"xyz": [0, 1, 2], "xy": [0, 1], "xz": [0, 2], "yz": [1, 2], "x": [0], "y": [1], "z": [2]}


def msd_fft_sum(positions: np.ndarray) -> np.ndarray:
    """Σ over atoms of the all-origin MSD, lags 0..T−1, for unwrapped positions (T, N, d) in Å²."""
    from scipy.fft import irfft, next_fast_len, rfft

    x = np.asarray(positions, dtype=float)
    T, n_atoms = x.shape[:2]
    n_fft = next_fast_len(2 * T, real=True)
    f = rfft(x, n=n_fft, axis=0)
    power = (f.real**2 + f.imag**2).sum(axis=(1, 2))            # Σ_atoms Σ_xyz |F|²: irfft is linear
    del f
    s2 = irfft(power, n=n_fft)[:T] / (T - np.arange(T))
    dsq = np.einsum("tnk,tnk->t", x, x)                           # Σ_atoms r²(t)
    # Q_m = 2 Σ_k D_k − Σ_{k=0}^{m−1} (D_k + D_{T−1−k});  S1(m) = Q_m / (T − m)
    q = 2 * dsq.sum() - np.concatenate([[0.0], np.cumsum(dsq[:-1] + dsq[::-1][:-1])])
    s1 = q / (T - np.arange(T))
    return s1 - 2 * s2


class MSD:
    """Einstein MSD of selected atoms with block errors and a fitted diffusion coefficient.

    Parameters
    ----------
    species : selection (symbols, indices, mask or None = all).
    msd_type : which Cartesian components enter: "xyz", "xy", "z", ...
    n_blocks : contiguous time blocks for the error estimate (>= 2).
    fit_window_ps : (start, end) lag window of the linear fit; default 10 %–50 % of a block.
    viscosity_Pa_s, temperature_K : give both for the Yeh–Hummer correction (cubic cell only).
    """

    def __init__(self, species=None, *, msd_type: str = "xyz", n_blocks: int = 5, fit_window_ps=None,
                 viscosity_Pa_s: float | None = None, temperature_K: float | None = None,
                 max_memory_MB: float = 256.0, chunk_size: int = 256, progress: bool = False):
        if msd_type not in _DIMS:
            raise InputError(f"msd_type = {msd_type!r} is unknown; allowed: {', '.join(_DIMS)}")
        if int(n_blocks) < 2:
            raise InputError(f"n_blocks = {n_blocks!r} is out of range: must be >= 2")
        if (viscosity_Pa_s is None) != (temperature_K is None):
            raise InputError("viscosity_Pa_s and temperature_K go together for the Yeh–Hummer correction")
        if viscosity_Pa_s is not None:
            check_range("viscosity_Pa_s", viscosity_Pa_s, low=0.0, low_inclusive=False)
            check_range("temperature_K", temperature_K, low=0.0, low_inclusive=False)
        self.species, self.msd_type, self.n_blocks = species, msd_type, int(n_blocks)
        self.fit_window_ps = fit_window_ps
        self.viscosity_Pa_s, self.temperature_K = viscosity_Pa_s, temperature_K
        self.max_memory_MB = check_range("max_memory_MB", max_memory_MB, low=0.0, low_inclusive=False)
        self.chunk_size, self.progress = int(chunk_size), progress
        self.results_: Results | None = None

    @property
    def results(self) -> Results:
        if self.results_ is None:
            from ..errors import NotFittedError

            raise NotFittedError("MSD.run() has not been called yet")
        return self.results_

    def _scan(self, source, reader_kwargs) -> tuple[int, FrameChunk, np.ndarray]:
        n, first, times = 0, None, []
        if isinstance(source, np.ndarray):
            first = next(iter_chunks(source[:1], **reader_kwargs))
            t = reader_kwargs.get("time_ps")
            dt = reader_kwargs.get("timestep_ps")
            n = source.shape[0]
            times = np.asarray(t, dtype=float)[:n] if t is not None else (np.arange(n) * dt if dt else None)
            return n, first, times
        for c in iter_chunks(source, **{**reader_kwargs, "unwrap": False}):
            first = first or c
            n += c.n_frames
            times.append(c.time_ps)
        return n, first, None if any(t is None for t in times) else np.concatenate(times)

    def run(self, source, *, cell=None, time_ps=None, timestep_ps=None, **reader_kwargs):
        """Compute the MSD of ``source`` (file, Atoms list or (n_frames, n_atoms, 3) Å array)."""
        kw = dict(chunk_size=self.chunk_size, cell=cell, time_ps=time_ps, timestep_ps=timestep_ps, **reader_kwargs)
        n_frames, first, times = self._scan(source, kw)
        if times is None:
            raise InputError("MSD needs frame times: give time_ps or timestep_ps")
        if n_frames < 2 * self.n_blocks:
            raise InputError(f"trajectory has {n_frames} frames: need >= {2 * self.n_blocks} for {self.n_blocks} blocks")
        dt = np.diff(times)
        if not np.allclose(dt, dt[0], rtol=1e-6, atol=0):
            raise InputError("MSD by FFT needs evenly spaced frames (time_ps steps differ)")
        idx = select_atoms(first.symbols, first.n_atoms, self.species)
        dims = _DIMS[self.msd_type]
        per_atom_bytes = n_frames * len(dims) * 8 * 8            # positions, copies, FFT workspace
        block_atoms = max(1, int(self.max_memory_MB * 2**20 // per_atom_bytes))
        T_b = n_frames // self.n_blocks
        total = np.zeros(n_frames)
        blocks = np.zeros((self.n_blocks, T_b))
        atom_blocks = [idx[s:s + block_atoms] for s in range(0, idx.size, block_atoms)]
        if self.progress:
            from tqdm.auto import tqdm

            atom_blocks = tqdm(atom_blocks, desc="MSD atom blocks")
        for ib in atom_blocks:
            if isinstance(source, np.ndarray) and cell is None:      # already unwrapped in memory
                pos = np.asarray(source[:, ib], dtype=float)
            elif isinstance(source, np.ndarray):
                pos = np.concatenate([c.positions for c in iter_chunks(source[:, ib], **{**kw, "unwrap": True})])
            else:
                pos = np.concatenate([c.positions[:, ib] for c in iter_chunks(source, **{**kw, "unwrap": True})])
            pos = pos[:, :, dims]
            total += msd_fft_sum(pos)
            for b in range(self.n_blocks):
                blocks[b] += msd_fft_sum(pos[b * T_b:(b + 1) * T_b])
        total /= idx.size
        blocks /= idx.size
        lag_ps = np.arange(n_frames) * dt[0]
        self.results_ = self._conclude(lag_ps, total, blocks, len(dims), first, cell)
        return self

    def _conclude(self, lag_ps, total, blocks, n_dim, first, cell) -> Results:
        T_b = blocks.shape[1]
        lo, hi = self.fit_window_ps if self.fit_window_ps is not None else (0.1 * lag_ps[T_b - 1], 0.5 * lag_ps[T_b - 1])
        if not 0 <= lo < hi <= lag_ps[T_b - 1]:
            raise InputError(f"fit_window_ps = ({lo}, {hi}) must satisfy 0 <= start < end <= block length "
                             f"{lag_ps[T_b - 1]:g} ps")
        sel = (lag_ps >= lo) & (lag_ps <= hi)
        sel_b = sel[:T_b]
        if sel_b.sum() < 2:
            raise InputError(f"fit_window_ps = ({lo}, {hi}) holds fewer than 2 lag times")
        slope = np.polyfit(lag_ps[sel], total[sel], 1)[0]
        slopes_b = np.array([np.polyfit(lag_ps[:T_b][sel_b], m[sel_b], 1)[0] for m in blocks])
        conv = angstrom_m**2 / ps_s
        d = slope / (2 * n_dim) * conv
        d_err = slopes_b.std(ddof=1) / np.sqrt(self.n_blocks) / (2 * n_dim) * conv
        res = Results(title=f"MSD ({self.msd_type})")
        res.add("lag time", lag_ps * ps_s, "s")
        res.add("MSD", total * angstrom_m**2, "m2", axis="lag time")
        res.add("block lag time", lag_ps[:T_b] * ps_s, "s")
        res.add("block MSD", blocks.mean(axis=0) * angstrom_m**2, "m2", axis="block lag time")
        res.add("block MSD error", blocks.std(axis=0, ddof=1) / np.sqrt(self.n_blocks) * angstrom_m**2, "m2",
                axis="block lag time")
        res.meta.update(diffusivity_m2_s=float(d), diffusivity_error_m2_s=float(d_err),
                        fit_window_s=(lo * ps_s, hi * ps_s), n_blocks=self.n_blocks, msd_type=self.msd_type)
        if self.viscosity_Pa_s is not None:
            cells = first.require_cell("the Yeh–Hummer correction") if cell is None else np.atleast_3d(
                np.diag(cell) if np.ndim(cell) == 1 else np.asarray(cell))
            c = np.asarray(cells).reshape(-1, 3, 3)[0]
            lengths = np.linalg.norm(c, axis=1)
            if not (np.allclose(c, np.diag(np.diag(c))) and np.allclose(lengths, lengths[0], rtol=1e-6)):
                raise InputError("the Yeh–Hummer correction holds for a cubic box; this cell is not cubic")
            corr = yeh_hummer_correction(self.temperature_K, self.viscosity_Pa_s, lengths[0] * angstrom_m)
            res.meta.update(yeh_hummer_correction_m2_s=corr, diffusivity_corrected_m2_s=float(d + corr))
        return res


def yeh_hummer_correction(temperature_K: float, viscosity_Pa_s: float, box_length_m: float) -> float:
    """ξ k_B T / (6π η L) [m²/s], the amount D_PBC underestimates D in a cubic box of edge L."""
    t = check_range("temperature_K", temperature_K, low=0.0, low_inclusive=False)
    eta = check_range("viscosity_Pa_s", viscosity_Pa_s, low=0.0, low_inclusive=False)
    length = check_range("box_length_m", box_length_m, low=0.0, low_inclusive=False)
    return YEH_HUMMER_XI * boltzmann_J_K * t / (6 * np.pi * eta * length)
