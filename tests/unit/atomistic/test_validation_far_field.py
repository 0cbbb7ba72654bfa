"""validation.molecules, move_far_molecules and rotate_far_molecules: the cell's molecules, rigid
moves and turns beyond a radius, and a short-ranged calculator that cannot feel them."""
import numpy as np
import pytest
from ase.calculators.lj import LennardJones

from multiscale.atomistic import default_system
from multiscale.atomistic.system import electrode_atoms
from multiscale.atomistic.validation import molecules, move_far_molecules, rotate_far_molecules
from multiscale.errors import InputError


@pytest.fixture(scope="module")
def cell():
    return default_system(0, size="md")


def test_the_md_cell_holds_its_ethylene_carbonates_and_ions(cell):
    label = molecules(cell)
    assert np.array_equal(label < 0, electrode_atoms(cell))
    sizes = np.bincount(label[label >= 0])
    # 16 EC (10 atoms), 2 BF₄⁻ (5), 2 Li⁺ (1)
    assert sorted(sizes.tolist()) == [1, 1, 5, 5] + [10] * 16


def test_far_molecules_move_rigidly_and_nothing_near_moves(cell):
    centre = 140
    moved, far = move_far_molecules(cell, centre, radius_A=8.0, amplitude_A=0.3, seed=1)
    label = molecules(cell)
    d = cell.get_distances(centre, np.arange(len(cell)), mic=True)
    shift = moved.positions - cell.positions
    assert far and all(d[label == m].min() > 8.0 for m in far)
    still = ~np.isin(label, far)
    assert np.all(shift[still] == 0.0)
    for m in far:  # one translation per molecule: its bonds and angles are kept
        assert np.allclose(shift[label == m], shift[label == m][0], atol=1e-12)
        assert np.linalg.norm(shift[label == m][0]) > 0
    with pytest.raises(InputError, match="amplitude_A"):
        move_far_molecules(cell, centre, radius_A=8.0, amplitude_A=-0.1)


def test_a_short_ranged_calculator_cannot_feel_molecules_beyond_its_reach(cell):
    """Lennard-Jones with cutoff r_c: the forces within 1.5 Å of the centre depend on atoms within
    1.5 + r_c only, so moving molecules beyond that leaves them exactly; nearer, they change."""
    centre, rc = 140, 3.0
    d = cell.get_distances(centre, np.arange(len(cell)), mic=True)
    probe = d <= 1.5

    def probe_forces(atoms):
        a = atoms.copy()
        a.calc = LennardJones(sigma=2.5, epsilon=0.01, rc=rc, smooth=True)
        return a.get_forces()[probe]

    f0 = probe_forces(cell)
    beyond, _ = move_far_molecules(cell, centre, radius_A=1.5 + rc + 0.01, amplitude_A=0.3, seed=2)
    np.testing.assert_allclose(probe_forces(beyond), f0, atol=1e-12)
    within, far = move_far_molecules(cell, centre, radius_A=2.0, amplitude_A=0.3, seed=2)
    assert far and np.abs(probe_forces(within) - f0).max() > 1e-4


def test_far_molecules_turn_rigidly_about_their_centroids_without_clashes(cell):
    centre, radius = 140, 6.5
    turned_cell, turned, crowded = rotate_far_molecules(cell, centre, radius_A=radius, seed=3)
    label = molecules(cell)
    d = cell.get_distances(centre, np.arange(len(cell)), mic=True)
    assert len(turned) >= 5 and not set(turned) & set(crowded)
    assert all(d[label == m].min() > radius for m in turned + crowded)
    assert np.all(turned_cell.positions[~np.isin(label, turned)] == cell.positions[~np.isin(label, turned)])
    for m in turned:
        k = np.flatnonzero(label == m)
        before = cell.get_distances(k[0], k, mic=True, vector=True)
        after = turned_cell.get_distances(k[0], k, mic=True, vector=True)
        # the shape is kept (all internal distances), the centroid stays, the orientation changes
        inner = lambda v: np.linalg.norm(v[:, None] - v[None], axis=2)  # noqa: E731
        np.testing.assert_allclose(inner(after), inner(before), atol=1e-9)
        np.testing.assert_allclose(turned_cell.positions[k[0]] + after.mean(0),
                                   cell.positions[k[0]] + before.mean(0), atol=1e-9)
        assert np.abs(after - before).max() > 0.1
        others = np.flatnonzero(label != m)
        closest = min(turned_cell.get_distances(int(a), others, mic=True).min() for a in k)
        was = min(cell.get_distances(int(a), others, mic=True).min() for a in k)
        assert closest >= min(2.0, was) - 1e-9
        assert turned_cell.get_distances(centre, k, mic=True).min() > radius  # still beyond R after the turn


def test_turning_is_reproducible_and_checks_its_arguments(cell):
    a, ta, _ = rotate_far_molecules(cell, 140, radius_A=8.0, seed=5)
    b, tb, _ = rotate_far_molecules(cell, 140, radius_A=8.0, seed=5)
    assert ta == tb and np.array_equal(a.positions, b.positions)
    for kwargs, word in ((dict(radius_A=-1.0), "radius_A"), (dict(radius_A=8.0, min_contact_A=9.0), "min_contact_A"),
                         (dict(radius_A=8.0, tries=0), "tries"), (dict(radius_A=8.0, max_angle_deg=0.0), "max_angle")):
        with pytest.raises(InputError, match=word):
            rotate_far_molecules(cell, 140, **kwargs)


def test_a_libration_turns_each_molecule_by_at_most_its_angle(cell):
    label = molecules(cell)
    turned_cell, turned, _ = rotate_far_molecules(cell, 140, radius_A=6.5, seed=1, max_angle_deg=20.0)
    assert turned
    for m in turned:
        k = np.flatnonzero(label == m)
        before = cell.get_distances(k[0], k, mic=True, vector=True)
        after = turned_cell.get_distances(k[0], k, mic=True, vector=True)
        before, after = before - before.mean(0), after - after.mean(0)
        # the rotation taking one onto the other (Kabsch), its angle
        u, _, vt = np.linalg.svd(before.T @ after)
        r = (u @ np.diag([1, 1, np.sign(np.linalg.det(u @ vt))]) @ vt).T
        angle = np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1)))
        assert 0 < angle <= 20.0 + 1e-6
        np.testing.assert_allclose(before @ r.T, after, atol=1e-9)
