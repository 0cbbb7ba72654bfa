"""`multiscale analyze`: each --what writes a CSV with unit columns and a PNG."""
import numpy as np
import pandas as pd
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from multiscale.cli import main


@pytest.fixture
def traj(tmp_path, rng):
    frames = []
    x = rng.random((30, 3)) * 10
    for _ in range(60):
        x = (x + rng.normal(scale=0.2, size=x.shape)) % 10
        a = Atoms("Na15Cl15", positions=x, cell=[10, 10, 10], pbc=True)
        a.calc = SinglePointCalculator(a, energy=0.0, charges=np.r_[np.full(15, 0.8), np.full(15, -0.8)])
        frames.append(a)
    path = tmp_path / "t.extxyz"
    write(path, frames)
    return path


@pytest.mark.parametrize("what,extra,column", [
    ("rdf", ["--species", "Na", "--species-b", "Cl", "--r-max", "4.5"], "g(r) [-]"),
    ("msd", ["--timestep-ps", "0.1"], "MSD [m2]"),
    ("diffusion-profile", ["--timestep-ps", "0.1", "--bins", "2"], "D_parallel [m2.s-1]"),
    ("potential-profile", ["--bins", "20"], "potential [V]"),
])
def test_analyze_writes_csv_and_png(traj, tmp_path, what, extra, column):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main([ "analyze", str(traj), "--what", what, "--out", str(out), "--quiet", *extra])
    assert exc.value.code == 0
    stem = what.replace("-", "_")
    df = pd.read_csv(out / f"{stem}.csv")
    assert column in df.columns and len(df) > 0
    assert (out / f"{stem}.png").stat().st_size > 1000


def test_analyze_user_error_is_one_line(traj, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["analyze", str(traj), "--what", "msd", "--out", str(tmp_path)])
    assert exc.value.code != 0
    assert "--timestep-ps" in capsys.readouterr().err
