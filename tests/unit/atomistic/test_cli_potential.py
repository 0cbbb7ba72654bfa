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
