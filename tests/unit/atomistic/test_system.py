"""The default interface system: composition, neutrality, reproducibility, no overlaps."""
import numpy as np
import pytest

from multiscale.atomistic import default_system
from multiscale.errors import InputError


def test_training_cell():
    a = default_system(seed=3)
    sym = a.get_chemical_symbols()
    assert len(a) == 60 and sym.count("Li") == 1 and sym.count("B") == 1 and sym.count("F") == 4
    assert a.get_initial_charges().sum() == 0.0
    assert a.pbc.all() and a.cell[2, 2] - a.positions[:, 2].max() >= 15.0  # vacuum decouples z images
    d = a.get_all_distances(mic=True)[np.triu_indices(len(a), 1)]
    assert d.min() > 1.0
    np.testing.assert_array_equal(default_system(seed=3).positions, a.positions)
    assert not np.allclose(default_system(seed=4).positions, a.positions)


def test_md_cell_and_bad_size():
    b = default_system(seed=1, size="md")
    assert len(b) == 300
    with pytest.raises(InputError, match="size"):
        default_system(size="huge")
