"""ASE calculator: results, bad input → OutOfDomainError, shipped ensemble loads and knows its domain."""
import numpy as np
import pytest
import torch

from multiscale.atomistic import MLPotential, default_system, load_potential
from multiscale.atomistic.ensemble import PotentialEnsemble
from multiscale.atomistic.model import FieldAwarePotential, NetworkSettings
from multiscale.errors import DataFileError, InputError, OutOfDomainError


@pytest.fixture(scope="module")
def calc():
    torch.manual_seed(0)
    members = [FieldAwarePotential(network=NetworkSettings(hidden=(8,))) for _ in range(4)]
    for m in members:
        m.field_range.copy_(torch.tensor([-0.1, 0.1], dtype=torch.float64))
        m.min_distance.fill_(0.7)
    return MLPotential(PotentialEnsemble(members))


def test_results_and_units(calc):
    a = default_system(0)
    a.calc = calc
    f = a.get_forces()
    assert f.shape == (60, 3) and np.isfinite(f).all()
    r = calc.results
    assert r["force_uncertainty"].shape == (60,) and (r["force_uncertainty"] >= 0).all()
    assert r["charges"].shape == (60,) and abs(r["charges"].sum()) < 1e-10
    assert r["dipole"].shape == (3,)
    assert calc.reference == "GFN1-xTB"
    # the members' energies: their mean is the energy, their spread the energy uncertainty
    assert r["energy_members"].shape == (4,)
    assert r["energy_members"].mean() == pytest.approx(r["energy"], abs=1e-9)
    assert r["energy_members"].std() == pytest.approx(r["energy_uncertainty"], rel=1e-9, abs=1e-12)


def test_bad_inputs(calc):
    a = default_system(0)
    bad = a.copy()
    bad.numbers[0] = 26  # Fe is not in the training set
    bad.calc = calc
    with pytest.raises(OutOfDomainError, match="Fe"):
        bad.get_potential_energy()
    close = a.copy()
    close.positions[1] = close.positions[0] + [0.3, 0, 0]
    close.calc = calc
    with pytest.raises(OutOfDomainError, match="closer than"):
        close.get_potential_energy()
    calc.set(field_V_per_A=0.5)
    a.calc = calc
    with pytest.raises(OutOfDomainError, match="field_V_per_A"):
        a.get_potential_energy()
    calc.set(field_V_per_A=0.0)
    mol = a.copy()
    mol.pbc = False
    mol.calc = calc
    with pytest.raises(OutOfDomainError, match="periodic"):
        mol.get_potential_energy()
    with pytest.raises(InputError, match="field_V_per_A"):
        calc.set(field_V_per_A=float("nan"))


def test_load_potential_errors():
    with pytest.raises(InputError, match="name"):
        load_potential("../etc")
    with pytest.raises(DataFileError):
        load_potential("no_such_model")


def test_shipped_ensemble_spread_grows_off_data():
    """σ_F on reference-like configurations is smaller than on strongly distorted ones."""
    calc = load_potential()
    assert calc.reference in ("GFN1-xTB", "GFN2-xTB")
    assert len(calc.ensemble.members) >= 4
    from multiscale.atomistic.labelling import load_dataset
    from multiscale.resources import data_path

    frames = load_dataset(data_path("xtb_li_ec_graphene", "labels.db"), split="heldout")[:3]
    near, far = [], []
    for a in frames:
        a = a.copy()
        calc.set(field_V_per_A=float(a.info["field_V_per_A"]))
        a.calc = calc
        a.get_forces()
        near.append(calc.results["force_uncertainty"].mean())
        b = a.copy()
        b.rattle(0.15, seed=1)
        b.positions[:, :2] *= 1.0  # keep the cell; distort bonds only
        b.calc = calc
        b.get_forces()
        far.append(calc.results["force_uncertainty"].mean())
    assert np.mean(far) > 1.5 * np.mean(near)


@pytest.mark.parametrize("field", [0.07, 0.0])
@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("name", ["mlp_li_ec_graphene", "mlp_li_ec_graphene_vff"])  # the latter masks the sheet
def test_stacked_members_equal_the_member_loop(precision, name, field, monkeypatch):
    """The one-pass ensemble (batched member networks, hand-written backward through them and the
    field terms) gives the same energies, forces, σ_F, charges and dipole as looping over the
    members with autograd: at a field where every output term contributes, and at zero field,
    where a masked sheet's atoms drop out of the backward and the contraction."""
    from multiscale.atomistic import default_system, load_potential
    from multiscale.atomistic.model import SymmetryFunctions

    calc = load_potential(name, precision=precision, field_V_per_A=field)
    assert calc.ensemble._stackable()
    skipped = []
    restrict = SymmetryFunctions.restrict_jacobian
    monkeypatch.setattr(SymmetryFunctions, "restrict_jacobian",
                        staticmethod(lambda jac, active: skipped.append(int((~active).sum())) or restrict(jac, active)))
    a = default_system(1)
    a.calc = calc
    fast = {k: np.array(calc.get_property(k, a)) for k in ("energy", "forces", "charges", "dipole")}
    fast["sigma"] = calc.results["force_uncertainty"].copy()
    calc.ensemble._stackable = lambda: False
    calc.reset()
    slow = {k: np.array(calc.get_property(k, a)) for k in ("energy", "forces", "charges", "dipole")}
    slow["sigma"] = calc.results["force_uncertainty"]
    tol = 1e-10 if precision == "float64" else 2e-5
    for k in fast:
        np.testing.assert_allclose(fast[k], slow[k], atol=tol * max(1.0, np.abs(slow[k]).max()), err_msg=k)
    sheet = int(calc._graphs(a).sheet.sum())
    assert skipped == ([sheet] if field == 0.0 and name.endswith("vff") else [])


def test_stacked_weights_follow_every_kind_of_parameter_change():
    """The batched member weights are cached between MD steps; an in-place update (an optimiser
    step) and a replaced ``.data`` (a dtype or device move) must both reach the next call."""
    from multiscale.atomistic import default_system, load_potential

    calc = load_potential(precision="float64")
    a = default_system(1)
    a.calc = calc
    ens = calc.ensemble

    def forces_both_ways():
        calc.reset()
        fast = a.get_forces().copy()
        ens._stackable = lambda: False
        calc.reset()
        slow = a.get_forces().copy()
        del ens._stackable  # back to the method
        return fast, slow

    f0, _ = forces_both_ways()
    lin = ens.members[2].nets[3][0]  # carbon's first layer (DEFAULT_ELEMENTS H Li B C O F) of one member
    with torch.no_grad():
        lin.weight.mul_(1.05)
    f1, s1 = forces_both_ways()
    assert np.abs(f1 - f0).max() > 1e-4
    np.testing.assert_allclose(f1, s1, atol=1e-10)
    lin.bias.data = lin.bias.data + 0.01
    f2, s2 = forces_both_ways()
    assert np.abs(f2 - f1).max() > 1e-6
    np.testing.assert_allclose(f2, s2, atol=1e-10)


# every shipped symmetry-function model: a missing one fails here rather than dropping out
SHIPPED_SYMMETRY_FUNCTION_MODELS = ["mlp_li_ec_graphene", "mlp_li_ec_graphene_pi", "mlp_li_ec_graphene_fine",
                                    "mlp_li_ec_graphene_vff"]


@pytest.mark.parametrize("name", SHIPPED_SYMMETRY_FUNCTION_MODELS)
def test_shipped_forces_are_minus_gradient(name):
    """Every shipped symmetry-function ensemble, with its baseline and core repulsion, in float64:
    the calculator's forces on electrolyte atoms and on a sheet carbon are −∂E/∂r by central
    differences at a field inside the trained range (the whole force path, including the
    analytic descriptor Jacobian of each model's own radial/angular grid)."""
    calc = load_potential(name, precision="float64", field_V_per_A=0.05)
    a = default_system(3)
    a.rattle(0.02, seed=3)
    a.calc = calc
    f = a.get_forces()
    li = int(np.nonzero(a.numbers == 3)[0][0])
    o = int(np.nonzero(a.numbers == 8)[0][0])
    sheet_c = 0  # default_system puts the sheet first
    h = 1e-4
    for k in (li, o, sheet_c):
        for d in range(3):
            p, m = a.copy(), a.copy()
            p.positions[k, d] += h
            m.positions[k, d] -= h
            p.calc = m.calc = calc
            fd = -(p.get_potential_energy() - m.get_potential_energy()) / (2 * h)
            assert fd == pytest.approx(f[k, d], abs=2e-4 + 1e-4 * abs(f[k, d])), (name, k, d)


def test_a_bare_masked_sheet_at_zero_field_skips_every_atom():
    """Every atom inert (the vff model's sheet alone, F = 0): the network adds no force, and the
    one-pass ensemble still agrees with the member loop instead of failing on empty pair lists."""
    from multiscale.atomistic import default_system, load_potential
    from multiscale.atomistic.pi_electrons import sheet_carbons

    a = default_system(1)
    sheet = a[list(sheet_carbons(a))]
    calc = load_potential("mlp_li_ec_graphene_vff", precision="float64")
    sheet.calc = calc
    fast = sheet.get_forces().copy()
    e_base, f_base = calc.ensemble.baseline_energy_forces(sheet)
    np.testing.assert_allclose(fast, f_base, atol=1e-12)  # all of it is the baseline's
    calc.ensemble._stackable = lambda: False
    calc.reset()
    np.testing.assert_allclose(sheet.get_forces(), fast, atol=1e-10)
