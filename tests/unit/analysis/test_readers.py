"""Readers: streamed chunks, unwrapping, bad input."""
import numpy as np
import pytest
from ase import Atoms
from ase.io import write

from multiscale.analysis.readers import iter_chunks, minimum_image, read_all
from multiscale.errors import InputError


def _walk(rng, n_frames=40, n_atoms=7, box=8.0):
    steps = rng.normal(scale=0.6, size=(n_frames, n_atoms, 3))
    unwrapped = 3.0 + np.cumsum(steps, axis=0)
    return unwrapped, unwrapped % box


def test_unwrap_recovers_continuous_path_across_chunks(rng):
    unwrapped, wrapped = _walk(rng)
    got = np.concatenate([c.positions for c in iter_chunks(wrapped, chunk_size=6, cell=[8.0] * 3, unwrap=True)])
    # the first frame is the wrapped one; the path is the same up to that whole-box shift
    shift = got[0] - unwrapped[0]
    assert np.allclose(shift / 8.0, np.round(shift / 8.0))
    assert np.allclose(got - shift, unwrapped, atol=1e-10)


def test_unwrap_triclinic_cell(rng):
    cell = np.array([[8.0, 0, 0], [2.0, 7.5, 0], [1.0, 1.5, 9.0]])
    unwrapped, _ = _walk(rng)
    frac = unwrapped @ np.linalg.inv(cell)
    wrapped = (frac % 1.0) @ cell
    got = read_all(wrapped, cell=cell, unwrap=True, chunk_size=5).positions
    d = got - unwrapped
    assert np.allclose(d, d[0], atol=1e-9)     # a constant lattice vector per atom


def test_minimum_image_orthorhombic():
    d = minimum_image(np.array([[4.9, -5.1, 0.2]]), np.diag([10.0, 10.0, 10.0]))
    assert np.allclose(d, [[4.9, 4.9, 0.2]])


def test_ase_file_streamed_in_chunks(tmp_path, rng):
    frames = [Atoms("H2O", positions=rng.random((3, 3)) * 5, cell=[6, 6, 6], pbc=True) for _ in range(11)]
    path = tmp_path / "t.extxyz"
    write(path, frames)
    chunks = list(iter_chunks(path, chunk_size=4, timestep_ps=0.5))
    assert [c.n_frames for c in chunks] == [4, 4, 3]
    pos = np.concatenate([c.positions for c in chunks])
    assert np.allclose(pos, [a.positions for a in frames])
    assert chunks[-1].time_ps.tolist() == [4.0, 4.5, 5.0]
    assert chunks[0].symbols.tolist() == ["H", "H", "O"]


def test_bad_input_is_reported():
    pos = np.zeros((5, 3, 3))
    pos[3, 1, 2] = np.nan
    with pytest.raises(InputError, match="frame 3"):
        list(iter_chunks(pos, cell=[5.0] * 3))
    frames = [Atoms("H2", positions=np.zeros((2, 3)), cell=[5] * 3), Atoms("H3", positions=np.zeros((3, 3)), cell=[5] * 3)]
    with pytest.raises(InputError, match="atom count changes"):
        list(iter_chunks(frames))
    with pytest.raises(InputError, match="cell is missing"):
        list(iter_chunks(np.zeros((3, 2, 3)), unwrap=True))
    with pytest.raises(InputError, match="shape"):
        list(iter_chunks(np.zeros((3, 2))))
