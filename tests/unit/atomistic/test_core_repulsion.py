"""Core repulsion below the training set's per-pair minima: zero on the data, C² wall, exact forces."""
import numpy as np
import pytest
import torch
from ase import Atoms

from multiscale.atomistic import MLPotential, default_system
from multiscale.atomistic.core_repulsion import CoreRepulsion, pair_minimum_distances
from multiscale.atomistic.ensemble import PotentialEnsemble
from multiscale.atomistic.model import DEFAULT_ELEMENTS, FieldAwarePotential, NetworkSettings
from multiscale.errors import InputError


def _dimer(symbols, r):
    return Atoms(symbols, positions=[[0, 0, 5.0], [r, 0, 5.0]], cell=[20, 20, 20], pbc=True)


def test_pair_minima_are_symmetric_and_unseen_pairs_have_no_wall():
    r = pair_minimum_distances([_dimer("CH", 1.1), _dimer("CH", 1.3), _dimer("OO", 2.0)], DEFAULT_ELEMENTS, 5.0)
    idx = {z: k for k, z in enumerate(DEFAULT_ELEMENTS)}
    assert r[idx[6], idx[1]] == pytest.approx(1.1) and r[idx[1], idx[6]] == pytest.approx(1.1)
    assert r[idx[8], idx[8]] == pytest.approx(2.0)
    assert r[idx[3], idx[3]] == 0.0                       # Li–Li never seen: no wall
    with pytest.raises(InputError, match="not in elements"):
        pair_minimum_distances([_dimer("Fe2", 2.0)], DEFAULT_ELEMENTS, 5.0)


def test_energy_is_zero_at_and_beyond_the_minimum_and_cubic_inside():
    core = CoreRepulsion(np.array([[1.0]]), stiffness_eV_per_A3=200.0, onset_fraction=1.0)
    sp = np.array([0, 0])
    i, j = np.array([0, 1]), np.array([1, 0])       # full neighbour list: both directions
    for r, expected in ((1.2, 0.0), (1.0, 0.0), (0.9, 200.0 * 0.1 ** 3), (0.8, 200.0 * 0.2 ** 3)):
        pos = np.array([[0.0, 0, 0], [r, 0, 0]])
        e, f = core.energy_forces(sp, pos, i, j, np.zeros((2, 3)))
        assert e == pytest.approx(expected, rel=1e-12, abs=1e-15)
        if r < 1.0:   # repulsive: pushes atom 1 along +x, equal and opposite
            assert f[1, 0] == pytest.approx(3 * 200.0 * (1.0 - r) ** 2) and f[0, 0] == pytest.approx(-f[1, 0])


def test_forces_are_minus_gradient_through_the_calculator():
    torch.manual_seed(0)
    members = [FieldAwarePotential(network=NetworkSettings(hidden=(8,))) for _ in range(4)]
    for m in members:
        m.field_range.copy_(torch.tensor([-0.1, 0.1], dtype=torch.float64))
        m.min_distance.fill_(0.5)
    atoms = default_system(0)
    # every pair's wall just above its shortest distance here: many pairs are inside a wall
    r_min = pair_minimum_distances([atoms], DEFAULT_ELEMENTS, 5.0) * 1.05
    calc = MLPotential(PotentialEnsemble(members), info={"pair_min_distance_A": r_min.tolist(),
                                                         "core_onset_fraction": 1.0},
                       precision="float64")
    atoms.calc = calc
    f = atoms.get_forces()
    assert calc.results["out_of_domain"] and calc.results["core_repulsion_energy"] > 0
    h = 1e-5
    for a, c in ((0, 2), (30, 0), (55, 1)):
        x = atoms.copy()
        x.calc = calc
        x.positions[a, c] += h
        ep = x.get_potential_energy()
        x.positions[a, c] -= 2 * h
        em = x.get_potential_energy()
        assert f[a, c] == pytest.approx(-(ep - em) / (2 * h), rel=1e-5, abs=1e-6)


def test_bad_tables_are_rejected():
    with pytest.raises(InputError, match="square"):
        CoreRepulsion(np.ones(3))
    with pytest.raises(InputError, match="symmetric"):
        CoreRepulsion(np.array([[1.0, 2.0], [1.0, 1.0]]))
    with pytest.raises(InputError, match="onset_fraction"):
        CoreRepulsion(np.ones((2, 2)), onset_fraction=1.5)
    with pytest.raises(InputError, match="stiffness"):
        CoreRepulsion(np.ones((2, 2)), stiffness_eV_per_A3=0.0)


def test_wall_starts_at_the_onset_fraction():
    core = CoreRepulsion(np.array([[2.0]]), onset_fraction=0.9)
    i, j, sp = np.array([0, 1]), np.array([1, 0]), np.array([0, 0])
    for r, expected in ((1.85, 0.0), (1.8, 0.0), (1.7, 200.0 * 0.1 ** 3)):
        e, _ = core.energy_forces(sp, np.array([[0.0, 0, 0], [r, 0, 0]]), i, j, np.zeros((2, 3)))
        assert e == pytest.approx(expected, abs=1e-15)


def test_covalent_cap_keeps_the_wall_inside_bonding_distances():
    # H–B: a training minimum of 2.6 Å is no physical limit; the wall starts at 0.9 (R_H + R_B)
    from ase.data import covalent_radii

    core = CoreRepulsion(np.array([[0.0, 2.6], [2.6, 0.0]]), elements=(1, 5))
    cap = 0.9 * (covalent_radii[1] + covalent_radii[5])
    assert core.r_wall[0, 1] == pytest.approx(cap) and core.r_wall[0, 0] == 0.0
    with pytest.raises(InputError, match="elements"):
        CoreRepulsion(np.ones((2, 2)), elements=(1,))
