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


def test_electrode_atoms_are_the_graphene_sheet_only():
    """Found from geometry: the 24 sheet carbons of the training cell, none of the EC carbons."""
    from multiscale.atomistic.system import electrode_atoms

    a = default_system(3)
    mask = electrode_atoms(a)
    assert mask.sum() == 24
    np.testing.assert_array_equal(mask, a.get_tags() == 0)
    big = default_system(0, size="md")
    assert electrode_atoms(big).sum() == 128
