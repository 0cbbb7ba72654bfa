"""`multiscale potential` commands: help, bad input as a one-line error, evaluation report."""
import json

import pytest

from multiscale.cli import main


def run_cli(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_help_lists_commands(capsys):
    code, out, _ = run_cli(["potential", "--help"], capsys)
    assert code == 0
    for cmd in ("label", "train", "evaluate"):
        assert cmd in out


def test_train_bad_members_is_a_clear_error(tmp_path, capsys):
    code, _, err = run_cli(["potential", "train", "--members", "2", "--out", str(tmp_path / "m"), "--quiet"], capsys)
    assert code != 0
    assert "n_members" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_evaluate_writes_report(tmp_path, capsys):
    out = tmp_path / "report.json"
    code, _, err = run_cli(["potential", "evaluate", "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    rep = json.loads(out.read_text())
    assert "0.075" in rep["heldout_errors_by_field"]
    by_pack = rep["heldout_errors_by_packing"]
    assert by_pack["n_packings"] == 4
    lo, hi = by_pack["energy_interval_meV_per_atom"]
    assert lo <= by_pack["energy_meV_per_atom"] <= hi
    roles = rep["heldout_force_rmse_by_role"]
    assert {"C_graphene", "C_carbonyl", "O_carbonyl", "Li"} <= set(roles)
    assert sum(v["share_of_squared_error"] for v in roles.values()) == pytest.approx(1.0)


def test_transport_analyse_only_and_bad_compositions(tmp_path, capsys):
    """`potential transport --analyse-only` re-analyses stored runs; bad compositions: one-line error."""
    from tests.unit.atomistic.test_electrolyte_transport import _brownian_run
    from multiscale.atomistic.electrolyte_transport import state_name

    runs = []
    for t in (300.0, 340.0):
        name = state_name(25, 2, t)
        _brownian_run(tmp_path / name, (0.02, 0.03, 0.03), n=(2, 2, 25), n_frames=2000, seed=int(t), temperature_K=t)
        runs.append(dict(file=name, n_ec=25, n_salt=2, temperature_K=t, concentration_mol_L=0.9,
                         untrusted_fraction=0.0, analysed_ps=40.0))
    (tmp_path / "manifest.json").write_text(json.dumps(dict(model="m", model_sha256_16="x", runs=runs)))
    code, out, _ = run_cli(["potential", "transport", "--out", str(tmp_path), "--analyse-only",
                            "--equilibration-ps", "0"], capsys)
    assert code == 0 and "D_e(0.90 mol/L, 300 K)" in out and "E_a" in out
    assert (tmp_path / "diffusivity.json").is_file() and (tmp_path / "diffusivity.png").is_file()
    code, _, err = run_cli(["potential", "transport", "--out", str(tmp_path / "x"), "--compositions", "5-1"], capsys)
    assert code != 0 and "compositions" in err and len(err.strip().splitlines()) == 1


def test_explore_writes_report_and_candidates(tmp_path, capsys):
    """`potential explore`: per-run lines, exploration.json, candidates.extxyz that `label --candidates` reads."""
    from multiscale.atomistic.active_learning import read_candidates

    out = tmp_path / "al"
    code, text, err = run_cli(["potential", "explore", "--out", str(out), "--bulk", "3:1", "--interface-fields", "",
                               "--steps", "30", "--interval", "5", "--sigma-min", "0", "--min-separation", "0",
                               "--max-per-run", "2", "--quiet"], capsys)
    assert code == 0, err
    assert "bulk3-1-T320-s0" in text and "runs stayed in the domain" in text
    rep = json.loads((out / "exploration.json").read_text())
    assert rep["n_runs"] == 1 and rep["n_candidates"] == 2
    assert len(read_candidates(out / "candidates.extxyz")) == 2
    code, _, err = run_cli(["potential", "explore", "--out", str(out), "--bulk", "3:1", "--steps", "5"], capsys)
    assert code != 0 and "n_steps" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(["potential", "label", "--candidates", str(tmp_path / "none.extxyz")], capsys)
    assert code != 0 and "none.extxyz" in err


def test_train_with_the_graphene_pi_baseline_records_it(tmp_path, capsys):
    from multiscale.resources import data_path

    db = data_path("xtb_li_ec_graphene", "reference_md.db")
    out = tmp_path / "m"
    code, stdout, err = run_cli(["potential", "train", "--db", str(db), "--frame-stride", "1000", "--out", str(out),
                                 "--members", "4", "--epochs", "1", "--hidden", "8", "--baseline", "graphene-pi",
                                 "--quiet"], capsys)
    assert code == 0, err
    info = json.loads((out / "ensemble.json").read_text())
    assert info["baseline"]["kind"] == "graphene_pi_gamma"
    assert info["meta"]["command"].endswith("--baseline graphene-pi")


def test_bending_fits_the_out_of_plane_term_into_a_trained_model(tmp_path, capsys):
    from multiscale.resources import data_path

    db = str(data_path("xtb_li_ec_graphene", "reference_md.db"))
    out = tmp_path / "m"
    code, _, err = run_cli(["potential", "train", "--db", db, "--frame-stride", "1000", "--out", str(out),
                            "--members", "4", "--epochs", "1", "--hidden", "8", "--baseline", "graphene-pi-bonds",
                            "--sheet-energy", "baseline", "--quiet"], capsys)
    assert code == 0, err
    info = json.loads((out / "ensemble.json").read_text())
    assert len(info["baseline"]["bond_coefficients"]) == 4 and info["config"]["network"]["sheet_energy_from_baseline"]
    code, stdout, err = run_cli(["potential", "bending", "--db", db, "--frame-stride", "1000", "--model", str(out)],
                                capsys)
    assert code == 0, err
    info = json.loads((out / "ensemble.json").read_text())
    assert info["baseline"]["bending_eV_per_A2"] != 0.0 and "bending_fit" in info["meta"]
    assert "out-of-plane term" in stdout
    code, _, err = run_cli(["potential", "bending", "--db", db, "--model", str(tmp_path)], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1


def test_valence_force_field_baseline_and_flexural_fit_through_the_cli(tmp_path, capsys):
    from multiscale.resources import data_path

    db = str(data_path("xtb_li_ec_graphene", "reference_md.db"))
    out = tmp_path / "m"
    code, stdout, err = run_cli(["potential", "train", "--db", db, "--frame-stride", "1000", "--out", str(out),
                                 "--members", "4", "--epochs", "1", "--hidden", "8", "--baseline", "graphene-pi-vff",
                                 "--sheet-energy", "baseline"], capsys)
    assert code == 0, err
    info = json.loads((out / "ensemble.json").read_text())
    assert len(info["baseline"]["angle_coefficients"]) == 3 and info["meta"]["bond_term_fit"]["angles"]
    assert "valence-angle" in stdout and info["meta"]["command"].endswith("--baseline graphene-pi-vff --sheet-energy baseline")
    code, stdout, err = run_cli(["potential", "bending", "--db", db, "--frame-stride", "1000", "--model", str(out),
                                 "--terms", "flexural"], capsys)
    assert code == 0, err
    info = json.loads((out / "ensemble.json").read_text())
    assert len(info["baseline"]["flexural_coefficients"]) == 5 and info["baseline"]["bending_eV_per_A2"] == 0.0
    assert info["meta"]["flexural_fit"]["command"].endswith("--terms flexural")
    assert "flexural force constants" in stdout
    # refit the in-plane σ terms of the trained model, then continue training on the whole baseline
    code, stdout, err = run_cli(["potential", "bending", "--db", db, "--frame-stride", "1000", "--model", str(out),
                                 "--terms", "valence"], capsys)
    assert code == 0, err
    assert "valence-angle terms refitted" in stdout
    refit = json.loads((out / "ensemble.json").read_text())["baseline"]
    assert refit["flexural_coefficients"] == info["baseline"]["flexural_coefficients"]
    more = tmp_path / "m2"
    code, _, err = run_cli(["potential", "train", "--db", db, "--frame-stride", "1000", "--out", str(more),
                            "--members", "4", "--epochs", "1", "--hidden", "8", "--init-from", str(out),
                            "--baseline", "inherit", "--sheet-energy", "baseline", "--quiet"], capsys)
    assert code == 0, err
    continued = json.loads((more / "ensemble.json").read_text())
    assert continued["baseline"] == refit
    assert {"bond_term_fit", "flexural_fit", "valence_fit"} <= set(continued["meta"]["inherited_baseline_fits"])
    code, _, err = run_cli(["potential", "train", "--db", db, "--out", str(tmp_path / "m3"), "--baseline", "inherit",
                            "--quiet"], capsys)
    assert code != 0 and "--init-from" in err


def test_energy_weight_and_weight_decay_reach_the_recorded_command(tmp_path, capsys):
    from multiscale.resources import data_path

    db = str(data_path("xtb_li_ec_graphene", "reference_md.db"))
    out = tmp_path / "m"
    code, _, err = run_cli(["potential", "train", "--db", db, "--frame-stride", "1000", "--out", str(out),
                            "--members", "4", "--epochs", "1", "--hidden", "8", "--energy-weight", "1000",
                            "--weight-decay", "0.01", "--quiet"], capsys)
    assert code == 0, err
    command = json.loads((out / "ensemble.json").read_text())["meta"]["command"]
    assert "--energy-weight 1000.0" in command and "--weight-decay 0.01" in command
    code, _, err = run_cli(["potential", "train", "--db", db, "--out", str(tmp_path / "m2"), "--energy-weight", "-1",
                            "--quiet"], capsys)
    assert code != 0 and "--energy-weight" in err and "Traceback" not in err
    code, _, err = run_cli(["potential", "train", "--db", db, "--out", str(tmp_path / "m3"), "--weight-decay", "-1",
                            "--quiet"], capsys)
    assert code != 0 and "--weight-decay" in err and "Traceback" not in err


def test_train_reports_its_cache_and_takes_a_float16_one(tmp_path, capsys):
    from multiscale.resources import data_path

    db = str(data_path("xtb_li_ec_graphene", "reference_md.db"))
    out = tmp_path / "m"
    code, _, err = run_cli(["potential", "train", "--db", db, "--frame-stride", "1000", "--out", str(out),
                            "--members", "4", "--epochs", "1", "--hidden", "8", "--cache-dtype", "float16"], capsys)
    assert code == 0, err
    assert "training cache:" in err and "GB (Jacobian factors in float16)" in err
    info = json.loads((out / "ensemble.json").read_text())
    assert info["meta"]["command"].endswith("--cache-dtype float16")
    code, _, err = run_cli(["potential", "train", "--db", db, "--out", str(out), "--cache-dtype", "int8"], capsys)
    assert code != 0 and "int8" in err


def test_train_with_messages_records_them_and_refuses_bad_ones(tmp_path, capsys):
    from multiscale.resources import data_path

    db = str(data_path("xtb_li_ec_graphene", "reference_md.db"))
    out = tmp_path / "m"
    code, _, err = run_cli(["potential", "train", "--db", db, "--frame-stride", "1000", "--out", str(out),
                            "--members", "4", "--epochs", "1", "--hidden", "8", "--messages", "3,2,3.5", "--quiet"],
                           capsys)
    assert code == 0, err
    info = json.loads((out / "ensemble.json").read_text())
    assert info["config"]["network"]["messages"] == dict(n_channels=3, n_radial=2, cutoff_A=3.5, width_A=0.4)
    assert "--messages 3,2,3.5" in info["meta"]["command"]
    for bad, word in (("3,2", "--messages"), ("a,b,c", "--messages"), ("0,2,3.5", "n_channels")):
        code, _, err = run_cli(["potential", "train", "--db", db, "--out", str(tmp_path / "x"), "--messages", bad,
                                "--quiet"], capsys)
        assert code != 0 and word in err and "Traceback" not in err


def test_train_averages_weights_when_asked_and_says_so(tmp_path, capsys):
    from multiscale.resources import data_path

    db = str(data_path("xtb_li_ec_graphene", "reference_md.db"))
    out = tmp_path / "m"
    code, stdout, err = run_cli(["potential", "train", "--db", db, "--frame-stride", "1000", "--out", str(out),
                                 "--members", "4", "--epochs", "3", "--hidden", "8", "--average-from-epoch", "1",
                                 "--quiet"], capsys)
    assert code == 0, err
    meta = json.loads((out / "ensemble.json").read_text())["meta"]
    assert meta["command"].endswith("--average-from-epoch 1")
    assert meta["history"]["weight_average"]["n_epochs"] == [2] * 4 and "weight averages over [2, 2, 2, 2]" in stdout
    assert (out / "weight_average" / "ensemble.pt").is_file()
    averages = json.loads((out / "weight_average" / "ensemble.json").read_text())["meta"]
    assert "pair_min_distance_A" in averages
    # the averages' folder says how it was made, and keeps its own record of the averaging
    assert averages["command"] == meta["command"] and averages["dataset"] == [db]
    assert averages["averages_of"] == str(out) and averages["weight_average"]["n_epochs"] == [2] * 4
    code, _, err = run_cli(["potential", "train", "--db", db, "--out", str(tmp_path / "m2"), "--epochs", "3",
                            "--average-from-epoch", "3", "--quiet"], capsys)
    assert code != 0 and "average_from_epoch = 3" in err and "Traceback" not in err
