"""Active learning: exploration ML-MD, candidate selection by ensemble disagreement, labelling from candidates."""
import numpy as np
import pytest

from multiscale.atomistic import active_learning as al
from multiscale.errors import DataFileError, InputError


def _run(name, sigma, *, left_domain=False, n_atoms=3, interval=10, field=0.0):
    sigma = np.asarray(sigma, dtype=float)
    n = len(sigma)
    rng = np.random.default_rng(len(name))
    return dict(name=name, job=dict(field_V_per_A=field, temperature_K=320.0, n_steps=interval * (n - 1)),
                numbers=np.array([1, 1, 8][:n_atoms]), cell=np.eye(3) * 10.0, pbc=np.array([True] * 3),
                positions=rng.uniform(0, 10, (n, n_atoms, 3)), step=np.arange(n) * interval, sigma=sigma,
                temperature=np.full(n, 320.0), left_domain=left_domain, stop_reason="x" if left_domain else None,
                steps_run=int(interval * (n - 1)), wall_time_s=1.0)


def test_selection_ranks_by_sigma_with_separation_and_skips_the_start():
    # frame 0 (the relaxed start) has the largest σ but is never a candidate
    run = _run("bulk5-1-T320-s0", [9.0, 0.1, 0.8, 0.79, 0.5, 0.2, 0.6])
    picked = al.select_candidates([run], sigma_min_eV_per_A=0.3, max_per_run=8, min_separation_steps=20)
    steps = [c["step"] for c in picked]
    # 0.8 at step 20; 0.79 at 30 is too close; 0.6 at 60; 0.5 at 40 (20 from both)
    assert steps == [20, 60, 40]
    assert [round(c["sigma_eV_per_A"], 2) for c in picked] == [0.8, 0.6, 0.5]
    assert not any(c["pre_failure"] for c in picked)
    np.testing.assert_allclose(picked[0]["atoms"].positions, run["positions"][2])
    assert al.select_candidates([run], sigma_min_eV_per_A=0.7, min_separation_steps=0)[0]["step"] == 20
    assert len(al.select_candidates([run], sigma_min_eV_per_A=0.0, max_per_run=2, min_separation_steps=0)) == 2


def test_pre_failure_frame_comes_first_even_below_sigma_min():
    calm = _run("bulk12-1-T320-s0", [0.5, 0.9, 0.4])
    failed = _run("iface-0.100-T320-s0", [0.5, 0.35, 0.2], left_domain=True, field=-0.1)
    picked = al.select_candidates([calm, failed], sigma_min_eV_per_A=0.3, min_separation_steps=0)
    assert picked[0]["pre_failure"] and picked[0]["run"] == "iface-0.100-T320-s0" and picked[0]["step"] == 20
    assert picked[0]["field_V_per_A"] == -0.1
    assert [c["sigma_eV_per_A"] for c in picked[1:]] == sorted([c["sigma_eV_per_A"] for c in picked[1:]], reverse=True)
    assert len(al.select_candidates([calm, failed], max_total=1, min_separation_steps=0)) == 1
    with pytest.raises(InputError, match="max_per_run"):
        al.select_candidates([calm], max_per_run=0)


def test_summary_counts_runs_that_stay_in_the_domain():
    s = al.exploration_summary([_run("a", [0.1, 0.2, 0.4]), _run("b", [0.1, 0.5], left_domain=True)])
    assert s["n_runs"] == 2 and s["n_completed"] == 1 and s["completed_fraction"] == 0.5
    assert s["runs"][0]["untrusted_fraction"] == 0.5  # the start frame is not counted
    assert s["runs"][1]["left_domain"] and s["runs"][1]["max_sigma_eV_per_A"] == 0.5


def test_candidates_round_trip_through_extxyz(tmp_path):
    picked = al.select_candidates([_run("bulk5-1-T320-s0", [0.0, 0.9, 0.4], left_domain=True)],
                                  min_separation_steps=0)
    path = tmp_path / "c.extxyz"
    assert al.write_candidates(picked, path) == len(picked) == 2
    back = al.read_candidates(path)
    for a, b in zip(picked, back):
        assert (a["run"], a["step"], a["pre_failure"]) == (b["run"], b["step"], b["pre_failure"])
        np.testing.assert_allclose(a["atoms"].positions, b["atoms"].positions)
        assert b["atoms"].info == {}
    with pytest.raises(DataFileError, match="potential explore"):
        al.read_candidates(tmp_path / "none.extxyz")
    with pytest.raises(InputError, match="no candidates"):
        al.write_candidates([], path)


def test_explore_runs_ml_md_on_bulk_and_interface_cells():
    runs = al.explore(bulk_compositions=[(3, 1)], interface_fields_V_per_A=[0.05], temperatures_K=[320.0],
                      seeds=[7], n_steps=20, interval=5, n_workers=0, progress=False)
    assert [r["name"] for r in runs] == ["bulk3-1-T320-s7", "iface+0.050-T320-s7"]
    bulk, iface = runs
    assert bulk["positions"].shape == (len(bulk["sigma"]), 36, 3) and bulk["pbc"].all()
    assert iface["positions"].shape[1] == 60 and iface["job"]["field_V_per_A"] == 0.05
    for r in runs:
        assert r["steps_run"] == 20 or r["left_domain"]
        assert np.all(np.asarray(r["sigma"]) >= 0) and list(r["step"][:2]) == [0, 5]
    with pytest.raises(InputError, match="temperatures_K"):
        al.explore(temperatures_K=[5.0], n_steps=20, progress=False)
    with pytest.raises(InputError, match="at least one system"):
        al.explore(bulk_compositions=[], interface_fields_V_per_A=[], n_steps=20, progress=False)


def test_label_candidates_runs_reference_md_from_each_and_resumes(tmp_path):
    """Reference MD from a candidate: its first row is the candidate itself; a rerun skips it."""
    from multiscale.atomistic.labelling import load_dataset
    from multiscale.atomistic.system import build_bulk_electrolyte

    atoms = build_bulk_electrolyte(2, 1, seed=3)
    cand = dict(atoms=atoms, run="bulk2-1-T320-s3", step=40, sigma_eV_per_A=0.7, field_V_per_A=0.0,
                temperature_K=320.0, pre_failure=True)
    db = tmp_path / "al.db"
    n = al.label_candidates([cand], db, reference_steps=3, store_every=2, n_workers=0, progress=False)
    assert n == 2  # steps 0 and 2
    rows = load_dataset(db)
    assert rows[0].info["task"] == "al-bulk2-1-T320-s3-40" and rows[0].info["system"] == "bulk"
    assert rows[0].info["split"] == "train"
    np.testing.assert_allclose(rows[0].positions, atoms.positions, atol=1e-9)
    assert [r.info["step"] for r in rows] == [0, 2]
    assert al.label_candidates([cand], db, reference_steps=3, store_every=2, n_workers=0, progress=False) == 0


def test_li_endpoints_are_candidates_at_every_scan_field():
    """The α scan's end points (Li at the sheet, Li solvated) become candidates at each field."""
    cands = al.li_endpoint_candidates(seeds=[0], fields_V_per_A=[-0.1, 0.1])
    assert [c["run"] for c in cands] == ["li-contact-F-0.100-s0", "li-contact-F+0.100-s0",
                                         "li-solvated-F-0.100-s0", "li-solvated-F+0.100-s0"]
    contact, solvated = cands[0]["atoms"], cands[2]["atoms"]
    from multiscale.atomistic import load_potential
    from multiscale.atomistic.li_adsorption import adsorption_endpoints

    ref_contact, ref_solvated, _ = adsorption_endpoints(load_potential(), seed=0)  # deterministic relaxations
    np.testing.assert_allclose(contact.positions, ref_contact.positions, atol=1e-8)
    np.testing.assert_allclose(solvated.positions, ref_solvated.positions, atol=1e-8)
    assert cands[1]["atoms"] is contact  # the same end point at every field
    assert not contact.constraints and len(contact) == 60  # the reference moves every atom
    assert all(c["sigma_eV_per_A"] > 0 and c["step"] == 0 for c in cands)
    with pytest.raises(InputError, match="fields_V_per_A"):
        al.li_endpoint_candidates(seeds=[0], fields_V_per_A=[2.0])
