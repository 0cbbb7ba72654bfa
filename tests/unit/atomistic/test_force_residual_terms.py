"""The linear force-field terms of benchmarks/bench_force_residual.py: topology of EC and BF₄⁻,
forces = −∇E for every kind of term, and translation invariance."""
import numpy as np
import pytest

from multiscale.atomistic.labelling import load_dataset
from multiscale.atomistic.validation import chemical_roles
from multiscale.commands.bench import load_benchmark
from multiscale.resources import data_path

bfr = load_benchmark("force_residual")


@pytest.fixture(scope="module")
def frame():
    a = load_dataset(data_path("xtb_li_ec_graphene", "labels.db"), split="heldout")[40]  # 3 EC, LiBF4, sheet
    roles = chemical_roles(a)
    return a, roles, bfr.topology(a, roles)


def test_topology_of_three_ec_and_one_bf4(frame):
    a, roles, topo = frame
    # per EC: C=O, 2 C–O, 2 O–CH2, C–C, 4 C–H; BF4: 4 B–F; each bond in both directions
    assert len(topo["bi"]) == 2 * (3 * 10 + 4)
    keys = bfr.type_keys(roles, topo)
    assert keys["bond"].count("C_carbonyl-O_carbonyl") == 2 * 3 and keys["bond"].count("B-F") == 2 * 4
    assert keys["centre"] == ["C_carbonyl"] * 3  # the only three-bonded centres
    assert len(keys["angle"]) == 3 * 17 + 6  # EC: 3 at the carbonyl C, 1 per ring O, 6 per CH2; BF4: 6
    assert set(keys["li"]) <= {"Li-" + r for r in roles if r not in ("C_graphene", "Li")} and keys["li"]


def test_every_kind_of_term_has_forces_minus_its_gradient(frame):
    a, roles, topo = frame
    basis = bfr.ResidualBasis([a], [roles], [topo], n_sets=3)
    kinds = {c[0] for c in basis.columns}
    assert kinds == {"bond", "angle", "stretch_bend", "stretch_stretch", "dihedral", "centre", "li"}
    E, F = basis(a, roles, topo)
    rng = np.random.default_rng(0)
    moved = [i for i, r in enumerate(roles) if r != "C_graphene"]
    h = 1e-5
    for kind in sorted(kinds):
        cols = [k for k, c in enumerate(basis.columns) if c[0] == kind and np.abs(F[k]).max() > 1e-3]
        k = cols[rng.integers(len(cols))]
        i, x = moved[rng.integers(len(moved))], int(rng.integers(3))
        while abs(F[k, i, x]) < 1e-3:  # an atom the term acts on
            i, x = moved[rng.integers(len(moved))], int(rng.integers(3))
        e = []
        for s in (1, -1):
            b = a.copy()
            b.positions[i, x] += s * h
            e.append(basis(b, roles, topo)[0][k])
        assert -(e[0] - e[1]) / (2 * h) == pytest.approx(F[k, i, x], rel=1e-5, abs=1e-7), kind


def test_terms_do_not_move_with_the_whole_cell(frame):
    a, roles, topo = frame
    basis = bfr.ResidualBasis([a], [roles], [topo], n_sets=3)
    E, F = basis(a, roles, topo)
    b = a.copy()
    b.positions += [0.7, -1.3, 0.2]
    E2, F2 = basis(b, roles, bfr.topology(b, roles))
    # the Li pairs are listed in a different order after the shift: compare sums, which are order-free
    assert E2 == pytest.approx(E, rel=1e-9, abs=1e-9)
    assert F2 == pytest.approx(F, rel=1e-7, abs=1e-9)
    assert np.abs(F.sum(axis=1)).max() < 1e-9  # no net force: momentum conserved


def test_charge_field_columns_rotate_with_the_frame_and_are_linear_in_the_charges(frame):
    a, roles, _ = frame
    rng = np.random.default_rng(1)
    dq, q = rng.normal(0, 0.01, len(a)), rng.normal(0, 0.1, len(a))
    C = bfr.charge_field_columns(a, dq, q)
    k = len(bfr.CHARGE_CENTRES_A)
    assert C.shape == (len(a), 2 * k, 3)
    assert bfr.charge_field_columns(a, 2 * dq, np.zeros(len(a))) == pytest.approx(
        np.concatenate([2 * C[:, :k], 0 * C[:, k:]], axis=1), abs=1e-12)
    # a rotation about z keeps the in-plane periodic cell a valid (rotated) cell
    th = 0.7
    rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    b = a.copy()
    b.set_cell(a.cell.array @ rot.T, scale_atoms=False)
    b.positions = a.positions @ rot.T
    assert bfr.charge_field_columns(b, dq, q) == pytest.approx(C @ rot.T, abs=1e-10)


def test_the_charge_oracle_recovers_a_residual_made_of_its_own_columns(frame):
    a, roles, _ = frame
    rng = np.random.default_rng(2)
    q_ref = a.calc.results["charges"]
    pred = [dict(charges=q_ref - rng.normal(0, 0.02, len(a)))]
    C = bfr.charge_field_columns(a, q_ref - pred[0]["charges"], q_ref)
    coef = rng.normal(0, 0.5, C.shape[1])
    resid = [np.einsum("nkx,k->nx", C, coef)]  # the same coefficients for every role
    sets = dict(train=[a])
    out = bfr.charge_oracle(sets, dict(train=[roles]), dict(train=resid), dict(train=pred), ridge=1e-12)
    assert out["train_molecular_before_meV_per_A"] > 10
    assert out["train_molecular_after_meV_per_A"] < 1e-3 * out["train_molecular_before_meV_per_A"]
    assert set(out["by_role"]) == set(roles) - {"C_graphene"}
