"""Cell-list neighbour search against ASE's neighbour list."""
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

from multiscale.atomistic.neighbours import neighbour_list
from multiscale.atomistic.system import default_system
from multiscale.errors import InputError


def _same(atoms, cutoff):
    i, j, S = neighbor_list("ijS", atoms, cutoff)
    nl = neighbour_list(atoms.positions, atoms.cell, atoms.pbc, cutoff)
    assert set(zip(i, j, map(tuple, S))) == set(zip(nl.i, nl.j, map(tuple, nl.shifts)))
    vec = atoms.positions[nl.j] + nl.shifts @ np.array(atoms.cell) - atoms.positions[nl.i]
    np.testing.assert_allclose(vec, nl.vectors, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(vec, axis=1), nl.distances, atol=1e-10)


def test_slab_small_cell_many_images():
    a = default_system(0)
    a.positions[0] += [-9.0, 0.5, 0.0]  # outside the cell: must be wrapped consistently
    _same(a, 5.0)


def test_triclinic_and_tiny_cells():
    _same(bulk("Cu", "fcc", a=3.6), 6.0)  # primitive cell, 1 atom, many images
    a = bulk("Si", "diamond", a=5.43) * (2, 1, 1)
    a.rattle(0.05, seed=1)
    _same(a, 4.0)


def test_non_periodic_and_mixed():
    rng = np.random.default_rng(0)
    a = Atoms("C20", positions=rng.uniform(0, 8, (20, 3)), cell=[8, 8, 8], pbc=False)
    _same(a, 3.0)
    a.pbc = [True, False, True]
    _same(a, 3.0)


def test_bad_cutoff():
    with pytest.raises(InputError, match="cutoff_A"):
        neighbour_list(np.zeros((2, 3)), np.eye(3), False, -1.0)
