"""Streamed trajectory reading and unwrapping.

:func:`iter_chunks` turns a trajectory — any file ASE reads (``.traj``, extxyz, LAMMPS dumps
...), a sequence of :class:`ase.Atoms`, or an array of positions in Å with a cell — into
:class:`FrameChunk` objects of at most ``chunk_size`` frames. Files are read lazily with
:func:`ase.io.iread`, so peak memory is set by the chunk size, not the trajectory length.

Unwrapping (``unwrap=True``) follows each atom through periodic images by adding the
minimum-image displacement between consecutive frames,

    r_unwrapped(t+1) = r_unwrapped(t) + Δ,   Δ = d − h·round(h⁻¹·d),  d = r(t+1) − r(t),

with ``h`` the cell matrix (rows a, b, c, Å). It is exact as long as no atom moves more than
half a box length between saved frames, and a no-op on already unwrapped coordinates that obey
the same condition (von Bülow, Bullerjahn & Hummer, J. Chem. Phys. 153, 021101 (2020) discuss
the variable-box case; here the cell of the later frame is used).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import DataFileError, InputError


@dataclass
class FrameChunk:
    """Consecutive frames: positions (n, N, 3) Å, cells (n, 3, 3) Å or None, times (n,) ps."""

    start: int
    positions: np.ndarray
    cells: np.ndarray | None
    time_ps: np.ndarray | None
    symbols: np.ndarray | None
    charges: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def n_atoms(self) -> int:
        return self.positions.shape[1]

    def require_cell(self, why: str) -> np.ndarray:
        """The cells, or an InputError saying that ``why`` needs one."""
        if self.cells is None or np.any(np.abs(np.linalg.det(self.cells)) < 1e-12):
            raise InputError(f"cell is missing or degenerate (frame {self.start}): {why} needs periodic cell vectors")
        return self.cells


def as_cell_matrix(cell, n_frames: int | None = None) -> np.ndarray | None:
    """Cell lengths (3,), a matrix (3, 3) or per-frame matrices (n, 3, 3) → (n, 3, 3) or (3, 3)."""
    if cell is None:
        return None
    c = np.asarray(cell, dtype=float)
    if c.shape == (3,):
        c = np.diag(c)
    if c.shape == (3, 3):
        if n_frames is not None:
            c = np.broadcast_to(c, (n_frames, 3, 3))
        return c
    if c.ndim == 3 and c.shape[1:] == (3, 3) and (n_frames is None or c.shape[0] == n_frames):
        return c
    raise InputError(f"cell has shape {c.shape}: allowed (3,) lengths, (3, 3) or (n_frames, 3, 3) matrices")


def minimum_image(d: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Minimum-image version of displacement(s) ``d`` (..., 3) in a cell (3, 3) or (..., 3, 3)."""
    cell = np.asarray(cell, dtype=float)
    if cell.ndim == 2 and np.allclose(cell, np.diag(np.diag(cell))):
        lengths = np.diag(cell)
        return d - lengths * np.round(d / lengths)
    inv = np.linalg.inv(cell)
    frac = np.einsum("...j,...jk->...k", d, inv)
    frac -= np.round(frac)
    return np.einsum("...j,...jk->...k", frac, cell)


def _check_frames(positions: np.ndarray, start: int, n_atoms: int | None) -> None:
    if n_atoms is not None and positions.shape[1] != n_atoms:
        raise InputError(f"atom count changes at frame {start}: {positions.shape[1]} atoms, expected {n_atoms}")
    bad = ~np.isfinite(positions)
    if bad.any():
        frame = start + int(np.argwhere(bad)[0][0])
        raise InputError(f"positions contain NaN/inf at frame {frame}: every frame must be finite")


def _atoms_chunks(source, chunk_size: int, index: str, format: str | None) -> Iterator[tuple]:
    import ase.io

    if isinstance(source, (str, Path)):
        if not Path(source).exists():
            raise DataFileError(f"trajectory file {str(source)!r} does not exist")
        frames = ase.io.iread(str(source), index=index, format=format)
    else:
        frames = iter(source)
    buf = []
    for atoms in frames:
        buf.append(atoms)
        if len(buf) == chunk_size:
            yield buf
            buf = []
    if buf:
        yield buf


def _charges_of(atoms) -> np.ndarray | None:
    calc = getattr(atoms, "calc", None)
    if calc is not None and "charges" in getattr(calc, "results", {}):
        return np.asarray(calc.results["charges"], dtype=float)
    if "initial_charges" in atoms.arrays and np.any(atoms.arrays["initial_charges"] != 0):
        return np.asarray(atoms.arrays["initial_charges"], dtype=float)
    return None


def iter_chunks(source, *, chunk_size: int = 256, cell=None, time_ps=None, timestep_ps: float | None = None,
                unwrap: bool = False, index: str = ":", format: str | None = None,
                symbols=None, charges=None) -> Iterator[FrameChunk]:
    """Yield :class:`FrameChunk` objects of at most ``chunk_size`` frames.

    Parameters
    ----------
    source : path | sequence of ase.Atoms | ndarray (n_frames, n_atoms, 3) in Å
    cell : cell for array input (lengths (3,), matrix (3, 3) or (n_frames, 3, 3)) in Å; for ASE
        input it overrides the cell stored in the frames.
    time_ps, timestep_ps : frame times (n_frames,) in ps, or the spacing between saved frames.
    unwrap : follow atoms through periodic images (minimum-image displacement between frames).
    symbols, charges : per-atom symbols (n_atoms,) and charges in e ((n_atoms,) or
        (n_frames, n_atoms)) for array input.

    Raises :class:`InputError` on NaN positions, a changing atom count, a missing cell where
    unwrapping needs one, or non-increasing times.
    """
    if int(chunk_size) < 1:
        raise InputError(f"chunk_size = {chunk_size!r} is out of range: must be >= 1")
    if timestep_ps is not None and not float(timestep_ps) > 0:
        raise InputError(f"timestep_ps = {timestep_ps!r} is out of range: must be > 0")
    times = None if time_ps is None else np.asarray(time_ps, dtype=float)
    if times is not None and times.size > 1 and not np.all(np.diff(times) > 0):
        raise InputError("time_ps must be strictly increasing")
    n_atoms = None
    prev_wrapped = prev_unwrapped = None
    for chunk in _raw_chunks(source, int(chunk_size), cell, index, format, symbols, charges):
        _check_frames(chunk.positions, chunk.start, n_atoms)
        n_atoms = chunk.n_atoms
        n = chunk.n_frames
        if times is not None:
            if times.shape[0] < chunk.start + n:
                raise InputError(f"time_ps has {times.shape[0]} entries but the trajectory has more frames")
            chunk.time_ps = times[chunk.start:chunk.start + n]
        elif timestep_ps is not None:
            chunk.time_ps = (chunk.start + np.arange(n)) * float(timestep_ps)
        if unwrap:
            cells = chunk.require_cell("unwrapping")
            wrapped = chunk.positions
            prev = wrapped[:1] if prev_wrapped is None else prev_wrapped[None]
            d = np.diff(np.concatenate([prev, wrapped]), axis=0)
            d = minimum_image(d, cells[0] if _constant(cells) else cells[:, None])
            base = wrapped[0] if prev_unwrapped is None else prev_unwrapped
            chunk.positions = base + np.cumsum(d, axis=0)
            prev_wrapped, prev_unwrapped = wrapped[-1].copy(), chunk.positions[-1].copy()
        yield chunk


def _constant(cells: np.ndarray) -> bool:
    return bool(np.all(cells == cells[0]))


def _raw_chunks(source, chunk_size, cell, index, format, symbols, charges) -> Iterator[FrameChunk]:
    if isinstance(source, np.ndarray) or (isinstance(source, (list, tuple)) and source and
                                          isinstance(source[0], (np.ndarray, list, tuple))):
        pos = np.asarray(source, dtype=float) if not isinstance(source, np.ndarray) else source
        if pos.ndim != 3 or pos.shape[2] != 3:
            raise InputError(f"positions have shape {pos.shape}: expected (n_frames, n_atoms, 3) in Å")
        cells_all = as_cell_matrix(cell, pos.shape[0])
        sym = None if symbols is None else np.asarray(symbols)
        if sym is not None and sym.shape != (pos.shape[1],):
            raise InputError(f"symbols has shape {sym.shape}: expected ({pos.shape[1]},)")
        q = None if charges is None else np.asarray(charges, dtype=float)
        if q is not None and q.shape not in ((pos.shape[1],), pos.shape[:2]):
            raise InputError(f"charges has shape {q.shape}: expected ({pos.shape[1]},) or {pos.shape[:2]}")
        for s in range(0, pos.shape[0], chunk_size):
            e = min(s + chunk_size, pos.shape[0])
            qc = None if q is None else (np.broadcast_to(q, (e - s, pos.shape[1])) if q.ndim == 1 else q[s:e])
            yield FrameChunk(s, np.asarray(pos[s:e], dtype=float), None if cells_all is None else np.asarray(cells_all[s:e]),
                             None, sym, qc)
        return
    start = 0
    for atoms_list in _atoms_chunks(source, chunk_size, index, format):
        counts = {len(a) for a in atoms_list}
        if len(counts) > 1:
            raise InputError(f"atom count changes within frames {start}..{start + len(atoms_list) - 1}: {sorted(counts)}")
        pos = np.stack([a.get_positions() for a in atoms_list])
        if cell is not None:
            cells = np.asarray(as_cell_matrix(cell, len(atoms_list)))
        else:
            cells = np.stack([a.cell.array for a in atoms_list])
            if np.any(np.abs(np.linalg.det(cells)) < 1e-12):
                cells = None
        q_list = [_charges_of(a) for a in atoms_list]
        qc = np.stack(q_list) if all(q is not None for q in q_list) else None
        yield FrameChunk(start, pos, cells, None, np.asarray(atoms_list[0].get_chemical_symbols()), qc)
        start += len(atoms_list)


def read_all(source, **kwargs) -> FrameChunk:
    """Concatenate every chunk of ``source`` into one :class:`FrameChunk` (small trajectories)."""
    chunks = list(iter_chunks(source, **kwargs))
    if not chunks:
        raise InputError("trajectory has no frames")
    cat = lambda xs: None if any(x is None for x in xs) else np.concatenate(xs)  # noqa: E731
    return FrameChunk(0, np.concatenate([c.positions for c in chunks]), cat([c.cells for c in chunks]),
                      cat([c.time_ps for c in chunks]), chunks[0].symbols, cat([c.charges for c in chunks]))


def select_atoms(symbols: np.ndarray | None, n_atoms: int, species, *, name: str = "species") -> np.ndarray:
    """Indices of atoms chosen by ``species``: None (all), symbol(s), a boolean mask or indices."""
    if species is None:
        return np.arange(n_atoms)
    if isinstance(species, str) or (isinstance(species, (list, tuple)) and species and isinstance(species[0], str)):
        wanted = [species] if isinstance(species, str) else list(species)
        if symbols is None:
            raise InputError(f"{name} = {species!r} names elements but the trajectory carries no symbols")
        idx = np.flatnonzero(np.isin(symbols, wanted))
        if idx.size == 0:
            raise InputError(f"{name} = {species!r} matches no atom; present: {sorted(set(symbols.tolist()))}")
        return idx
    arr = np.asarray(species)
    if arr.dtype == bool:
        if arr.shape != (n_atoms,):
            raise InputError(f"{name} mask has shape {arr.shape}: expected ({n_atoms},)")
        idx = np.flatnonzero(arr)
    else:
        idx = arr.astype(int).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= n_atoms):
            raise InputError(f"{name} indices must lie in 0..{n_atoms - 1}")
    if idx.size == 0:
        raise InputError(f"{name} selects no atom")
    return idx
