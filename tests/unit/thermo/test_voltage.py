"""Voltage-dependent stability, insertion voltage profiles and their PyBaMM export."""
import math

import numpy as np
import pytest

from multiscale.errors import InputError
from multiscale.thermo import (PhaseDiagram, average_voltage, insertion_voltage_profile, stability_windows,
                               stable_phases_at)
from multiscale.thermo.grand_potential import chemical_potential_eV, grand_potential_per_atom_eV, voltage_windows
from multiscale.thermo.voltage import VoltageProfile

pmg_pd = pytest.importorskip("pymatgen.analysis.phase_diagram")
pmg_core = pytest.importorskip("pymatgen.core")

LI, CO, O = -1.91, -7.11, -4.93
# A toy Li–Co–O space built so that CoO2 → LiCo2O4 at 4.2 V and LiCo2O4 → LiCoO2 at 3.8 V
# (per added Li: E(LiCo2O4) = E(Co2O4) + E_Li − 4.2 eV; E(LiCoO2) = E(CoO2) + E_Li − 4.0 eV).
E_COO2 = CO + 2 * O - 3 * 1.25
TOY = [("Li", LI), ("Co", CO), ("O2", 2 * O), ("CoO2", E_COO2), ("LiCo2O4", 2 * E_COO2 + LI - 4.2),
       ("LiCoO2", E_COO2 + LI - 4.0), ("Li2O", 2 * LI + O - 3 * 1.9), ("CoO", CO + O - 2 * 1.2)]


def test_average_voltage_formula():
    assert average_voltage(TOY[5], TOY[3], TOY[0]) == pytest.approx(4.0, abs=1e-12)
    # host given per two formula units: same voltage
    assert average_voltage(("Li2Co2O4", 2 * TOY[5][1]), TOY[3], TOY[0]) == pytest.approx(4.0, abs=1e-12)
    with pytest.raises(InputError, match="differ in more than Li"):
        average_voltage(TOY[5], ("CoO", -10.0), TOY[0])
    with pytest.raises(InputError, match="more Li"):
        average_voltage(TOY[3], TOY[5], TOY[0])


def test_profile_plateaus_are_analytic():
    pd = PhaseDiagram(TOY)
    prof = insertion_voltage_profile(pd, "CoO2")
    np.testing.assert_allclose(prof.x_breaks, [0.0, 0.5, 1.0], atol=1e-12)
    np.testing.assert_allclose(prof.voltages_V, [4.2, 3.8], atol=1e-9)
    assert prof.phases == [("CoO2", "LiCo2O4"), ("LiCo2O4", "LiCoO2")] or prof.phases == [
        ("LiCo2O4", "CoO2"), ("LiCoO2", "LiCo2O4")]
    assert prof.average_voltage_V() == pytest.approx(4.0, abs=1e-9)
    assert prof.average_voltage_V(0.0, 0.5) == pytest.approx(4.2, abs=1e-9)
    assert prof.voltage_at(0.75) == pytest.approx(3.8) and prof.voltage_at(0.5) == pytest.approx(3.8)
    # LiCoO2: 1 e per 97.87 g/mol → 273.8 mAh/g
    assert prof.gravimetric_capacity_mAh_g() == pytest.approx(273.8, abs=0.2)
    with pytest.raises(InputError, match="out of range"):
        prof.voltage_at(1.5)
    back = VoltageProfile.from_dict(prof.to_dict())
    np.testing.assert_array_equal(back.voltages_V, prof.voltages_V)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_profile_matches_pymatgen_insertion_electrode(seed):
    """Random Li_xMnO2 states: hull voltages equal pymatgen's InsertionElectrode voltage pairs."""
    rng = np.random.default_rng(seed)
    from pymatgen.apps.battery.insertion_battery import InsertionElectrode

    mn, host_f = -9.16, -2.2
    e_host = mn + 2 * O + 3 * host_f
    xs = [0.25, 0.5, 0.75, 1.0]
    # 3.5 V on average, intermediate states randomly below (or slightly above) the straight line
    states = [("MnO2", e_host)] + [(f"Li{x}MnO2", e_host + x * (LI - 3.5) + (rng.uniform(-0.15, 0.03) if x < 1 else 0))
                                   for x in xs]
    entries = [("Li", LI), ("Mn", mn), ("O2", 2 * O)] + states
    prof = insertion_voltage_profile(PhaseDiagram(entries), "MnO2")
    from pymatgen.entries.computed_entries import ComputedEntry

    li_entry = ComputedEntry("Li", LI)
    ie = InsertionElectrode.from_entries([ComputedEntry(f, e) for f, e in states], li_entry)
    ref_v = [vp.voltage for vp in ie.voltage_pairs]

    def x_of(entry):
        return entry.composition["Li"] / entry.composition["Mn"]

    ref_x = [x_of(ie.voltage_pairs[0].entry_charge)] + [x_of(vp.entry_discharge) for vp in ie.voltage_pairs]
    assert len(ref_v) >= 2
    np.testing.assert_allclose(prof.voltages_V, ref_v, atol=1e-9)
    np.testing.assert_allclose(prof.x_breaks, ref_x, atol=1e-9)
    assert prof.average_voltage_V() == pytest.approx(ie.get_average_voltage(), abs=1e-9)


def test_stability_windows_consistent_with_profile_and_pymatgen():
    pd = PhaseDiagram(TOY)
    wins = {w.name: w for w in stability_windows(pd)}
    assert wins["LiCo2O4"].min_potential_V == pytest.approx(3.8) and wins["LiCo2O4"].max_potential_V == pytest.approx(4.2)
    assert wins["CoO2"].min_potential_V == pytest.approx(4.2) and math.isinf(wins["CoO2"].max_potential_V)
    assert wins["Li"].max_potential_V == 0.0 and math.isinf(wins["Li"].min_potential_V)
    assert "CoO" in wins and wins["Li2O"].min_potential_V == pytest.approx(0.0)
    # grand-potential phase diagram of pymatgen at several voltages: the same stable phases
    pe = [pmg_pd.PDEntry(pmg_core.Composition(f), e, name=f) for f, e in TOY]
    for v in (0.5, 1.5, 3.0, 3.9, 4.5):
        gpd = pmg_pd.GrandPotentialPhaseDiagram(pe, {pmg_core.Element("Li"): chemical_potential_eV(pd, v)})
        ref = sorted(e.original_entry.name for e in gpd.stable_entries)
        ours = sorted(e.name for e in stable_phases_at(pd, v) if e.name != "Li")
        assert ours == ref, v
    edges = [w["min_potential_V"] for w in voltage_windows(pd)]
    assert any(abs(e - 3.8) < 1e-9 for e in edges) and any(abs(e - 4.2) < 1e-9 for e in edges)


def test_grand_potential_sign_convention():
    """Φ = E − μ_Li N_Li with μ_Li = μ_metal − eV: higher V lowers μ_Li and raises Φ of lithiated phases."""
    pd = PhaseDiagram(TOY)
    lco = pd.entries[5]
    assert chemical_potential_eV(pd, 1.0) == pytest.approx(LI - 1.0)
    g1, g2 = (grand_potential_per_atom_eV(pd, lco, v) for v in (3.0, 4.0))
    assert g2 - g1 == pytest.approx(1.0 / 3.0)   # one Li per three host atoms, ΔV = 1 V
    with pytest.raises(InputError, match="element"):
        stability_windows(pd, element="Na")
    with pytest.raises(InputError, match="potential_V"):
        chemical_potential_eV(pd, math.nan)


def test_profile_bad_input():
    pd = PhaseDiagram(TOY)
    with pytest.raises(InputError, match="Fe"):
        insertion_voltage_profile(pd, "FePO4")
    with pytest.raises(InputError, match="x_max"):
        insertion_voltage_profile(pd, "CoO2", x_max=-1.0)
    with pytest.raises(InputError, match="no stable"):
        insertion_voltage_profile(PhaseDiagram(TOY[:4]), "CoO2")
    # beyond the most lithiated phase the conversion plateaus follow, at lower voltages
    conv = insertion_voltage_profile(pd, "CoO2", x_max=4.0)
    assert conv.x_max == 4.0 and np.all(np.diff(conv.voltages_V) < 0)


def test_ocp_export_evaluates_and_runs_in_pybamm():
    import pybamm

    prof = insertion_voltage_profile(PhaseDiagram(TOY), "CoO2")
    ocp = prof.to_pybamm_ocp(step_width=0.02)
    for sto, v in ((0.2, 4.2), (0.8, 3.8)):
        assert ocp(pybamm.Scalar(sto)).evaluate() == pytest.approx(v, abs=1e-9)
    assert ocp(pybamm.Scalar(0.5)).evaluate() == pytest.approx(4.0, abs=1e-9)   # midpoint of the ramp
    params = pybamm.ParameterValues("Chen2020")
    params["Positive electrode OCP [V]"] = ocp
    c_max = params["Maximum concentration in positive electrode [mol.m-3]"]
    params["Initial concentration in positive electrode [mol.m-3]"] = 0.7 * c_max
    model = pybamm.lithium_ion.SPM()
    sim = pybamm.Simulation(model, parameter_values=params)
    sol = sim.solve([0, 300])
    volts = sol["Voltage [V]"].entries
    ocp_n = sol["Negative electrode bulk open-circuit potential [V]"].entries
    ocp_p = sol["Positive electrode bulk open-circuit potential [V]"].entries
    np.testing.assert_allclose(ocp_p, 3.8, atol=1e-6)     # on the LiCoO2/LiCo2O4 plateau throughout
    assert np.all(volts < ocp_p - ocp_n) and np.all(volts > ocp_p - ocp_n - 0.2)
