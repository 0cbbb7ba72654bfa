"""Formulas, entries and the validation of entry sets (bad input names the entry)."""
import math

import pytest

from multiscale.errors import InputError
from multiscale.thermo import Entry, PhaseDiagram, parse_formula, reduced_formula
from multiscale.thermo.entries import formation_energy_per_atom


@pytest.mark.parametrize("formula, expected", [
    ("LiCoO2", {"Li": 1, "Co": 1, "O": 2}),
    ("Ca3(PO4)2", {"Ca": 3, "P": 2, "O": 8}),
    ("Li0.5CoO2", {"Li": 0.5, "Co": 1, "O": 2}),
    ("Mg(OH)2", {"Mg": 1, "O": 2, "H": 2}),
    (" Li Fe P O4 ", {"Li": 1, "Fe": 1, "P": 1, "O": 4}),
])
def test_parse_formula(formula, expected):
    assert parse_formula(formula) == pytest.approx(expected)


@pytest.mark.parametrize("formula, expected", [("Li2Co2O4", "LiCoO2"), ("Li0.5Co0.5O", "LiCoO2"),
                                               ("Fe2O3", "Fe2O3"), ("O", "O2"), ("Mn4O8", "MnO2")])
def test_reduced_formula(formula, expected):
    assert reduced_formula(formula) == expected


@pytest.mark.parametrize("bad", ["", "Xx2O", "Li(CoO2", "LiCoO2)", "2Li", "Li-Co"])
def test_bad_formulas_raise(bad):
    with pytest.raises(InputError):
        parse_formula(bad)


def test_entry_per_atom_and_formation_energy():
    e = Entry("Li2Co2O4", -53.04)
    assert e.n_atoms == 8 and e.energy_per_atom_eV == pytest.approx(-6.63)
    assert e.reduced_formula == "LiCoO2" and e.name == "Li2Co2O4"
    mu = {"Li": -1.91, "Co": -7.11, "O": -4.93}
    # ΔE_f = E/N − Σ x μ = −6.63 − (−1.91 − 7.11 − 2·4.93)/4
    assert formation_energy_per_atom(e, mu) == pytest.approx(-6.63 + (1.91 + 7.11 + 9.86) / 4)


def test_unknown_element_names_the_entry():
    with pytest.raises(InputError, match=r"entries\[2\].*'Qq'"):
        PhaseDiagram([("Li", -1.9), ("O2", -9.8), ("LiQqO2", -20.0)])


@pytest.mark.parametrize("energy", [math.nan, math.inf, -math.inf, "abc"])
def test_non_finite_energy_names_the_entry(energy):
    with pytest.raises(InputError, match="Li2O"):
        PhaseDiagram([("Li", -1.9), ("O2", -9.8), ("Li2O", energy)])


def test_missing_reference_names_the_entry_and_element():
    with pytest.raises(InputError, match=r"'LiCoO2' contains Co.*no elemental reference"):
        PhaseDiagram([("Li", -1.9), ("O2", -9.8), ("LiCoO2", -26.0)])


def test_duplicate_entries_raise_but_polymorphs_are_kept():
    with pytest.raises(InputError, match="duplicates"):
        PhaseDiagram([("Li", -1.9), ("O2", -9.8), ("Li2O", -14.3), ("Li4O2", -28.6)])
    pd = PhaseDiagram([("Li", -1.9), ("O2", -9.8), ("Li2O", -14.3), ("Li2O", -14.0)])
    assert [e.name for e in pd.entries][-2:] == ["Li2O", "Li2O (2)"]
    assert pd.e_above_hull_per_atom("Li2O (2)") == pytest.approx(0.1)
    assert pd.e_above_hull_per_atom("Li2O") == 0.0  # a formula means its lowest polymorph
    with pytest.raises(InputError, match="name 'x'"):
        PhaseDiagram([("Li", -1.9), ("O2", -9.8), ("Li2O", -14.3, "x"), ("Li2O2", -20.0, "x")])


def test_bad_entry_shapes():
    with pytest.raises(InputError, match=r"entries\[1\]"):
        PhaseDiagram([("Li", -1.9), 3.0])
    with pytest.raises(InputError, match="empty"):
        PhaseDiagram([])
    with pytest.raises(InputError):
        Entry({"Li": -1.0}, -2.0)


def test_package_docstring_example_runs():
    import doctest

    import multiscale.thermo

    result = doctest.testmod(multiscale.thermo)
    assert result.attempted >= 2 and result.failed == 0
