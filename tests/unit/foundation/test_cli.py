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
