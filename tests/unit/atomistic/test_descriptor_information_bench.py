"""benchmarks/bench_descriptor_information.py on a few frames: every corrector starts at the model's own
error (the residual and the zero last layer are right), a short fit lowers it, and each variant's
descriptor has the size its settings say."""
import numpy as np
import pytest

from multiscale.atomistic import load_potential
from multiscale.atomistic.validation import force_errors_by_element, pooled_force_rmse, training_frames
from multiscale.commands.bench import load_benchmark

bdi = load_benchmark("descriptor_information")

MODEL = "mlp_li_ec_graphene_vff"


@pytest.fixture(scope="module")
def runs():
    # a step limit, not the time: the same fit on a loaded machine
    item = dict(model=MODEL, n_frames=12, hidden=(32, 32), minutes=10.0, max_steps=80, learning_rate=3e-3,
                record_steps=20, heldout_stride=400, seed=0)
    out = {v: bdi.run_one(dict(item, variant=v)) for v in ("model", "angular_fine", "messages", "painn_small",
                                                 "charge_oracle")}
    # the twin's first steps are noisy (random directions in every layer): its start is what is checked
    out["painn_small_twin"] = bdi.run_one(dict(item, variant="painn_small_twin", max_steps=20))
    return out


def test_every_corrector_starts_at_the_models_own_error(runs):
    calc = load_potential(MODEL)
    own = pooled_force_rmse(force_errors_by_element(calc.ensemble, training_frames(calc, max_frames=12), by="role"))
    for r in runs.values():
        # float16 Jacobian factors and float32 networks in training
        assert r["train_start_molecular_meV_per_A"] == pytest.approx(own, rel=0.01)
    for v in ("angular_fine", "messages", "painn_small", "painn_small_twin", "charge_oracle"):
        assert runs[v]["heldout_start_molecular_meV_per_A"] == pytest.approx(
            runs["model"]["heldout_start_molecular_meV_per_A"], rel=1e-6)


def test_a_short_fit_lowers_the_error_on_the_fitted_frames(runs):
    assert runs.pop("painn_small_twin")["steps"] == 20
    for v, r in runs.items():
        assert r["steps"] == 80 and len(r["trajectory"]) == 5
        # PaiNN's zero readout leaves only its last layer a gradient at first: it starts slower
        assert r["train_end_molecular_meV_per_A"] < (0.99 if v.startswith("painn") else 0.97) * r[
            "train_start_molecular_meV_per_A"]


def test_variant_descriptors_have_the_size_their_settings_give(runs):
    n_el, n_pairs = 6, 21
    for r in (runs[v] for v in ("model", "angular_fine", "messages")):
        d = r["descriptor"]
        assert r["n_features"] == n_el * d["n_radial"] + n_pairs * 2 * len(d["zetas"]) * d["n_angular_radial"]
    assert runs["angular_fine"]["descriptor"]["zetas"] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert runs["angular_fine"]["descriptor"]["cutoff_A"] == runs["model"]["descriptor"]["cutoff_A"]
    assert runs["angular_fine"]["triplets_per_atom"] == pytest.approx(runs["model"]["triplets_per_atom"])
    assert runs["messages"]["n_inputs"] == runs["model"]["n_features"] + 4 * 16
    assert runs["charge_oracle"]["n_inputs"] == runs["model"]["n_features"] + len(bdi.ORACLE_INPUTS)
    assert runs["charge_oracle"]["oracle_inputs"] == list(bdi.ORACLE_INPUTS) and runs["model"]["oracle_inputs"] == []
    painn = runs["painn_small"]["message_passing"]
    assert (painn["n_features"], painn["n_layers"], painn["cutoff_A"]) == (32, 2, 4.5)
    assert 0 < runs["painn_small"]["pairs_per_atom"] < runs["model"]["triplets_per_atom"]


def test_residual_frames_add_back_to_the_reference():
    calc = load_potential(MODEL)
    frames = training_frames(calc, max_frames=3)
    res = bdi.residual_frames(calc.ensemble, frames)
    from multiscale.atomistic.validation import predict_frames

    for a, b, p in zip(frames, res, predict_frames(calc.ensemble, frames)):
        assert b.get_forces() + p["forces"] == pytest.approx(a.get_forces(), abs=1e-9)
        assert b.get_potential_energy() + p["energy"] == pytest.approx(a.get_potential_energy(), abs=1e-9)
        assert b.info["field_V_per_A"] == a.info["field_V_per_A"]


def test_oracle_inputs_are_the_reference_charges_by_atom_molecule_and_sheet():
    from multiscale.atomistic.system import electrode_atoms
    from multiscale.atomistic.validation import molecules

    calc = load_potential(MODEL)
    for frame in bdi.residual_frames(calc.ensemble, training_frames(calc, max_frames=3)):
        x = bdi.oracle_inputs(frame)
        q = frame.calc.results["charges"]
        assert x.shape == (len(frame), len(bdi.ORACLE_INPUTS))
        assert x[:, 0] == pytest.approx(q) and x[:, 1] == pytest.approx(q - frame.arrays["model_charges"])
        label = molecules(frame)
        # every atom carries its molecule's net charge; the molecules' charges add up to the cell's
        first = [int(next(i for i in range(len(frame)) if label[i] == m)) for m in np.unique(label)]
        assert x[first, 2].sum() == pytest.approx(q.sum(), abs=1e-9)
        for m in np.unique(label):
            assert np.ptp(x[label == m, 2]) == pytest.approx(0.0, abs=1e-12)
        li = np.flatnonzero(frame.numbers == 3)
        assert x[li, 2] == pytest.approx(q[li])  # Li⁺ is its own molecule
        assert x[:, 4] == pytest.approx(np.full(len(frame), q[electrode_atoms(frame)].sum()))


def test_the_oracle_corrector_reads_its_inputs_at_fixed_charge():
    """Its energy changes with the oracle inputs (they reach the networks), and its forces are
    −∂E/∂r at those inputs held fixed: a finite difference of the energy at fixed oracle inputs."""
    import torch

    import multiscale.atomistic.training as tr
    from multiscale.atomistic.model import FieldAwarePotential, NetworkSettings

    calc = load_potential(MODEL)
    frames = bdi.residual_frames(calc.ensemble, training_frames(calc, max_frames=2))
    member = calc.ensemble.members[0]
    torch.manual_seed(0)
    corrector = FieldAwarePotential(member.elements, member.descriptor.settings, NetworkSettings(hidden=(8,)))
    cb = tr._CachedBatch(frames, np.arange(2), corrector.descriptor, corrector.elements)
    cb.batch["oracle"] = torch.from_numpy(np.concatenate([bdi.oracle_inputs(a) for a in frames])).float()
    tr.fit_normalisation(corrector, [cb], frames)
    corrector = bdi._oracle_corrector(corrector, [cb], (8,)).double()
    assert corrector.feature_mean.shape[0] == corrector.descriptor.n_features + len(bdi.ORACLE_INPUTS)
    batch = {k: (v.double() if torch.is_tensor(v) and v.is_floating_point() else v) for k, v in cb.batch.items()}
    e0 = corrector(batch, forces=False)["energy"].detach()
    shifted = dict(batch, oracle=batch["oracle"] + 0.05)
    assert float((corrector(shifted, forces=False)["energy"].detach() - e0).abs().max()) > 1e-6

    from multiscale.atomistic.graph import build_graph, collate

    atoms = frames[0]
    oracle = torch.from_numpy(bdi.oracle_inputs(atoms))

    def energy_and_forces(a):
        g = collate([build_graph(a, corrector.elements, corrector.cutoff_A, corrector.angular_cutoff_A,
                                 field_V_per_A=float(a.info.get("field_V_per_A", 0.0)))])
        out = corrector(dict(g, oracle=oracle), forces=True)
        return float(out["energy"].detach()[0]), out["forces"].detach().numpy()

    _, f = energy_and_forces(atoms)
    i, h = int(np.flatnonzero(atoms.numbers == 8)[0]), 1e-4
    plus, minus = atoms.copy(), atoms.copy()
    plus.positions[i, 0] += h
    minus.positions[i, 0] -= h
    assert f[i, 0] == pytest.approx(-(energy_and_forces(plus)[0] - energy_and_forces(minus)[0]) / (2 * h), rel=1e-4,
                                    abs=1e-6)


def test_bad_arguments_name_themselves():
    for argv, word in ((["--variants", "soap"], "--variants"), (["--frames", "4"], "--frames"),
                       (["--hidden", "0,8"], "--hidden"), (["--minutes", "0"], "--minutes"),
                       (["--workers", "9"], "--workers")):
        with pytest.raises(SystemExit, match=word):
            bdi.main(argv)


def test_a_twin_starts_at_zero_with_a_gradient_in_every_layer():
    """A zeroed last layer leaves the layers below it without a gradient; the twin (network − its
    frozen copy) is zero too, yet every trainable layer gets one, and the copy none."""
    import torch

    from multiscale.atomistic import default_system
    from multiscale.atomistic.graph import build_graph, collate
    from multiscale.atomistic.message_passing import MessagePassingPotential, MessagePassingSettings

    torch.manual_seed(0)
    net = MessagePassingPotential(settings=MessagePassingSettings(n_features=16, n_layers=2, cutoff_A=4.5))
    atoms = default_system(0)
    batch = collate([build_graph(atoms, net.elements, 4.5, 0.0)])
    t = bdi.twin(net)
    out = t(batch, forces=True, create_graph=True)
    # float32 networks: the two passes differ by rounding (create_graph or not), ~1e-8 eV/Å
    assert float(out["energy"].detach().abs().max()) < 1e-6 and float(out["forces"].detach().abs().max()) < 1e-6
    target = torch.randn_like(out["forces"])
    ((out["forces"] - target) ** 2).sum().backward()
    grads = {n: p.grad for n, p in t.live.named_parameters() if p.requires_grad}
    first, last = grads["net.layers.0.phi.0.weight"], grads["net.readout.2.weight"]
    assert float(first.abs().max()) > 0 and float(last.abs().max()) > 0
    assert all(p.grad is None for p in t.frozen.parameters())
    assert [p for p in t.parameters() if p.requires_grad] == list(t.live.parameters())

    zeroed = MessagePassingPotential(settings=net.settings)
    with torch.no_grad():
        zeroed.net["readout"][-1].weight.zero_()
        zeroed.net["readout"][-1].bias.zero_()
    f = zeroed(collate([build_graph(atoms, net.elements, 4.5, 0.0)]), forces=True, create_graph=True)["forces"]
    ((f - target) ** 2).sum().backward()
    assert float(zeroed.net["layers"][0].phi[0].weight.grad.abs().max()) == 0.0
