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


def test_energies_table_round_trips(tmp_path, capsys):
    """energies.csv keeps whole-cell formulas with their energies: re-screening it gives the same profile."""
    (tmp_path / "c.csv").write_text(TABLE)
    out, again = tmp_path / "out", tmp_path / "again"
    assert run_cli(["screen", str(tmp_path / "c.csv"), "--out", str(out), "--host", "CoO2"], capsys)[0] == 0
    energies = pd.read_csv(out / "energies.csv")
    assert energies.set_index("formula").loc["LiCo2O4", "energy_eV"] == pytest.approx(-47.33)
    assert run_cli(["screen", str(out / "energies.csv"), "--out", str(again), "--host", "CoO2"], capsys)[0] == 0
    a = json.loads((out / "voltage_profile.json").read_text())
    assert a == json.loads((again / "voltage_profile.json").read_text())
    assert a["voltages_V"] == pytest.approx([4.2, 3.8])


def test_li_graphite_prototypes():
    """Experimental structures: AB graphite, Li over hexagon centres in LiC6/LiC12 (no C closer than 2.2 Å)."""
    import numpy as np

    from multiscale.thermo.prototypes import li_graphite_phases, prototype_structures

    phases = dict(li_graphite_phases())
    assert {k: v.get_chemical_formula() for k, v in phases.items()} == {
        "graphite": "C4", "LiC12": "C12Li", "LiC6": "C6Li", "Li (bcc)": "Li"}
    for name in ("graphite", "LiC6", "LiC12"):
        d = phases[name].get_all_distances(mic=True)
        c = phases[name].numbers == 6
        cc = d[np.ix_(c, c)][~np.eye(c.sum(), dtype=bool)]
        assert cc.min() == pytest.approx(2.46 / np.sqrt(3), abs=1e-6)  # C–C bond 1.42 Å
        if name != "graphite":
            li = phases[name].numbers == 3
            assert d[np.ix_(li, c)].min() > 2.2
    assert phases["LiC6"].cell.cellpar()[2] == pytest.approx(3.70)
    assert prototype_structures("li-graphite")[1] == "C6"


def test_prototypes_need_a_calculator(tmp_path, capsys):
    code, _, err = run_cli(["screen", "--prototypes", "li-graphite", "--out", str(tmp_path)], capsys)
    assert code != 0 and "--prototypes" in err
    code, _, err = run_cli(["screen", "--out", str(tmp_path)], capsys)
    assert code != 0 and "CANDIDATES" in err
