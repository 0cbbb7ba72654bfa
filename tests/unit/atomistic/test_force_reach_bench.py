"""benchmarks/bench_force_reach.py without its reference calls (about 40 s each on the 300-atom
cell): the centres it picks and its argument checks."""
import numpy as np
import pytest

from multiscale.atomistic.validation import chemical_roles
from multiscale.commands.bench import load_benchmark

bfr = load_benchmark("force_reach")


def test_one_centre_per_role_near_the_middle_of_the_cell():
    cell = bfr._cell()
    centres = bfr._centres(cell, ["C_carbonyl", "Li"])
    roles = chemical_roles(cell)
    assert roles[centres["C_carbonyl"]] == "C_carbonyl" and roles[centres["Li"]] == "Li"
    mid = cell.cell.array[:2, :2].sum(0) / 2
    others = [k for k, r in enumerate(roles) if r == "C_carbonyl"]
    dist = np.linalg.norm(cell.positions[others, :2] - mid, axis=1)
    assert np.linalg.norm(cell.positions[centres["C_carbonyl"], :2] - mid) == pytest.approx(dist.min())
    with pytest.raises(SystemExit, match="Xe"):
        bfr._centres(cell, ["Xe"])


def test_bad_arguments_name_themselves():
    for argv, word in ((["--radii", "1"], "--radii"), (["--radii", "a"], "--radii"),
                       (["--amplitude", "5"], "--amplitude"), (["--workers", "9"], "--workers"),
                       (["--repeats", "0"], "--repeats")):
        with pytest.raises(SystemExit, match=word):
            bfr.main(argv)


def test_the_reference_and_the_model_see_the_same_move():
    """moved_cell is called once in the reference's process and once in the model's: same item, same cell."""
    cell = bfr._cell()
    for move in ("translate", "rotate"):
        item = dict(centre=140, radius_A=8.0, move=move, amplitude_A=0.3, seed=4)
        (a, fa), (b, fb) = bfr.moved_cell(cell, item), bfr.moved_cell(bfr._cell(), item)
        assert fa and fa == fb and np.array_equal(a.positions, b.positions)
        assert not np.array_equal(a.positions, cell.positions)
