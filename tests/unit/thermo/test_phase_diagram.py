"""Convex hull: agreement with pymatgen, invariances, decomposition, serialisation, plots."""
import json

import numpy as np
import pytest

from multiscale.errors import InputError
from multiscale.thermo import Entry, PhaseDiagram

pmg_pd = pytest.importorskip("pymatgen.analysis.phase_diagram")
pmg_core = pytest.importorskip("pymatgen.core")

MU = {"Li": -1.91, "Co": -7.11, "O": -4.93, "P": -5.41, "Fe": -8.47, "Mn": -9.16}


def random_entries(rng, elements, n, *, max_amount=4, spread=(-1.2, 0.3)):
    """Elemental references (with higher-energy polymorphs) and random compounds."""
    entries = [(el, MU[el]) for el in elements] + [(el, MU[el] + 0.05 + rng.random()) for el in elements]
    for _ in range(n):
        amounts = rng.integers(0, max_amount + 1, size=len(elements))
        if (amounts > 0).sum() < 2:
            continue
        formula = "".join(f"{el}{a}" for el, a in zip(elements, amounts) if a)
        n_at = amounts.sum()
        energy = sum(a * MU[el] for el, a in zip(elements, amounts)) + n_at * rng.uniform(*spread)
        entries.append((formula, energy))
    return entries


def pymatgen_reference(entries):
    pe = [pmg_pd.PDEntry(pmg_core.Composition(f), e, name=f"{i}") for i, (f, e) in enumerate(entries)]
    return pmg_pd.PhaseDiagram(pe), pe


@pytest.mark.parametrize("elements, n", [(["Li", "Co", "O"], 300), (["Li", "Fe", "P", "O"], 600),
                                         (["Li", "Mn", "O"], 80), (["Li", "O"], 40)])
def test_e_above_hull_matches_pymatgen(rng, elements, n):
    entries = random_entries(rng, elements, n)
    ours = PhaseDiagram(entries)
    ref, pe = pymatgen_reference(entries)
    expected = np.array([ref.get_e_above_hull(e) for e in pe])
    np.testing.assert_allclose(ours.e_above_hull_all(), expected, rtol=0, atol=1e-8)
    for k in rng.choice(len(entries), size=10, replace=False):
        assert ours.e_above_hull_per_atom(ours.entries[k]) == pytest.approx(expected[k], abs=1e-8)
    stable_ref = sorted(int(e.name) for e in ref.stable_entries)
    assert sorted(ours.entries.index(e) for e in ours.stable_entries) == stable_ref
    assert np.all(ours.e_above_hull_all() > -1e-10)


def test_decomposition_and_formation_energy_match_pymatgen(rng):
    entries = random_entries(rng, ["Li", "Co", "O"], 150)
    ours = PhaseDiagram(entries)
    ref, pe = pymatgen_reference(entries)
    for k in rng.choice(len(entries), size=25, replace=False):
        dec = ours.decomposition(ours.entries[k])
        dec_ref = ref.get_decomposition(pe[k].composition)
        got = {ours.entries.index(e): frac for e, frac in dec.phases.items()}
        want = {int(e.name): frac for e, frac in dec_ref.items()}
        assert got.keys() == want.keys()
        for i in got:
            assert got[i] == pytest.approx(want[i], abs=1e-9)
        assert ours.formation_energy_per_atom(ours.entries[k]) == pytest.approx(ref.get_form_energy_per_atom(pe[k]),
                                                                                abs=1e-10)


def test_invariant_under_reference_shift_and_element_order(rng):
    """Shifting every μ_el by a constant per element (E → E + Σ n_el δ_el) leaves ΔE_hull unchanged."""
    elements = ["Li", "Fe", "P", "O"]
    entries = random_entries(rng, elements, 200)
    base = PhaseDiagram(entries).e_above_hull_all()
    delta = dict(zip(elements, rng.normal(0, 3, size=4)))
    shifted = [(f, e + sum(n * delta[el] for el, n in Entry(f, e).composition.items())) for f, e in entries]
    np.testing.assert_allclose(PhaseDiagram(shifted).e_above_hull_all(), base, atol=1e-9)
    perm = np.random.default_rng(1).permutation(len(entries))
    reordered = PhaseDiagram([entries[i] for i in perm]).e_above_hull_all()
    np.testing.assert_allclose(reordered, base[perm], atol=1e-9)


def test_analytic_binary_hull():
    # Li–O with Li2O (−2 eV/atom formation) and Li2O2 (−1.6; the Li2O–O2 tie line is at −1.5
    # there, so Li2O2 is on the hull); LiO2 (−0.5) lies above the Li2O2–O2 tie line.
    li, o = -1.9, -4.9
    pd = PhaseDiagram([("Li", li), ("O2", 2 * o), ("Li2O", 2 * li + o - 3 * 2.0),
                       ("Li2O2", 2 * li + 2 * o - 4 * 1.6), ("LiO2", li + 2 * o - 3 * 0.5)])
    assert pd.stable_formulas == ["Li", "Li2O", "LiO", "O2"]   # reduced formulas: Li2O2 → LiO
    # LiO2: x_O = 2/3 between Li2O2 (x_O = 1/2, −1.6) and O2 (x_O = 1, 0): hull −1.6·2/3
    assert pd.e_above_hull_per_atom("LiO2") == pytest.approx(-0.5 + 1.6 * 2 / 3, abs=1e-12)
    dec = pd.decomposition("LiO2")
    assert {e.reduced_formula: f for e, f in dec.phases.items()} == pytest.approx({"LiO": 2 / 3, "O2": 1 / 3})
    assert pd.formation_energy_per_atom("Li2O") == pytest.approx(-2.0)
    assert str(dec) == "0.6667 LiO + 0.3333 O2"


def test_new_compound_and_formula_queries():
    pd = PhaseDiagram([("Li", -1.9), ("O2", -9.8), ("Li2O", -14.3)])
    new = Entry("Li2O2", -18.0, "peroxide candidate")
    hull = -14.3 / 3 * 0.75 + (-4.9) * 0.25          # 3/4 of Li2O atoms + 1/4 O
    assert pd.e_above_hull_per_atom(new) == pytest.approx(-18.0 / 4 - hull)
    assert pd.e_above_hull_per_atom("Li4O2") == 0.0
    with pytest.raises(InputError, match="not among the entries"):
        pd.e_above_hull_per_atom("Li2O2")
    with pytest.raises(InputError, match="outside this phase diagram"):
        pd.decomposition("LiCoO2")


def test_serialisation_round_trip(rng):
    pd = PhaseDiagram(random_entries(rng, ["Li", "Co", "O"], 60))
    text = pd.to_json()
    back = PhaseDiagram.from_json(text)
    np.testing.assert_array_equal(back.e_above_hull_all(), pd.e_above_hull_all())
    assert back.stable_formulas == pd.stable_formulas
    assert json.loads(text)["facets"] == back.to_dict()["facets"]
    with pytest.raises(InputError):
        PhaseDiagram.from_dict({"@class": "something else"})
    with pytest.raises(InputError):
        PhaseDiagram.from_json("{not json")


def test_single_element_and_no_compounds():
    pd = PhaseDiagram([("Li", -1.9), ("Li", -1.8, "Li-hcp")])
    assert pd.stable_formulas == ["Li"] and pd.e_above_hull_per_atom("Li-hcp") == pytest.approx(0.1)
    pd2 = PhaseDiagram([("Li", -1.9), ("O2", -9.8), ("LiO", -5.0)])   # positive formation energy
    assert pd2.stable_formulas == ["Li", "O2"]
    assert pd2.e_above_hull_per_atom("LiO") == pytest.approx(-2.5 - 0.5 * (-1.9 - 4.9))


@pytest.mark.parametrize("elements", [["Li", "O"], ["Li", "Co", "O"], ["Li", "Fe", "P", "O"]])
def test_plot(rng, elements):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = PhaseDiagram(random_entries(rng, elements, 30)).plot()
    assert ax.has_data()
    plt.close(ax.figure)


def test_degenerate_coplanar_energies_match_pymatgen(rng):
    """Formation energies on a coarse grid put many compounds exactly on tie lines/planes."""
    elements = ["Li", "Co", "O"]
    entries = [(el, MU[el]) for el in elements]
    for a in range(0, 4):
        for b in range(0, 4):
            for c in range(0, 4):
                if (a > 0) + (b > 0) + (c > 0) < 2:
                    continue
                f = "".join(f"{el}{k}" for el, k in zip(elements, (a, b, c)) if k)
                e_f = -0.25 * rng.integers(0, 5)        # 0, −0.25 … −1 eV/atom
                entries.append((f, a * MU["Li"] + b * MU["Co"] + c * MU["O"] + (a + b + c) * e_f))
    seen, unique = set(), []
    for f, e in entries:             # drop exact duplicates (e.g. LiCoO and Li2Co2O2 at equal e_f)
        key = (Entry(f, e).key, round(e / Entry(f, e).n_atoms, 12))
        if key not in seen:
            seen.add(key)
            unique.append((f, e))
    ours = PhaseDiagram(unique)
    ref, pe = pymatgen_reference(unique)
    expected = np.array([ref.get_e_above_hull(e) for e in pe])
    np.testing.assert_allclose(ours.e_above_hull_all(), expected, rtol=0, atol=1e-8)
    for e in ours.entries:           # decompositions reproduce the hull energy and the composition
        dec = ours.decomposition(e)
        x = sum(frac * np.array([p.fraction(el) for el in ours.elements]) for p, frac in dec.phases.items())
        np.testing.assert_allclose(x, [e.fraction(el) for el in ours.elements], atol=1e-9)
        e_mix = sum(frac * p.energy_per_atom_eV for p, frac in dec.phases.items())
        assert e_mix == pytest.approx(e.energy_per_atom_eV - ours.e_above_hull_per_atom(e), abs=1e-9)
