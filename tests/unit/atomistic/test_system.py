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


def test_electrode_atoms_keep_stretched_and_touched_sheet_carbons():
    """A sheet carbon stays in the electrode when its bonds stretch to 1.7 Å (a hot sheet) or
    when an electrolyte carbon comes within bonding distance (four carbon neighbours)."""
    from multiscale.atomistic.system import electrode_atoms

    a = default_system(3)
    sheet = np.flatnonzero(electrode_atoms(a))
    hot = a.copy()
    hot.positions[sheet[0], 2] += 0.9  # bonds 1.42 → ~1.68 Å
    assert electrode_atoms(hot).sum() == 24
    touched = a.copy()
    ec_c = np.flatnonzero((a.numbers == 6) & (a.get_tags() != 0))[0]
    touched.positions[ec_c] = a.positions[sheet[0]] + [0.0, 0.0, 1.55]
    mask = electrode_atoms(touched)
    assert mask[sheet].all() and not mask[ec_c]
