"""Reading reference MD trajectories from one or several label databases."""
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.db import connect

from multiscale.atomistic.validation import reference_md_frames
from multiscale.errors import InputError


def _write_md(path, task, n_frames, field=0.0, temperature=300.0):
    with connect(str(path)) as db:
        for step in range(0, 5 * n_frames, 5):
            a = Atoms("LiF", positions=[[0, 0, 0], [0, 0, 1.6 + 0.001 * step]], cell=[8, 8, 8], pbc=True)
            a.calc = SinglePointCalculator(a, energy=-1.0, forces=np.zeros((2, 3)))
            db.write(a, split="train", task=task, step=step, field_V_per_A=field, temperature_K=temperature)


def test_frames_from_two_databases_equal_those_from_one(tmp_path):
    one, first, second = tmp_path / "one.db", tmp_path / "a.db", tmp_path / "b.db"
    for task in ("s0", "s1", "s2"):
        _write_md(one, task, 8)
    _write_md(first, "s0", 8)
    _write_md(first, "s1", 8)
    _write_md(second, "s2", 8)
    _write_md(second, "hot", 8, temperature=600.0)  # other (F, T): not selected
    merged = reference_md_frames([first, second], discard_fraction=0.25)
    single = reference_md_frames(one, discard_fraction=0.25)
    assert [(a.info["task"], a.info["step"]) for a in merged] == [(a.info["task"], a.info["step"]) for a in single]
    assert len(merged) == 3 * 6  # first quarter (2 of 8 frames) of each trajectory dropped
    assert min(a.info["step"] for a in merged) == 10


def test_a_trajectory_in_two_databases_is_refused(tmp_path):
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    _write_md(first, "s0", 4)
    _write_md(second, "s0", 4)
    with pytest.raises(InputError, match="db_path: task 's0' is in both"):
        reference_md_frames([first, second])
    with pytest.raises(InputError, match="db_path"):
        reference_md_frames([])
    with pytest.raises(InputError, match="no reference MD frames at field 0.1"):
        reference_md_frames(first, field_V_per_A=0.1)
