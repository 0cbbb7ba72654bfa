"""The Ewald pieces of benchmarks/bench_force_floor.py: Madelung constant, α independence, forces."""
import numpy as np
import pytest
from ase.build import bulk
from ase.neighborlist import neighbor_list
from scipy.special import erfc

from multiscale.commands.bench import load_benchmark

bff = load_benchmark("force_floor")


def _real_space_energy(atoms, q, alpha, cutoff=14.0):
    i, j, d = neighbor_list("ijd", atoms, cutoff)
    return 0.5 * bff.KE_EV_A * np.sum(q[i] * q[j] * erfc(alpha * d) / d)


@pytest.mark.parametrize("alpha", [0.3, 0.45])
def test_rock_salt_madelung_energy_whatever_the_splitting(alpha):
    a = 5.64
    nacl = bulk("NaCl", "rocksalt", a=a, cubic=True)
    q = np.where(nacl.numbers == 11, 1.0, -1.0)
    e = bff.reciprocal_coulomb_forces(nacl, q, alpha)[0] + _real_space_energy(nacl, q, alpha)
    per_pair = e / (len(nacl) / 2)
    assert per_pair == pytest.approx(-1.747565 * bff.KE_EV_A / (a / 2), rel=1e-5)


def test_forces_are_minus_the_gradient_and_the_near_part_is_the_pair_sum():
    rng = np.random.default_rng(0)
    nacl = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    nacl.positions += rng.normal(scale=0.1, size=nacl.positions.shape)
    q = np.where(nacl.numbers == 11, 0.8, -0.8)
    alpha = 0.4
    _, f = bff.reciprocal_coulomb_forces(nacl, q, alpha)
    h = 1e-5
    for k, ax in [(0, 0), (3, 2), (5, 1)]:
        b = nacl.copy()
        b.positions[k, ax] += h
        ep = bff.reciprocal_coulomb_forces(b, q, alpha)[0]
        b.positions[k, ax] -= 2 * h
        em = bff.reciprocal_coulomb_forces(b, q, alpha)[0]
        assert -(ep - em) / (2 * h) == pytest.approx(f[k, ax], abs=1e-6)
    # the near part is −∇ of ½ Σ_pairs<rc q_i q_j erf(αr)/r
    from scipy.special import erf

    def near_energy(atoms):
        i, j, d = neighbor_list("ijd", atoms, 6.5)
        return 0.5 * bff.KE_EV_A * np.sum(q[i] * q[j] * erf(alpha * d) / d)

    fn = bff.near_coulomb_forces(nacl, q, alpha, 6.5)
    for k, ax in [(1, 0), (6, 2)]:
        b = nacl.copy()
        b.positions[k, ax] += h
        ep = near_energy(b)
        b.positions[k, ax] -= 2 * h
        assert -(ep - near_energy(b)) / (2 * h) == pytest.approx(fn[k, ax], abs=1e-6)
    assert np.abs(fn).max() > 0.1
