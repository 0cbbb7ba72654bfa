"""benchmarks/bench_descriptor_cost.py: the anchor and a message grid are timed on the MD cell, and
unknown grids name themselves."""
import pytest

from multiscale.commands.bench import load_benchmark

bdc = load_benchmark("descriptor_cost")


def test_message_grid_is_timed_against_the_anchor():
    out = bdc.main(["--calls", "1", "--grids", "vff_messages"])
    assert list(out["grids"]) == ["default", "vff_messages"]
    assert out["grids"]["default"]["cost_vs_default"] == 1.0
    g = out["grids"]["vff_messages"]
    assert g["messages"] == dict(n_channels=16, n_radial=4, cutoff_A=4.0)
    assert g["seconds_per_call"] > 0 and out["cell_atoms"] > 200


def test_unknown_grid_names_itself():
    with pytest.raises(SystemExit, match="soap"):
        bdc.main(["--grids", "vff,soap"])
