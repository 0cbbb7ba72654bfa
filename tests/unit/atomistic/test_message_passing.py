"""The PaiNN member: invariances, forces = −∇E, Stark form, neutrality, range, training and I/O."""
import numpy as np
import pytest
import torch

from multiscale.atomistic import default_system
from multiscale.atomistic.calculator import MLPotential
from multiscale.atomistic.ensemble import PotentialEnsemble
from multiscale.atomistic.message_passing import MessagePassingPotential, MessagePassingSettings
from multiscale.atomistic.model import member_from_config
from multiscale.errors import InputError
from tests.unit.atomistic.ase_helpers import evaluate, solvated_cluster


def _member(seed, **kw):
    torch.manual_seed(seed)
    m = MessagePassingPotential(settings=MessagePassingSettings(n_features=16, n_layers=2, **kw)).double()
    m.field_range.copy_(torch.tensor([-0.2, 0.2], dtype=torch.float64))
    m.min_distance.fill_(0.5)
    m.energy_scale.fill_(0.5)
    with torch.no_grad():  # charges and responses of order 0.1 e so that the field terms matter
        m.net["readout"][-1].bias.normal_(0, 0.5)
    return m.eval()


@pytest.fixture(scope="module")
def ensemble():
    return PotentialEnsemble([_member(k) for k in range(4)])


def _calc(ens, field=0.0, periodic=True):
    return MLPotential(ens, field_V_per_A=field, require_periodic_xy=periodic)


def test_rotation_translation_permutation(ensemble):
    calc = _calc(ensemble, periodic=False)
    c = solvated_cluster()
    e0, f0, q0 = evaluate(calc, c)
    rot = c.copy()
    rot.rotate(53.0, (1, -2, 0.5), center="COP")
    e1, f1, q1 = evaluate(calc, rot)
    P, R = c.positions - c.positions.mean(0), rot.positions - rot.positions.mean(0)
    M, *_ = np.linalg.lstsq(P, R, rcond=None)
    assert e1 == pytest.approx(e0, abs=1e-9)
    np.testing.assert_allclose(f0 @ M, f1, atol=1e-8)  # vector features keep the forces equivariant
    np.testing.assert_allclose(q1, q0, atol=1e-10)
    tr = c.copy()
    tr.translate([0.3, -0.8, 1.1])
    e2, f2, _ = evaluate(calc, tr)
    assert e2 == pytest.approx(e0, abs=1e-9)
    np.testing.assert_allclose(f2, f0, atol=1e-9)
    perm = np.random.default_rng(0).permutation(len(c))
    e3, f3, q3 = evaluate(calc, c[perm])
    assert e3 == pytest.approx(e0, abs=1e-9)
    np.testing.assert_allclose(f3, f0[perm], atol=1e-9)
    np.testing.assert_allclose(q3, q0[perm], atol=1e-10)


@pytest.mark.parametrize("field", [0.0, 0.08])
def test_forces_are_minus_gradient(ensemble, field):
    a = default_system(1)
    a.calc = _calc(ensemble, field)
    f = a.get_forces()
    p0 = a.positions.copy()
    h = 1e-5
    for k, c in [(0, 2), (30, 0), (57, 1), (59, 2)]:
        a.positions = p0.copy()
        a.positions[k, c] += h
        ep = a.get_potential_energy()
        a.positions = p0.copy()
        a.positions[k, c] -= h
        em = a.get_potential_energy()
        assert -(ep - em) / (2 * h) == pytest.approx(f[k, c], abs=1e-6)


def test_stark_form_and_neutrality(ensemble):
    a = default_system(2)
    e, mu, q = {}, {}, {}
    for f in (-0.1, 0.0, 0.1):
        a.calc = _calc(ensemble, f)
        e[f] = a.get_potential_energy()
        mu[f] = a.calc.results["dipole"][2]
        q[f] = a.calc.results["charges"]
        assert q[f].sum() == pytest.approx(0.0, abs=1e-10)
    mu0 = mu[0.0]
    alpha = (mu[0.1] - mu[-0.1]) / 0.2
    # E(F) = E(0) − μ₀F − ½αF², and μ(F) = −∂E/∂F
    for f in (-0.1, 0.1):
        assert e[f] == pytest.approx(e[0.0] - mu0 * f - 0.5 * alpha * f**2, abs=1e-9)
    assert -(e[0.1] - e[-0.1]) / 0.2 == pytest.approx(mu0, abs=1e-9)
    assert np.abs(q[0.1] - q[0.0]).max() > 1e-4  # the charges respond to the field


def test_receptive_field_is_layers_times_cutoff():
    """Atomic energies see L hops of r_c, so the force on an atom (a sum of its neighbours' energy
    derivatives) sees 2L hops: along a chain 0–1–2–3 with bonds shorter than r_c, moving atom 3
    changes the force on atom 0 with two layers (4 hops) but not with one (2 hops); an atom out of
    every chain changes nothing."""
    from ase import Atoms

    rc = 3.0
    pos = np.array([[0.0, 0, 0], [2.5, 0, 0], [5.0, 0, 0], [7.5, 0, 0], [20.0, 0, 0]])
    atoms = Atoms("HHHHH", positions=pos, cell=[40, 40, 40], pbc=False)

    def force_on_0(n_layers, moved):
        torch.manual_seed(0)
        m = MessagePassingPotential(settings=MessagePassingSettings(cutoff_A=rc, n_features=8,
                                                                    n_layers=n_layers)).double().eval()
        m.field_range.copy_(torch.tensor([-0.1, 0.1], dtype=torch.float64))
        calc = MLPotential(PotentialEnsemble([m]), require_periodic_xy=False, check_distances=False)
        a = atoms.copy()
        a.positions[moved] += [0.0, 0.3, 0.0]
        a.calc = calc
        return a.get_forces()[0]

    f1, f2 = force_on_0(1, []), force_on_0(2, [])
    assert np.allclose(force_on_0(1, [3]), f1, atol=1e-12)  # 3 hops away: beyond one layer's 2 hops
    assert not np.allclose(force_on_0(2, [3]), f2, atol=1e-6)  # within two layers' 4 hops
    assert np.allclose(force_on_0(2, [4]), f2, atol=1e-12)  # disconnected


def test_config_roundtrip_and_errors():
    m = _member(3)
    cfg = m.config()
    assert cfg["architecture"] == "painn"
    m2 = member_from_config(cfg).double()
    m2.load_state_dict(m.state_dict())
    for p, q in zip(m.parameters(), m2.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(InputError, match="architecture"):
        member_from_config(dict(cfg, architecture="mace"))
    with pytest.raises(InputError, match="n_layers"):
        MessagePassingSettings(n_layers=0).validate()
    with pytest.raises(InputError, match="cutoff_A"):
        MessagePassingSettings(cutoff_A=20.0).validate()


def test_training_learns_and_saves(tmp_path):
    """Two epochs on a few labelled frames: losses fall, members differ, the saved ensemble reloads
    to the same predictions (float64 on the CPU) and carries the core-repulsion minima."""
    from multiscale.atomistic.labelling import load_training_frames
    from multiscale.atomistic.training import (TrainingSettings, attach_core_repulsion, load_ensemble,
                                               save_ensemble, train_ensemble)
    from multiscale.resources import data_path

    frames = load_training_frames([data_path("xtb_li_ec_graphene") / "labels.db"], frame_stride=40)
    s = TrainingSettings(architecture="painn", n_members=4, epochs=3, batch_size=4, learning_rate=2e-3,
                         validation_split="trajectory", weight_force_electrode=0.1,
                         message_passing=MessagePassingSettings(n_features=8, n_layers=2))
    ens, hist = train_ensemble(frames, s, progress=False)
    tl = np.array(hist["train_loss"])  # (epochs, members)
    assert np.all(tl[-1] < tl[0])
    assert hist["settings"]["architecture"] == "painn"
    save_ensemble(ens, tmp_path, meta=dict(history=hist))
    attach_core_repulsion(tmp_path, frames)
    ens2, info = load_ensemble(tmp_path)
    assert info["config"]["architecture"] == "painn"
    assert len(info["meta"]["pair_min_distance_A"]) == 6
    a = frames[0].copy()
    r1, r2 = evaluate(MLPotential(ens, precision="float64"), a), evaluate(MLPotential(ens2, precision="float64"), a)
    assert r1[0] == pytest.approx(r2[0], abs=1e-9)
    np.testing.assert_allclose(r1[1], r2[1], atol=1e-9)
    calc = MLPotential(ens2, precision="float64")
    a.calc = calc
    a.get_forces()
    assert calc.results["force_uncertainty"].mean() > 0  # independently initialised members disagree
    with pytest.raises(InputError, match="parallel_members"):
        TrainingSettings(architecture="painn", parallel_members=9).validate()
    with pytest.raises(InputError, match="resume"):
        train_ensemble(frames, s, resume=True, checkpoint_dir=tmp_path, progress=False)


@pytest.mark.parametrize("width, continuous", [(0.5, True), (0.0, False)])
def test_energy_is_continuous_where_a_pair_crosses_the_cutoff(width, continuous):
    """With the switch, E(r) of a pair is smooth through r_c (value and slope); without it the
    filter bias switches a message on at r_c and the energy jumps — the defect of the first
    shipped PaiNN, which broke energy conservation in NVE."""
    from ase import Atoms

    torch.manual_seed(0)
    m = MessagePassingPotential(settings=MessagePassingSettings(cutoff_A=3.0, n_features=8, n_layers=2,
                                                                switch_width_A=width)).double().eval()
    with torch.no_grad():
        for layer in m.net["layers"]:
            layer.filter.bias.normal_(0.0, 0.5)
    m.field_range.copy_(torch.tensor([-0.1, 0.1], dtype=torch.float64))
    calc = MLPotential(PotentialEnsemble([m]), require_periodic_xy=False, check_distances=False)

    def energy_force(r):
        a = Atoms("HO", positions=[[0, 0, 0], [r, 0, 0]], cell=[20, 20, 20], pbc=False)
        a.calc = calc
        return a.get_potential_energy(), a.get_forces()[1, 0]

    (e_in, f_in), (e_out, f_out) = energy_force(3.0 - 1e-7), energy_force(3.0 + 1e-7)
    jump = abs(e_in - e_out)
    if continuous:
        assert jump < 1e-9 and abs(f_in - f_out) < 1e-6
        e_a, _ = energy_force(2.9)
        assert abs(e_a - e_out) > 1e-6  # the pair does interact inside the switch
    else:
        assert jump > 1e-4
