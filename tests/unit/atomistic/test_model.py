"""Physics of the field-aware model: invariances, forces = −∇E, Stark form, neutrality."""
import numpy as np
import pytest
import torch

from multiscale.atomistic import default_system
from multiscale.atomistic.calculator import MLPotential
from multiscale.atomistic.ensemble import PotentialEnsemble
from multiscale.atomistic.graph import build_graph, collate
from multiscale.atomistic.model import DescriptorSettings, FieldAwarePotential, NetworkSettings
from multiscale.errors import InputError
from tests.unit.atomistic.ase_helpers import evaluate, solvated_cluster


@pytest.fixture(scope="module")
def ensemble():
    torch.manual_seed(1)
    members = [FieldAwarePotential(network=NetworkSettings(hidden=(16, 16))) for _ in range(4)]
    for m in members:
        m.field_range.copy_(torch.tensor([-0.2, 0.2], dtype=torch.float64))
        m.min_distance.fill_(0.5)
        # a non-trivial charge/response scale so that field terms matter
        for net in m.nets:
            net[-1].bias.data.normal_(0, 0.5)
    return PotentialEnsemble(members)


@pytest.fixture(scope="module")
def message_ensemble(ensemble):
    """The ensemble with learned messages added, their input weights made non-zero (so that they matter)."""
    from multiscale.atomistic.model import MessageSettings, add_messages

    members = [add_messages(m, MessageSettings(n_channels=4, n_radial=3, cutoff_A=4.0), seed=k)
               for k, m in enumerate(ensemble.members)]
    torch.manual_seed(2)
    with torch.no_grad():
        for m in members:
            for net in m.nets:
                net[0].weight[:, m.descriptor.n_features:].normal_(0.0, 0.3)
    return PotentialEnsemble(members)


def _calc(ensemble, field=0.0, **kw):
    return MLPotential(ensemble, field_V_per_A=field, require_periodic_xy=kw.pop("require_periodic_xy", True), **kw)


@pytest.mark.parametrize("kind", ["ensemble", "message_ensemble"])
def test_rotation_translation_permutation(kind, request):
    calc = _calc(request.getfixturevalue(kind), require_periodic_xy=False)
    c = solvated_cluster()
    e0, f0, q0 = evaluate(calc, c)
    rot = c.copy()
    rot.rotate(37.0, (1, 2, 3), center="COP")
    e1, f1, q1 = evaluate(calc, rot)
    R = rot.positions - rot.positions.mean(0)
    assert e1 == pytest.approx(e0, abs=1e-9)
    # forces rotate with the molecule: compare via the rotation matrix from a least-squares fit
    P = c.positions - c.positions.mean(0)
    M, *_ = np.linalg.lstsq(P, R, rcond=None)
    np.testing.assert_allclose(f0 @ M, f1, atol=1e-7)
    np.testing.assert_allclose(q0, q1, atol=1e-10)
    tr = c.copy()
    tr.translate([0.7, -1.1, 0.4])
    e2, f2, _ = evaluate(calc, tr)
    assert e2 == pytest.approx(e0, abs=1e-9)
    np.testing.assert_allclose(f2, f0, atol=1e-9)
    perm = np.random.default_rng(0).permutation(len(c))
    e3, f3, q3 = evaluate(calc, c[perm])
    assert e3 == pytest.approx(e0, abs=1e-9)
    np.testing.assert_allclose(f3, f0[perm], atol=1e-9)
    np.testing.assert_allclose(q3, q0[perm], atol=1e-10)


@pytest.mark.parametrize("kind", ["ensemble", "message_ensemble"])
def test_forces_are_minus_gradient_with_field(kind, request):
    calc = _calc(request.getfixturevalue(kind), field=0.1)
    a = default_system(2)
    a.rattle(0.03, seed=2)
    e, f, _ = evaluate(calc, a)
    h = 1e-5
    for k in (0, 30, 45, 59):
        for d in range(3):
            p, m = a.copy(), a.copy()
            p.positions[k, d] += h
            m.positions[k, d] -= h
            fd = -(evaluate(calc, p)[0] - evaluate(calc, m)[0]) / (2 * h)
            assert fd == pytest.approx(f[k, d], abs=1e-6)


def test_stark_form_and_dipole_sign(ensemble):
    """E(F) = E(0) − μF − ½αF² exactly, with μ(F) = −∂E/∂F; field along +z in V/Å."""
    a = default_system(5)
    calc = _calc(ensemble)
    fields = np.array([-0.1, -0.05, 0.0, 0.05, 0.1])
    e, mu = [], []
    for f in fields:
        calc.set(field_V_per_A=f)
        e.append(evaluate(calc, a)[0])
        mu.append(calc.results["dipole"][2])
    c2, c1, c0 = np.polyfit(fields, e, 2)
    assert np.allclose(np.polyval([c2, c1, c0], fields), e, atol=1e-9)  # exactly quadratic
    assert -c1 == pytest.approx(mu[2], abs=1e-8)  # linear coefficient is −μ(0)
    # −dE/dF = μ(F) at F = 0.05 by central differences
    calc.set(field_V_per_A=0.05 + 1e-4)
    ep = evaluate(calc, a)[0]
    calc.set(field_V_per_A=0.05 - 1e-4)
    em = evaluate(calc, a)[0]
    assert -(ep - em) / 2e-4 == pytest.approx(mu[3], abs=1e-6)


def test_charge_neutrality_any_field(ensemble):
    a = default_system(1)
    for f in (-0.15, 0.0, 0.12):
        q = evaluate(_calc(ensemble, field=f), a)[2]
        assert abs(q.sum()) < 1e-10
    ion = solvated_cluster()
    ion = ion[[k for k in range(len(ion)) if ion.numbers[k] != 3]]  # remove Li⁺: an anion-rich cluster
    ion.set_initial_charges([-1.0 / len(ion)] * len(ion))
    q = evaluate(_calc(ensemble, require_periodic_xy=False), ion)[2]
    assert q.sum() == pytest.approx(-1.0, abs=1e-10)


FINE_GRID = DescriptorSettings(cutoff_A=5.0, n_radial=24, radial_width_A=0.2, angular_cutoff_A=4.0,
                               n_angular_radial=5, angular_width_A=0.3)


@pytest.mark.parametrize("grid", ["default", "fine"])
def test_analytic_jacobian_matches_autograd(ensemble, grid):
    m = ensemble.members[0] if grid == "default" else FieldAwarePotential(descriptor=FINE_GRID)
    s = m.descriptor.settings
    a = default_system(0)
    a.rattle(0.05, seed=4)
    b = collate([build_graph(a, m.elements, s.cutoff_A, s.angular_cutoff_A)])
    G = m.descriptor(b["species"], b["vectors"], b["i"], b["j"], b["tri_i"], b["tri_j"], b["tri_k"], len(a))
    V = torch.randn(1, *G.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    (ref,) = torch.autograd.grad(G, b["positions"], grad_outputs=V[0])
    G2, jac = m.descriptor.features_and_jacobian(b["species"], b["vectors"].detach(), b["i"], b["j"], b["tri_i"],
                                                 b["tri_j"], b["tri_k"], len(a))
    torch.testing.assert_close(G2, G.detach())
    torch.testing.assert_close(m.descriptor.contract(V, jac)[0], ref)


def test_fine_grid_resolves_bond_lengths_the_default_blurs():
    """The fine radial grid tells a C–H bond of 1.09 Å from one of 1.14 Å far more sharply: the
    feature vectors of the two differ by more relative to their norm."""
    def h_features(settings, r_A):
        m = FieldAwarePotential(descriptor=settings)
        from ase import Atoms

        a = Atoms("CH", positions=[[0, 0, 0], [r_A, 0, 0]], cell=[20, 20, 20], pbc=True)
        b = collate([build_graph(a, m.elements, settings.cutoff_A, settings.angular_cutoff_A)])
        g = m.descriptor(b["species"], b["vectors"], b["i"], b["j"], b["tri_i"], b["tri_j"], b["tri_k"], 2)
        return g[1].detach().numpy()

    def contrast(settings):
        g1, g2 = h_features(settings, 1.09), h_features(settings, 1.14)
        return np.linalg.norm(g1 - g2) / np.linalg.norm(g1)

    assert contrast(FINE_GRID) > 2.0 * contrast(DescriptorSettings())


@pytest.mark.parametrize("bad, word", [(dict(radial_width_A=0.0), "radial_width_A"),
                                       (dict(angular_width_A=5.0), "angular_width_A"),
                                       (dict(angular_cutoff_A=7.0), "angular_cutoff_A"),
                                       (dict(n_radial=0), "n_radial"),
                                       (dict(zetas=(0.5,)), "zetas")])
def test_descriptor_settings_reject_bad_values(bad, word):
    with pytest.raises(InputError, match=word):
        DescriptorSettings(**bad).validate()


VFF_GRID = DescriptorSettings(cutoff_A=6.5, n_radial=32, radial_width_A=0.2, angular_cutoff_A=3.5,
                              n_angular_radial=5, zetas=(1.0, 4.0), angular_width_A=0.3)  # the shipped vff model's


def test_radial_window_drops_only_gaussians_below_its_tolerance():
    """float32 MD evaluates only the radial Gaussians nearest each pair distance; every one it
    skips has value and r-derivative below the tolerance, so features and forces move by less
    than float32 resolves."""
    from multiscale.atomistic.model import FLOAT32_RADIAL_TOLERANCE as tol

    m = FieldAwarePotential(descriptor=VFF_GRID)
    d = m.descriptor
    k = VFF_GRID.n_radial
    w = d.radial_window(tol)
    assert w == 16  # half the basis at this width and spacing
    assert d.radial_window(None) == k and d.radial_window(1e-300) == k
    for bad in (0.0, 1.0, -1e-3):
        with pytest.raises(InputError, match="radial tolerance"):
            d.radial_window(bad)

    a = default_system(0)
    a.rattle(0.05, seed=4)
    b = collate([build_graph(a, m.elements, VFF_GRID.cutoff_A, VFF_GRID.angular_cutoff_A)], requires_grad=False)
    args = (b["species"], b["vectors"], b["i"], b["j"], b["tri_i"], b["tri_j"], b["tri_k"], len(a))
    g_full, jac_full = d.features_and_jacobian(*args)
    g_win, jac_win = d.features_and_jacobian(*args, radial_tolerance=tol)
    assert jac_win["rad_dg"].shape == (len(b["i"]), w)

    # the skipped Gaussians, evaluated: all below the tolerance, value and derivative
    centres = jac_win["rad_flat"].view(-1, w) - (jac_win["rad_row"] * k)[:, None]  # basis index per pair
    kept = torch.zeros(len(b["i"]), k, dtype=torch.bool).scatter_(1, centres, True)
    assert int(kept.sum()) == len(b["i"]) * w and bool((centres.diff(dim=1) == 1).all())  # w distinct, adjacent
    x = torch.linalg.norm(b["vectors"], dim=1)[:, None] - d.radial_mu
    gauss = torch.exp(-d.radial_eta * x**2)
    assert float(gauss[~kept].max()) < tol
    assert float((2 * d.radial_eta * x.abs() * gauss)[~kept].max()) < tol

    # features: equal but for the dropped tails (some of which are not exactly zero)
    diff = (g_win - g_full).abs()
    per_atom = torch.bincount(b["i"], minlength=len(a)).max()
    assert 0.0 < float(diff.max()) < float(per_atom) * tol
    # forces through the contraction: the same to float32 resolution
    v = torch.randn(2, *g_full.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    f_full, f_win = d.contract(v, jac_full), d.contract(v, jac_win)
    assert float((f_win - f_full).abs().max()) < 1e-7 * float(f_full.abs().max())


def _assert_same_function(ensemble, other, atoms):
    """Equal energies, forces and charges of two ensembles at zero and non-zero field."""
    for field in (0.0, 0.1):
        e0, f0, q0 = evaluate(_calc(ensemble, field, require_periodic_xy=False), atoms)
        e1, f1, q1 = evaluate(_calc(other, field, require_periodic_xy=False), atoms)
        assert e1 == pytest.approx(e0, abs=1e-10)
        np.testing.assert_allclose(f1, f0, atol=1e-10)
        np.testing.assert_allclose(q1, q0, atol=1e-12)


def test_widened_networks_compute_the_same_function_and_then_train(ensemble):
    """widen_networks adds units with zero outgoing weights: the same energies, forces and charges at any
    field, wider layers, and a first training step that moves the added units (they are not dead)."""
    from multiscale.atomistic.model import widen_networks

    wide = PotentialEnsemble([widen_networks(m, (24, 20), seed=k) for k, m in enumerate(ensemble.members)])
    c = solvated_cluster()
    _assert_same_function(ensemble, wide, c)
    m = wide.members[0]
    assert [lin.weight.shape for lin in m.nets[0] if isinstance(lin, torch.nn.Linear)] == [
        (24, m.descriptor.n_features), (20, 24), (4, 20)]
    assert m.config()["network"]["hidden"] == [24, 20]
    assert torch.equal(m.feature_std, ensemble.members[0].feature_std)
    # one step on an energy loss: the added units' outgoing weights leave zero
    g = collate([build_graph(c, m.elements, m.cutoff_A, m.angular_cutoff_A, field_V_per_A=0.0, total_charge=0.0)])
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    out = m(g, forces=False)
    (out["energy"] ** 2).sum().backward()
    opt.step()
    species = int(g["species"][0])
    assert m.nets[species][-1].weight[:, 16:].abs().max() > 0


@pytest.mark.parametrize("hidden", [(8, 16), (32,), (16, 16, 16)])
def test_widen_networks_rejects_narrower_or_other_depths(ensemble, hidden):
    from multiscale.atomistic.model import widen_networks

    with pytest.raises(InputError, match="hidden"):
        widen_networks(ensemble.members[0], hidden)


def test_added_messages_compute_the_same_function_and_then_train(ensemble):
    """add_messages gives the first layers zero weights on the message inputs: the same energies,
    forces and charges at any field; the inputs grow by n_radial × n_channels; one training step
    moves those weights and the projection (the messages are not dead)."""
    from multiscale.atomistic.model import MessageSettings, add_messages

    settings = MessageSettings(n_channels=5, n_radial=2, cutoff_A=3.5)
    more = PotentialEnsemble([add_messages(m, settings, seed=k) for k, m in enumerate(ensemble.members)])
    c = solvated_cluster()
    _assert_same_function(ensemble, more, c)
    m = more.members[0]
    d = m.descriptor.n_features
    assert m.nets[0][0].weight.shape == (16, d + 10)
    assert m.config()["network"]["messages"] == settings.to_dict()
    g = collate([build_graph(c, m.elements, m.cutoff_A, m.angular_cutoff_A, field_V_per_A=0.0, total_charge=0.0)])
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    before = m.messages.projection.detach().clone()
    out = m(g, forces=True, create_graph=True)
    ((out["forces"] ** 2).sum() + (out["energy"] ** 2).sum()).backward()
    opt.step()
    opt.zero_grad()
    out = m(g, forces=True, create_graph=True)
    ((out["forces"] ** 2).sum() + (out["energy"] ** 2).sum()).backward()
    opt.step()
    species = int(g["species"][0])
    assert m.nets[species][0].weight[:, d:].abs().max() > 0
    assert not torch.equal(m.messages.projection, before)
    with pytest.raises(InputError, match="already has messages"):
        add_messages(m, settings)


def test_message_member_paths_agree(message_ensemble):
    """One message member: its own forward (the training path), the ensemble's (the calculator's), a
    member rebuilt from its config, and float32 all give the same energy and forces."""
    import copy

    from multiscale.atomistic.model import member_from_config

    m = message_ensemble.members[1]
    c = solvated_cluster()
    g = collate([build_graph(c, m.elements, m.cutoff_A, m.angular_cutoff_A, field_V_per_A=0.05, total_charge=0.0)],
                requires_grad=False)
    own = m(g)
    ens = PotentialEnsemble([m])(g)
    assert float(ens["energy"][0]) == pytest.approx(float(own["energy"].detach()[0]), abs=1e-10)
    np.testing.assert_allclose(ens["forces"].numpy(), own["forces"].detach().numpy(), atol=1e-10)
    rebuilt = member_from_config(m.config())
    rebuilt.load_state_dict(m.state_dict())
    again = rebuilt(g)
    np.testing.assert_allclose(again["forces"].detach().numpy(), own["forces"].detach().numpy(), atol=1e-12)
    single = PotentialEnsemble([copy.deepcopy(m)]).set_precision("float32")
    f32 = single(g)["forces"].numpy()
    f64 = own["forces"].detach().numpy()
    assert np.abs(f32 - f64).max() <= 1e-4 * np.abs(f64).max()


@pytest.mark.parametrize("bad, word", [(dict(n_channels=0), "n_channels"), (dict(n_radial=40), "n_radial"),
                                       (dict(cutoff_A=1.0), "cutoff_A"), (dict(width_A=0.0), "width_A")])
def test_message_settings_reject_bad_values(bad, word):
    from multiscale.atomistic.model import MessageSettings

    with pytest.raises(InputError, match=word):
        MessageSettings(**bad).validate()


def test_messages_reach_no_farther_than_the_descriptors_pairs():
    from multiscale.atomistic.model import MessageSettings

    with pytest.raises(InputError, match="messages.cutoff_A = 6.0 must be <= descriptor.cutoff_A = 5.0"):
        FieldAwarePotential(descriptor=DescriptorSettings(cutoff_A=5.0),
                            network=NetworkSettings(messages=MessageSettings(cutoff_A=6.0)))
