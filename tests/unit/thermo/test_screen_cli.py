"""``multiscale screen``: tables and structure files in, hull table / JSON / plots out."""
import json

import pandas as pd
import pytest
from ase.build import bulk
from ase.io import write

from multiscale.cli import main
from multiscale.thermo import PhaseDiagram
from multiscale.thermo.screening import read_candidates_table, screen

TABLE = """formula,energy_eV,name
Li,-1.91,
Co,-7.11,
O2,-9.86,
CoO2,-20.61,
LiCoO2,-26.52,
LiCo2O4,-47.33,
Li2O,-14.31,
CoO,-15.3,
"""


def run_cli(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_screen_table(tmp_path, capsys):
    (tmp_path / "c.csv").write_text(TABLE)
    out = tmp_path / "out"
    code, stdout, _ = run_cli(["screen", str(tmp_path / "c.csv"), "--out", str(out), "--host", "CoO2"], capsys)
    assert code == 0 and "stable" in stdout and "average voltage" in stdout
    table = pd.read_csv(out / "screen.csv")
    row = table.set_index("Name").loc["LiCo2O4"]
    assert row["E above hull [eV/atom]"] == pytest.approx(0.0, abs=1e-12)
    assert float(row["Min stable potential vs Li [V]"]) == pytest.approx(3.8, abs=1e-6)
    pdg = PhaseDiagram.from_json((out / "phase_diagram.json").read_text())
    assert pdg.stable_formulas == PhaseDiagram(read_candidates_table(tmp_path / "c.csv")).stable_formulas
    assert (out / "hull.png").stat().st_size > 1000 and (out / "voltage_profile.png").exists()
    prof = pd.read_csv(out / "voltage_profile.csv")
    assert prof["Voltage [V]"].tolist() == pytest.approx([4.2, 3.8])


def test_screen_json_table_equals_csv(tmp_path):
    (tmp_path / "c.csv").write_text(TABLE)
    rows = [{"formula": f, "energy_eV": float(e)} for f, e, _ in (ln.split(",") for ln in TABLE.splitlines()[1:])]
    (tmp_path / "c.json").write_text(json.dumps({"entries": rows}))
    a = screen(read_candidates_table(tmp_path / "c.csv")).table
    b = screen(read_candidates_table(tmp_path / "c.json")).table
    assert a["E above hull [eV/atom]"].tolist() == b["E above hull [eV/atom]"].tolist()


def test_screen_structures_with_emt(tmp_path, capsys):
    for name, atoms in (("Cu", bulk("Cu", "fcc", a=3.6)), ("Au", bulk("Au", "fcc", a=4.1)),
                        ("CuAu", bulk("CuAu", "rocksalt", a=5.2))):
        write(tmp_path / f"{name}.extxyz", atoms)
    files = [str(tmp_path / f"{n}.extxyz") for n in ("Cu", "Au", "CuAu")]
    code, stdout, err = run_cli(["screen", *files, "--calculator", "emt", "--out", str(tmp_path / "o"), "--quiet"],
                                capsys)
    assert code == 0, err
    table = pd.read_csv(tmp_path / "o" / "screen.csv")
    assert set(table["Name"]) == {"Cu", "Au", "CuAu"}
    assert "Min stable potential vs Li [V]" not in table.columns      # no Li in Cu–Au


@pytest.mark.parametrize("content, message", [
    ("formula,energy_eV\nLi,-1.9\nLiXq,-3\n", "'Xq' is not a chemical element"),
    ("formula,energy_eV\nLi,-1.9\nLi2O,-14\n", "no elemental reference entry for O"),
    ("formula,energy_eV\nLi,-1.9\nO2,nan\n", "'O2'.*not finite"),
    ("formula,energy_eV\nLi,-1.9\nLi,-1.9\n", "duplicates"),
    ("formula,E\nLi,-1.9\n", "energy column"),
])
def test_screen_bad_tables(tmp_path, capsys, content, message):
    import re

    (tmp_path / "bad.csv").write_text(content)
    code, _, err = run_cli(["screen", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and re.search(message, err) and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_screen_wrong_usage(tmp_path, capsys):
    (tmp_path / "c.csv").write_text(TABLE)
    code, _, err = run_cli(["screen", str(tmp_path / "c.csv"), "--calculator", "emt"], capsys)
    assert code == 2 and "table of energies" in err
    code, _, err = run_cli(["screen", str(tmp_path / "missing.csv")], capsys)
    assert code != 0 and "does not exist" in err
