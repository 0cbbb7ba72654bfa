"""Force-error bookkeeping of the validation layer: per element, pooled, electrolyte only."""
import numpy as np
import pytest

from multiscale.atomistic import load_potential
from multiscale.atomistic.labelling import load_dataset
from multiscale.atomistic.validation import errors_by_field, force_errors_by_element, pooled_force_rmse
from multiscale.errors import InputError
from multiscale.resources import data_path


@pytest.fixture(scope="module")
def heldout_errors():
    ens = load_potential().ensemble
    frames = load_dataset(data_path("xtb_li_ec_graphene", "labels.db"), split="heldout")[:4]
    return errors_by_field(ens, frames), force_errors_by_element(ens, frames)


def test_pooling_every_element_gives_the_all_atom_rmse(heldout_errors):
    by_field, by_element = heldout_errors
    (all_atoms,) = [v["force_meV_per_A"] for v in by_field.values()]
    assert pooled_force_rmse(by_element, exclude=()) == pytest.approx(all_atoms, rel=1e-9)


def test_electrolyte_rmse_leaves_out_only_the_sheet(heldout_errors):
    _, by_element = heldout_errors
    assert "C_graphene" in by_element and by_element["C_graphene"]["n_atoms"] == 4 * 24
    electrolyte = pooled_force_rmse(by_element)
    # by hand: the atom-weighted mean square over the molecular elements
    mol = [v for k, v in by_element.items() if k != "C_graphene"]
    expected = np.sqrt(sum(v["n_atoms"] * v["rmse_meV_per_A"] ** 2 for v in mol) / sum(v["n_atoms"] for v in mol))
    assert electrolyte == pytest.approx(expected)
    lo = min(v["rmse_meV_per_A"] for v in mol)
    hi = max(v["rmse_meV_per_A"] for v in mol)
    assert lo <= electrolyte <= hi  # a weighted RMS lies between its parts


def test_excluding_every_atom_is_a_clear_error(heldout_errors):
    _, by_element = heldout_errors
    with pytest.raises(InputError, match="exclude"):
        pooled_force_rmse(by_element, exclude=tuple(by_element))


def test_shared_predictions_give_the_same_errors_without_rerunning(heldout_errors):
    from multiscale.atomistic.validation import errors_by_packing, predict_frames

    ens = load_potential().ensemble
    frames = load_dataset(data_path("xtb_li_ec_graphene", "labels.db"), split="heldout")[:4]
    pred = predict_frames(ens, frames)
    by_field, by_element = heldout_errors
    assert errors_by_field(ens, frames, predictions=pred) == by_field
    assert force_errors_by_element(ens, frames, predictions=pred) == by_element
    # the predictions are used as given: shifting every force by 1 eV/Å shows in the RMSE
    shifted = [dict(p, forces=p["forces"] + 1.0) for p in pred]
    (moved,) = errors_by_field(ens, frames, predictions=shifted).values()
    (kept,) = by_field.values()
    assert moved["force_meV_per_A"] > kept["force_meV_per_A"] + 500
    assert errors_by_packing(ens, frames, predictions=pred, n_bootstrap=100)["force_meV_per_A"] == pytest.approx(
        kept["force_meV_per_A"], rel=1e-9)


@pytest.mark.parametrize("bad, match", [
    (lambda pred: pred[:3], "predictions has 3 entries for 4 frames"),
    (lambda pred: [dict(p, forces=p["forces"][:5]) for p in pred], r"predictions\[0\] has forces for 5 atoms"),
])
def test_predictions_of_other_frames_are_refused(bad, match):
    from multiscale.atomistic.validation import predict_frames

    ens = load_potential().ensemble
    frames = load_dataset(data_path("xtb_li_ec_graphene", "labels.db"), split="heldout")[:4]
    with pytest.raises(InputError, match=match):
        errors_by_field(ens, frames, predictions=bad(predict_frames(ens, frames)))


def test_roles_split_ec_into_carbonyl_and_ring_atoms():
    from multiscale.atomistic.validation import carbonyl_oxygens, chemical_roles

    a = load_dataset(data_path("xtb_li_ec_graphene", "labels.db"), split="heldout")[0]  # 3 EC, LiBF4, 24 C sheet
    roles = chemical_roles(a)
    counts = {r: roles.count(r) for r in set(roles)}
    assert counts == {"C_graphene": 24, "C_carbonyl": 3, "C": 6, "O_carbonyl": 3, "O": 6, "H": 12, "Li": 1, "B": 1,
                      "F": 4}
    # the double bond is the short one: each carbonyl O sits ~1.2 Å from a carbonyl C, the ring
    # O ≥ 1.3 Å from every C
    ox = carbonyl_oxygens(a)
    assert [roles[k] for k in ox] == ["O_carbonyl"] * 3
    c_carbonyl = [k for k, r in enumerate(roles) if r == "C_carbonyl"]
    carbons = [k for k, r in enumerate(roles) if r in ("C", "C_carbonyl")]
    for o in ox:
        assert a.get_distances(o, c_carbonyl, mic=True).min() < 1.3
    for o in [k for k, r in enumerate(roles) if r == "O"]:
        assert a.get_distances(o, carbons, mic=True).min() > 1.3
    with pytest.raises(InputError, match="bond_A"):
        chemical_roles(a, bond_A=5.0)


def test_errors_by_role_refine_the_elements_and_shares_add_to_one(heldout_errors):
    ens = load_potential().ensemble
    frames = load_dataset(data_path("xtb_li_ec_graphene", "labels.db"), split="heldout")[:4]
    _, by_element = heldout_errors
    by_role = force_errors_by_element(ens, frames, by="role")
    assert {"C_carbonyl", "O_carbonyl", "C", "O"} <= set(by_role)
    assert sum(v["share_of_squared_error"] for v in by_role.values()) == pytest.approx(1.0)
    # the roles of one element pool back into that element's RMSE
    for el in ("C", "O"):
        parts = [v for k, v in by_role.items() if k == el or k == f"{el}_carbonyl"]
        n = sum(v["n_atoms"] for v in parts)
        assert n == by_element[el]["n_atoms"]
        pooled = np.sqrt(sum(v["n_atoms"] * v["rmse_meV_per_A"] ** 2 for v in parts) / n)
        assert pooled == pytest.approx(by_element[el]["rmse_meV_per_A"], rel=1e-9)
    assert pooled_force_rmse(by_role, exclude=()) == pytest.approx(pooled_force_rmse(by_element, exclude=()), rel=1e-9)
    with pytest.raises(InputError, match="by"):
        force_errors_by_element(ens, frames, by="residue")


def test_training_and_validation_frames_split_a_models_databases():
    from types import SimpleNamespace

    from multiscale.atomistic.validation import training_frames, validation_frames

    db = "data/xtb_li_ec_graphene/labels_li_endpoints.db"  # as ensemble.json records it: relative to the repo
    every = load_dataset(data_path("xtb_li_ec_graphene", "labels_li_endpoints.db"), split="train")
    held = {every[k].info["config_id"] for k in range(0, len(every), 5)}
    calc = SimpleNamespace(info=dict(dataset=[db], history=dict(validation_config_ids=sorted(held))))
    val = validation_frames(calc)
    train = training_frames(calc, max_frames=len(every))
    assert {a.info["config_id"] for a in val} == held
    assert len(val) + len(train) == len(every) and not held & {a.info["config_id"] for a in train}
    few = training_frames(calc, max_frames=7)
    assert len(few) == 7 and few[0].info["config_id"] == train[0].info["config_id"]
    assert few[-1].info["config_id"] == train[-1].info["config_id"]  # evenly spaced, ends included
    assert training_frames(SimpleNamespace(info={}), max_frames=10) == []
    with pytest.raises(InputError, match="max_frames"):
        training_frames(calc, max_frames=0)
