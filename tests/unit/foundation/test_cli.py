"""The console script: commands listed, user errors are one line with a non-zero exit."""
import subprocess
import sys

import pytest

from multiscale.cli import main

CONTRACT_COMMANDS = ["run", "hybrid", "export", "bench"]


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_help_lists_contract_commands(capsys):
    code, out, _ = _run(["--help"], capsys)
    assert code == 0
    for name in CONTRACT_COMMANDS:
        assert f"  {name} " in out


def test_console_script_runs_as_module():
    proc = subprocess.run([sys.executable, "-m", "multiscale", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "hybrid" in proc.stdout


def _assert_one_line_error(code, err):
    assert code not in (0, None)
    lines = [ln for ln in err.splitlines() if ln.startswith("multiscale: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err


def test_missing_config_file(tmp_path, capsys):
    code, _, err = _run(["run", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")], capsys)
    _assert_one_line_error(code, err)
    assert "does not exist" in err


def test_unknown_config_key(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[electrolyte]\nconcentraton_mol_m3 = 1.0\n")
    code, _, err = _run(["run", str(cfg), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    _assert_one_line_error(code, err)
    assert "electrolyte.concentraton_mol_m3" in err


def test_negative_temperature_in_config(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[electrolyte]\ntemperature_K = -20.0\n")
    code, _, err = _run(["run", str(cfg), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    _assert_one_line_error(code, err)
    assert "temperature_K" in err and "out of range" in err


def test_unknown_option_is_one_line(capsys):
    code, _, err = _run(["run", "--bogus"], capsys)
    _assert_one_line_error(code, err)


def test_unknown_benchmark(capsys):
    code, _, err = _run(["bench", "no-such-bench", "--json"], capsys)
    _assert_one_line_error(code, err)
    assert "available" in err


def test_bench_passes_its_extra_arguments_to_the_script(capsys):
    # the script refuses the argument itself, before any work: the message is the script's
    code, _, err = _run(["bench", "descriptor_information", "--json", "--variants", "soap"], capsys)
    _assert_one_line_error(code, err)
    assert "--variants 'soap'" in err


def test_benchmark_json_is_read_whether_indented_or_on_one_line():
    import json

    from multiscale.commands.bench import last_json_object

    obj = {"a": 1, "runs": [{"b": [1, 2]}], "c": "x"}
    for text in (json.dumps(obj), json.dumps(obj, indent=1), "progress 3/4\n" + json.dumps(obj, indent=2)):
        assert last_json_object(text) == obj
    assert last_json_object(json.dumps({"first": 1}) + "\n" + json.dumps(obj)) == obj
    with pytest.raises(ValueError, match="no JSON object"):
        last_json_object("done\n")


def test_load_benchmark_imports_a_script_and_names_unknown_ones():
    from multiscale.commands.bench import load_benchmark
    from multiscale.errors import InputError

    assert callable(load_benchmark("force_capacity").fit_for_minutes)
    with pytest.raises(InputError, match="no-such-bench"):
        load_benchmark("no-such-bench")
