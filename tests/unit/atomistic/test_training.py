"""Training: loss decreases, reproducible seeds, checkpoint round trip with weights_only, bad settings."""
import numpy as np
import pytest
import torch
from ase.calculators.singlepoint import SinglePointCalculator

from multiscale.atomistic import default_system
from multiscale.atomistic.model import NetworkSettings
from multiscale.atomistic.training import TrainingSettings, load_ensemble, save_ensemble, train_ensemble
from multiscale.errors import InputError


def _synthetic_frames(n=12):
    """Frames labelled by a smooth toy reference (harmonic tethers + field·charge term)."""
    base = default_system(0)
    frames = []
    rng = np.random.default_rng(0)
    q = base.get_initial_charges()
    for k in range(n):
        a = base.copy()
        d = rng.normal(0, 0.05, a.positions.shape)
        a.positions += d
        f_field = [-0.1, 0.0, 0.1][k % 3]
        e = 5.0 * np.sum(d**2) - f_field * np.sum(q * a.positions[:, 2])
        forces = -10.0 * d + f_field * q[:, None] * np.array([0, 0, 1.0])
        a.calc = SinglePointCalculator(a, energy=e, forces=forces, charges=q,
                                       dipole=np.array([0, 0, np.sum(q * a.positions[:, 2])]))
        a.info["field_V_per_A"] = f_field
        a.info["config_id"] = f"c{k}"
        frames.append(a)
    return frames


def test_train_save_load(tmp_path):
    frames = _synthetic_frames()
    s = TrainingSettings(n_members=4, epochs=4, batch_size=4, seed=0, network=NetworkSettings(hidden=(8,)))
    ens, hist = train_ensemble(frames, s, progress=False, checkpoint_dir=tmp_path / "ckpt")
    vl = np.array(hist["val_loss"])
    assert vl.shape == (len(hist["epoch"]), 4)
    assert vl[-1].mean() < vl[0].mean()  # learning happens
    assert hist["n_validation"] == 1 and len(hist["validation_config_ids"]) == 1
    assert (tmp_path / "ckpt" / "ensemble.pt").exists()
    save_ensemble(ens, tmp_path / "m", meta=dict(reference="toy"))
    back, info = load_ensemble(tmp_path / "m")
    assert info["meta"]["reference"] == "toy"
    for m0, m1 in zip(ens.members, back.members):
        for (k, v0), v1 in zip(m0.state_dict().items(), m1.state_dict().values()):
            torch.testing.assert_close(v0, v1)
    ens2, _ = train_ensemble(frames, s, progress=False)  # same seed → same parameters
    p0 = next(ens.members[1].parameters())
    p1 = next(ens2.members[1].parameters())
    torch.testing.assert_close(p0, p1)
    assert ens.members[0].field_range.tolist() == [-0.1, 0.1]


def test_bad_settings():
    with pytest.raises(InputError, match="n_members"):
        TrainingSettings(n_members=2).validate()
    with pytest.raises(InputError, match="too few"):
        train_ensemble(_synthetic_frames(3), TrainingSettings(), progress=False)


def test_resume_continues_from_checkpoint(tmp_path):
    """A resumed run starts at the checkpoint's next epoch with its parameters and history."""
    frames = _synthetic_frames()
    s = TrainingSettings(n_members=4, epochs=3, batch_size=4, seed=0, network=NetworkSettings(hidden=(8,)))
    ens, hist = train_ensemble(frames, s, progress=False)
    save_ensemble(ens, tmp_path, meta=dict(history=hist, epoch=hist["epoch"][-1]))
    s_more = TrainingSettings(n_members=4, epochs=5, batch_size=4, seed=0, network=NetworkSettings(hidden=(8,)),
                              learning_rate=0.0)   # lr 0: the resumed members must equal the checkpoint
    ens2, hist2 = train_ensemble(frames, s_more, progress=False, checkpoint_dir=tmp_path, resume=True)
    assert hist2["epoch"] == [0, 1, 2, 3, 4] and hist2["resumed_from_epoch"] == 3
    for m0, m1 in zip(ens.members, ens2.members):
        for v0, v1 in zip(m0.parameters(), m1.parameters()):
            torch.testing.assert_close(v0, v1, rtol=1e-6, atol=1e-7)   # float32 round trip while training
    with pytest.raises(InputError, match="nothing to resume"):
        train_ensemble(frames, s, progress=False, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(InputError, match="another architecture"):
        train_ensemble(frames, TrainingSettings(n_members=4, epochs=9, network=NetworkSettings(hidden=(4,))),
                       progress=False, checkpoint_dir=tmp_path, resume=True)


def test_trajectory_split_holds_out_whole_trajectories():
    frames = _synthetic_frames(12)
    for k, a in enumerate(frames):
        a.info["task"] = f"traj{k % 4}"
    s = TrainingSettings(n_members=4, epochs=2, batch_size=4, seed=0, network=NetworkSettings(hidden=(8,)),
                         validation_fraction=0.25, validation_split="trajectory")
    _, hist = train_ensemble(frames, s, progress=False)
    val = set(hist["validation_config_ids"])
    val_tasks = {a.info["task"] for a in frames if a.info["config_id"] in val}
    assert len(val_tasks) == 1 and hist["n_validation"] == 3
    with pytest.raises(InputError, match="validation_split"):
        TrainingSettings(validation_split="by-moon").validate()
    for a in frames:
        a.info.pop("task")
    with pytest.raises(InputError, match="info\\['task'\\]"):
        train_ensemble(frames, s, progress=False)


def test_electrode_force_weight_scales_only_the_sheet_term():
    """With weight 0 the electrode's force labels do not enter the loss; the electrolyte's do."""
    from multiscale.atomistic.model import FieldAwarePotential
    from multiscale.atomistic.system import electrode_atoms
    from multiscale.atomistic.training import _CachedBatch, _member_loss

    frames = _synthetic_frames(2)
    sheet = electrode_atoms(frames[0])
    model = FieldAwarePotential(network=NetworkSettings(hidden=(8,))).float()  # as in training
    s = TrainingSettings(weight_force_electrode=0.0)

    def loss(fr):
        cb = _CachedBatch(fr, np.arange(len(fr)), model.descriptor, model.elements, electrode_weight=0.0)
        assert cb.force_weight.sum() == len(fr) * (len(fr[0]) - sheet.sum())
        return _member_loss(model, cb, s, torch.ones(len(fr)), train=False)[0].item()

    base = loss(frames)
    for mask, changes in ((sheet, False), (~sheet, True)):
        moved = [a.copy() for a in frames]
        for a, b in zip(frames, moved):
            f = a.get_forces().copy()
            f[mask] += 1.0
            b.calc = SinglePointCalculator(b, energy=a.get_potential_energy(), forces=f, **{
                k: a.calc.results[k] for k in ("charges", "dipole")})
        assert (abs(loss(moved) - base) > 1e-3) is changes
    with pytest.raises(InputError, match="weight_force_electrode"):
        TrainingSettings(weight_force_electrode=2.0).validate()


def test_feature_std_floor_raises_tiny_stds_to_a_fraction_of_the_median():
    from multiscale.atomistic.model import FieldAwarePotential
    from multiscale.atomistic.training import _CachedBatch, fit_normalisation

    frames = _synthetic_frames(4)
    model = FieldAwarePotential(network=NetworkSettings(hidden=(8,)))
    cb = [_CachedBatch(frames, np.arange(4), model.descriptor, model.elements)]
    fit_normalisation(model, cb, frames)
    raw = model.feature_std.clone()
    assert raw.min() == pytest.approx(1e-3)  # absolute floor only: features that never vary
    fit_normalisation(model, cb, frames, std_floor=0.5)
    median = float(torch.cat([c.g.double() for c in cb]).std(0).median())
    assert float(model.feature_std.min()) == pytest.approx(0.5 * median)
    big = raw > 0.5 * median
    torch.testing.assert_close(model.feature_std[big], raw[big])
    with pytest.raises(InputError, match="feature_std_floor"):
        TrainingSettings(feature_std_floor=-1.0).validate()


def _saved_start(tmp_path):
    """Synthetic frames and a small ensemble trained on them, saved to ``tmp_path / "start"`` for --init-from."""
    frames = _synthetic_frames()
    s = TrainingSettings(n_members=4, epochs=3, batch_size=4, seed=0, network=NetworkSettings(hidden=(8,)))
    ens, hist = train_ensemble(frames, s, progress=False)
    save_ensemble(ens, tmp_path / "start", meta=dict(history=hist))
    return frames, ens


def test_init_from_keeps_weights_and_normalisation(tmp_path):
    """Continued training starts from the earlier members, normalisation buffers included, even when
    the new data would standardise differently; another architecture is refused."""
    frames, ens = _saved_start(tmp_path)
    shifted = _synthetic_frames(20)  # more data: other feature statistics
    cont = TrainingSettings(n_members=4, epochs=2, batch_size=4, seed=1, network=NetworkSettings(hidden=(8,)),
                            learning_rate=0.0, init_from=str(tmp_path / "start"))
    ens2, hist2 = train_ensemble(shifted, cont, progress=False)
    assert hist2["epoch"] == [0, 1]
    for m0, m1 in zip(ens.members, ens2.members):
        last = {f"nets.{k}.{len(m0.nets[k]) - 1}.bias" for k in range(len(m0.nets))}
        for (name, v0), v1 in zip(m0.state_dict().items(), m1.state_dict().values()):
            if name in last:  # the atomic reference energies are refitted first: energy channel only
                torch.testing.assert_close(v0[1:], v1[1:], rtol=1e-6, atol=1e-7, msg=name)
            else:
                torch.testing.assert_close(v0, v1, rtol=1e-6, atol=1e-7, msg=name)
    with pytest.raises(InputError, match="another architecture"):
        train_ensemble(frames, TrainingSettings(n_members=4, epochs=2, network=NetworkSettings(hidden=(4,)),
                                                init_from=str(tmp_path / "start")), progress=False)


def test_continued_training_never_returns_members_worse_than_its_start(tmp_path):
    """A continued run's first validation loss is that of the members it was given; a run that only
    makes them worse (an absurd learning rate) hands the start back unchanged."""
    frames, ens = _saved_start(tmp_path)
    wild = TrainingSettings(n_members=4, epochs=2, batch_size=4, seed=0, network=NetworkSettings(hidden=(8,)),
                            learning_rate=5.0, init_from=str(tmp_path / "start"))
    ens2, hist2 = train_ensemble(frames, wild, progress=False)
    start = np.array(hist2["initial_val_loss"])
    assert np.all(np.array(hist2["val_loss"]) > start)  # every epoch made every member worse ...
    np.testing.assert_allclose(hist2["best_validation_loss"], start)  # ... so the start is returned
    for m0, m1 in zip(ens.members, ens2.members):
        w0, w1 = m0.state_dict(), m1.state_dict()
        name = "nets.0.0.weight"
        torch.testing.assert_close(w0[name], w1[name], rtol=1e-6, atol=1e-7)


def test_ctrl_c_ends_training_with_the_best_members_so_far(tmp_path, monkeypatch):
    """A KeyboardInterrupt in the third epoch ends the run like a time limit: the members of the best
    completed epoch come back and the history says where it stopped."""
    import multiscale.atomistic.training as tr

    frames = _synthetic_frames()
    s = TrainingSettings(n_members=4, epochs=10, batch_size=4, seed=0, network=NetworkSettings(hidden=(8,)))
    n_batches = -(-int(round(len(frames) * (1 - s.validation_fraction))) // s.batch_size)
    calls = {"n": 0}
    real = tr._member_loss

    def interrupting(model, cb, settings, weights, train):
        if train:
            calls["n"] += 1
            if calls["n"] > 2 * n_batches * s.n_members + 1:  # two whole epochs, then one step into the third
                raise KeyboardInterrupt
        return real(model, cb, settings, weights, train)

    monkeypatch.setattr(tr, "_member_loss", interrupting)
    ens, hist = train_ensemble(frames, s, progress=False)
    assert hist["interrupted_at_epoch"] == 2 and hist["epoch"] == [0, 1]
    np.testing.assert_allclose(hist["best_validation_loss"], np.min(hist["val_loss"], axis=0))


def test_atomic_reference_energies_least_squares():
    """Known per-element energies are recovered where the compositions determine them; one
    composition moves all elements alike; LiBF4-like locked ratios are split evenly (minimum norm)."""
    from multiscale.atomistic.training import atomic_reference_energies

    eps = np.array([-10.0, -3.0, -20.0])
    counts = np.array([[2, 1, 0], [1, 2, 1], [0, 1, 3], [4, 0, 1]], dtype=float)
    np.testing.assert_allclose(atomic_reference_energies(counts, counts @ eps, -5.0), eps, atol=1e-10)
    one = np.array([[2.0, 1.0, 0.0]] * 3)
    got = atomic_reference_energies(one, one @ eps + 0.3, -5.0)
    np.testing.assert_allclose(one @ got, one @ eps + 0.3)            # totals reproduced
    locked = np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 1.0]])            # elements 0 and 1 always 1:1
    got = atomic_reference_energies(locked, locked @ eps, 0.0)
    np.testing.assert_allclose(locked @ got, locked @ eps, atol=1e-10)
    assert got[0] == pytest.approx(got[1]) and got[2] == pytest.approx(eps[2])


def test_init_from_refits_energy_offsets_of_a_new_composition(tmp_path):
    """A model trained on one formula is off by a constant per atom on another; continued training
    first removes the per-element offsets (lr 0: nothing else changes), so the new formula's
    energies come right while the forces stay the same."""
    from multiscale.atomistic.system import build_interface

    frames = _synthetic_frames()
    s = TrainingSettings(n_members=4, epochs=2, batch_size=4, seed=0, network=NetworkSettings(hidden=(8,)))
    ens, hist = train_ensemble(frames, s, progress=False)
    save_ensemble(ens, tmp_path / "start", meta=dict(history=hist))
    other = []
    rng = np.random.default_rng(1)
    for k in range(12):  # another formula (4 EC instead of 3): energies shifted by 7 eV per EC carbon
        a = build_interface(3, 2, n_ec=4, n_salt=1, seed=k % 2)
        d = rng.normal(0, 0.05, a.positions.shape)
        a.positions += d
        n_c = int((a.numbers == 6).sum())
        a.calc = SinglePointCalculator(a, energy=5.0 * np.sum(d**2) + 7.0 * n_c, forces=-10.0 * d,
                                       charges=a.get_initial_charges(), dipole=np.zeros(3))
        a.info.update(field_V_per_A=0.0, config_id=f"o{k}")
        other.append(a)
    cont = TrainingSettings(n_members=4, epochs=1, batch_size=4, seed=0, network=NetworkSettings(hidden=(8,)),
                            learning_rate=0.0, init_from=str(tmp_path / "start"))
    ens2, _ = train_ensemble(frames + other, cont, progress=False)
    from multiscale.atomistic.calculator import ensemble_to_calculator

    def energy_error(e, atoms_list):
        calc = ensemble_to_calculator(e, precision="float64")
        errs = []
        for a in atoms_list:
            b = a.copy()
            b.calc = calc
            errs.append((b.get_potential_energy() - a.get_potential_energy()) / len(a))
        return np.sqrt(np.mean(np.square(errs)))

    assert energy_error(ens, other) > 1.0                     # eV/atom off on the new formula
    assert energy_error(ens2, other) < 0.1 * energy_error(ens, other)
    assert energy_error(ens2, frames) < energy_error(ens, other)


def test_dipole_loss_only_where_the_dipole_is_defined():
    """A slab with vacuum along z has a z dipole; a bulk cube does not (it depends on the wrapping)."""
    from multiscale.atomistic.system import build_bulk_electrolyte
    from multiscale.atomistic.training import _targets, dipole_defined

    slab, bulk = default_system(0), build_bulk_electrolyte(5, 1, seed=0)
    assert dipole_defined(slab) and not dipole_defined(bulk)
    for a in (slab, bulk):
        a.calc = SinglePointCalculator(a, energy=0.0, forces=np.zeros((len(a), 3)), charges=np.zeros(len(a)),
                                       dipole=np.array([0.0, 0.0, 3.0]))
    assert _targets([slab, bulk])["dipole_weight"].tolist() == [1.0, 0.0]


def test_continued_training_keeps_the_parents_validation_trajectories(tmp_path):
    """--init-from with the trajectory split: the parent's validation trajectories stay the
    validation set; new trajectories (and the ones the parent trained on) all go to training."""
    import json

    from ase import Atoms

    from multiscale.atomistic.training import _split

    frames = []
    for t in range(12):
        for k in range(3):
            a = Atoms("H")
            a.info.update(task=f"t{t}", config_id=f"c{t}-{k}")
            frames.append(a)
    (tmp_path / "ensemble.json").write_text(json.dumps(
        {"meta": {"history": {"validation_config_ids": ["c3-0", "c3-1", "c3-2", "c7-0"]}}}))
    s = TrainingSettings(validation_split="trajectory", init_from=str(tmp_path))
    val, train = _split(frames, s, np.random.default_rng(0))
    assert sorted({frames[k].info["task"] for k in val}) == ["t3", "t7"]
    assert len(val) == 6 and len(train) == 30 and not set(val) & set(train)
    fresh = TrainingSettings(validation_split="trajectory")  # no parent: a random draw of whole trajectories
    val, train = _split(frames, fresh, np.random.default_rng(0))
    tasks_val = {frames[k].info["task"] for k in val}
    assert len(tasks_val) == 1 and not tasks_val & {frames[k].info["task"] for k in train}


def test_baseline_is_subtracted_in_training_and_travels_with_the_checkpoint(tmp_path):
    from multiscale.atomistic.pi_electrons import PiBandSettings, pi_band_energy_forces
    from multiscale.atomistic.validation import predict_frames

    frames = _synthetic_frames(10)
    s = TrainingSettings(n_members=4, epochs=2, batch_size=4, seed=0, network=NetworkSettings(hidden=(8,)),
                         baseline=PiBandSettings().to_dict())
    ens, _ = train_ensemble(frames, s, progress=False, checkpoint_dir=tmp_path / "ckpt")
    assert ens.baseline == PiBandSettings()
    save_ensemble(ens, tmp_path / "m")
    back, info = load_ensemble(tmp_path / "m")
    assert info["baseline"]["kind"] == "graphene_pi_gamma" and back.baseline == PiBandSettings()
    # predictions = members + baseline; without the baseline they are the members alone
    p_with = predict_frames(back, frames[:1])[0]
    back.baseline = None
    p_without = predict_frames(back, frames[:1])[0]
    e_b, f_b, _ = pi_band_energy_forces(frames[0])
    assert p_with["energy"] - p_without["energy"] == pytest.approx(e_b, abs=1e-6)
    np.testing.assert_allclose(p_with["forces"] - p_without["forces"], f_b, atol=1e-6)
    # the labelled frames themselves are not modified
    assert frames[0].get_potential_energy() == _synthetic_frames(10)[0].get_potential_energy()
    with pytest.raises(InputError, match="kind"):
        TrainingSettings(baseline={"kind": "eam"}).validate()


def test_refit_of_atomic_energies_is_exact_when_the_sheet_energy_is_the_baselines():
    """Sheet carbons whose energy is the baseline's keep their element's constant, so a per-element
    shift of the targets (sheet carbons counted as carbon) is removed exactly by the refit."""
    from multiscale.atomistic.ensemble import PotentialEnsemble
    from multiscale.atomistic.model import FieldAwarePotential
    from multiscale.atomistic.system import build_bulk_electrolyte
    from multiscale.atomistic.training import _CachedBatch, _refit_atomic_energies
    from multiscale.atomistic.validation import predict_frames

    torch.manual_seed(0)
    m = FieldAwarePotential(network=NetworkSettings(hidden=(8,), sheet_energy_from_baseline=True))
    ens = PotentialEnsemble([m])
    frames = _synthetic_frames(4) + [build_bulk_electrolyte(n, k, seed=0) for n, k in ((5, 1), (8, 1), (6, 2))]
    shift = {1: 0.3, 3: -1.0, 5: 0.7, 6: -2.0, 8: 1.1, 9: 0.4}
    for a in frames:
        a.info["field_V_per_A"] = 0.0
    pred = predict_frames(ens, frames)
    for a, p in zip(frames, pred):
        e = p["energy"] + sum(shift[int(z)] for z in a.numbers)
        a.calc = SinglePointCalculator(a, energy=e, forces=p["forces"], charges=np.zeros(len(a)), dipole=np.zeros(3))
    batches = [_CachedBatch(frames, np.arange(len(frames)), m.descriptor, m.elements)]
    _refit_atomic_energies(m, batches, frames)
    after = predict_frames(ens, frames)
    err = [(p["energy"] - a.get_potential_energy()) / len(a) for a, p in zip(frames, after)]
    np.testing.assert_allclose(err, 0.0, atol=1e-6)


def test_float16_cache_halves_the_jacobian_factors_and_keeps_the_forces():
    """cache_dtype='float16' stores the descriptor-Jacobian factors (most of the cache) in half the
    bytes; forces contracted through them move by rounding only (~1e-4 relative), and training runs."""
    from multiscale.atomistic.model import BULK_JACOBIAN_FACTORS, DescriptorSettings, FieldAwarePotential
    from multiscale.atomistic.training import _CachedBatch

    frames = _synthetic_frames(3)
    desc = DescriptorSettings(cutoff_A=6.5, n_angular_radial=5, zetas=(1.0, 4.0), n_radial=32, radial_width_A=0.2,
                              angular_cutoff_A=3.5, angular_width_A=0.3)  # the shipped vff model's
    model = FieldAwarePotential(descriptor=desc, network=NetworkSettings(hidden=(16,))).float()
    cached = {dt: _CachedBatch(frames, np.arange(3), model.descriptor, model.elements, factor_dtype=dt)
              for dt in (torch.float32, torch.float16)}
    factors = [cached[torch.float32].jac[k] for k in BULK_JACOBIAN_FACTORS]
    assert all(cached[torch.float16].jac[k].dtype == torch.float16 for k in BULK_JACOBIAN_FACTORS)
    assert all(f.dtype == torch.float32 for f in factors)
    saved = cached[torch.float32].nbytes() - cached[torch.float16].nbytes()
    assert saved == sum(f.nelement() * 2 for f in factors)
    assert cached[torch.float16].nbytes() < 0.75 * cached[torch.float32].nbytes()  # they are most of it
    f = {dt: model(cb.batch, features=cb.features(), forces=True)["forces"].detach() for dt, cb in cached.items()}
    assert f[torch.float16].dtype == torch.float32
    rel = float((f[torch.float16] - f[torch.float32]).norm() / f[torch.float32].norm())
    assert 0.0 < rel < 2e-3, rel  # rounded, not dropped
    s = TrainingSettings(n_members=4, epochs=3, batch_size=4, seed=0, network=NetworkSettings(hidden=(8,)),
                         cache_dtype="float16")
    _, hist = train_ensemble(_synthetic_frames(), s, progress=False)
    vl = np.array(hist["val_loss"])
    assert np.all(np.isfinite(vl)) and vl[-1].mean() < vl[0].mean()
    with pytest.raises(InputError, match="cache_dtype"):
        TrainingSettings(cache_dtype="bfloat16").validate()


def test_init_from_with_wider_networks_continues_the_parents_function(tmp_path):
    """Continued training with wider hidden layers than the parent's widens its members
    (model.widen_networks): the same forces at the start, the wider shapes in the result."""
    from multiscale.atomistic.calculator import ensemble_to_calculator

    frames, ens = _saved_start(tmp_path)
    wide = TrainingSettings(n_members=4, epochs=1, batch_size=4, seed=1, network=NetworkSettings(hidden=(12,)),
                            learning_rate=0.0, init_from=str(tmp_path / "start"))
    ens2, _ = train_ensemble(frames, wide, progress=False)
    assert [tuple(m.nets[0][0].weight.shape)[0] for m in ens2.members] == [12] * 4
    assert ens2.members[0].config()["network"]["hidden"] == [12]
    a = frames[0].copy()
    forces = []
    for e in (ens, ens2):
        a.calc = ensemble_to_calculator(e, field_V_per_A=0.1, precision="float64")
        forces.append(a.get_forces().copy())
    np.testing.assert_allclose(forces[1], forces[0], atol=1e-9)


def test_init_from_with_messages_continues_the_parents_function(tmp_path):
    """Continued training with messages the parent lacked adds them (model.add_messages): the same
    forces at the start, the messages in the result and in its saved config."""
    from multiscale.atomistic.calculator import ensemble_to_calculator
    from multiscale.atomistic.model import MessageSettings

    frames, ens = _saved_start(tmp_path)
    messages = MessageSettings(n_channels=3, n_radial=2, cutoff_A=3.5)
    more = TrainingSettings(n_members=4, epochs=1, batch_size=4, seed=1, learning_rate=0.0,
                            network=NetworkSettings(hidden=(8,), messages=messages), init_from=str(tmp_path / "start"))
    ens2, _ = train_ensemble(frames, more, progress=False)
    assert all(m.messages is not None for m in ens2.members)
    save_ensemble(ens2, tmp_path / "more")
    reloaded, _ = load_ensemble(tmp_path / "more")
    assert reloaded.members[0].config()["network"]["messages"] == messages.to_dict()
    a = frames[0].copy()
    forces = []
    for e in (ens, ens2, reloaded):
        a.calc = ensemble_to_calculator(e, field_V_per_A=0.1, precision="float64")
        forces.append(a.get_forces().copy())
    np.testing.assert_allclose(forces[1], forces[0], atol=1e-9)
    np.testing.assert_allclose(forces[2], forces[1], atol=1e-12)
    with pytest.raises(InputError, match="messages"):
        TrainingSettings(architecture="painn", network=NetworkSettings(messages=messages)).validate()


def test_weight_average_is_the_mean_of_the_epochs_and_kept_only_where_it_validates_better(monkeypatch, tmp_path):
    """Stochastic weight averaging from epoch 1 of 4: each member's average is the arithmetic mean of its
    weights after epochs 1, 2 and 3; a member comes back as its average exactly when the average's
    validation loss beats its best epoch, and the history records both. Every average is saved beside
    the run's output, kept or not."""
    import multiscale.atomistic.training as tr

    frames = _synthetic_frames()
    s = TrainingSettings(n_members=4, epochs=4, batch_size=4, seed=0, network=NetworkSettings(hidden=(8,)),
                         average_from_epoch=1)
    snapshots = []  # each member's parameters whenever the validation loss is taken (after each epoch)
    real = tr._validation_losses

    def recording(members, *args):
        snapshots.append([{n: p.detach().double().clone() for n, p in m.named_parameters()} for m in members])
        return real(members, *args)

    monkeypatch.setattr(tr, "_validation_losses", recording)
    ens, hist = train_ensemble(frames, s, progress=False, checkpoint_dir=tmp_path / "run")
    wa = hist["weight_average"]
    averages, info = load_ensemble(tmp_path / "run" / "weight_average")
    assert wa["folder"] == str(tmp_path / "run" / "weight_average")
    assert info["meta"]["weight_average"]["kept"] == wa["kept"]
    assert wa["n_epochs"] == [3] * 4 and wa["from_epoch"] == 1
    assert len(snapshots) == 5  # four epochs, then the averages
    val = np.array(hist["val_loss"])
    for k, m in enumerate(ens.members):
        mean = {n: sum(snap[k][n] for snap in snapshots[1:4]) / 3 for n in snapshots[0][k]}
        for n, p in m.named_parameters():  # what the averages were validated with
            torch.testing.assert_close(snapshots[4][k][n], mean[n], rtol=1e-6, atol=1e-7)
        assert wa["kept"][k] == (wa["val_loss"][k] < val[:, k].min())
        for n, p in averages.members[k].named_parameters():
            torch.testing.assert_close(p.detach(), mean[n], rtol=1e-5, atol=1e-6)
        expected = mean if wa["kept"][k] else snapshots[int(np.argmin(val[:, k]))][k]
        for n, p in m.named_parameters():
            torch.testing.assert_close(p.detach(), expected[n], rtol=1e-5, atol=1e-6)
        assert hist["best_validation_loss"][k] == pytest.approx(min(wa["val_loss"][k], val[:, k].min()))


def test_weight_average_that_validates_worse_leaves_the_start_of_a_continued_run(tmp_path):
    """The averages of a run that only makes its members worse are worse than the start too: not kept."""
    frames, ens = _saved_start(tmp_path)
    wild = TrainingSettings(n_members=4, epochs=3, batch_size=4, seed=0, network=NetworkSettings(hidden=(8,)),
                            learning_rate=5.0, init_from=str(tmp_path / "start"), average_from_epoch=0)
    ens2, hist2 = train_ensemble(frames, wild, progress=False)
    assert hist2["weight_average"]["kept"] == [False] * 4
    np.testing.assert_allclose(hist2["best_validation_loss"], hist2["initial_val_loss"])


def test_bad_weight_average_epoch():
    with pytest.raises(InputError, match=r"average_from_epoch = 5 must be in \[0, epochs = 5\)"):
        TrainingSettings(epochs=5, average_from_epoch=5).validate()
    with pytest.raises(InputError, match="average_from_epoch is implemented for the behler-parrinello"):
        TrainingSettings(architecture="painn", average_from_epoch=0).validate()
