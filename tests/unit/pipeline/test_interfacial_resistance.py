"""Interfacial layer → PyBaMM: the Li⁺ resistance of the near-electrode layer from D(z) and φ(z),
its interval, and the lumped "Contact resistance [Ohm]" that the cell's DFN sees."""
import numpy as np
import pybamm
import pytest

from multiscale.pipeline.continuum_stage import (contact_resistance_Ohm, interface_transport, resistance_interval)
from multiscale.pipeline.runner import StageContext
from multiscale.pipeline.config import load_run_config
from multiscale.pipeline.stages import stage_continuum
from multiscale.units import faraday_C_mol, gas_constant_J_mol_K

RT_F2 = gas_constant_J_mol_K * 300.0 / faraday_C_mol**2


def _profile(d_layers, err_frac=0.05, potential=None):
    z = np.linspace(0.0, 1.2e-9, 41)
    zl = np.linspace(0.1e-9, 1.1e-9, len(d_layers))
    d = np.asarray(d_layers, dtype=float)
    return {"z_m": z.tolist(), "diffusivity_m2_s": np.interp(z, zl, d).tolist(),
            "potential_V": (np.zeros_like(z) if potential is None else potential).tolist(),
            "layer_z_m": zl.tolist(), "layer_diffusivity_m2_s": d.tolist(),
            "layer_diffusivity_error_m2_s": (err_frac * d).tolist(), "source": "test"}


def test_flat_potential_and_uniform_d_give_the_nernst_einstein_resistance():
    """No field, D uniform: c = c_bulk everywhere and R = L RT / (F² D c), σ = F² D c / RT."""
    p = _profile([2e-9] * 5)
    tr = interface_transport(p["z_m"], p["diffusivity_m2_s"], p["potential_V"], temperature_K=300.0,
                             concentration_mol_m3=1000.0)
    np.testing.assert_allclose(tr["concentration_mol_m3"], 1000.0, rtol=1e-9)
    assert tr["area_specific_resistance_Ohm_m2"] == pytest.approx(1.2e-9 * RT_F2 / (2e-9 * 1000.0), rel=1e-9)
    assert tr["effective_diffusivity_m2_s"] == pytest.approx(2e-9, rel=1e-9)


def test_resistance_uses_the_bulk_concentration_not_the_mean_field_depletion():
    """A repulsive φ(z) depletes the mean-field c(z), but R stays L RT / (F² D_eff c_b): the
    Boltzmann factor in the molecular φ(z) is not the ion's potential of mean force."""
    z = np.linspace(0.0, 1.2e-9, 41)
    phi = 0.3 * np.exp(-z / 0.3e-9)
    p = _profile([1e-9, 2e-9, 3e-9, 2e-9, 1e-9], potential=phi)
    tr = interface_transport(p["z_m"], p["diffusivity_m2_s"], phi, temperature_K=300.0, concentration_mol_m3=1000.0)
    assert tr["concentration_mol_m3"][0] < 1e-3 * tr["concentration_mol_m3"][-1]  # depleted at the wall
    assert tr["area_specific_resistance_Ohm_m2"] == pytest.approx(
        1.2e-9 * RT_F2 / (tr["effective_diffusivity_m2_s"] * 1000.0), rel=1e-9)


def test_resistance_interval_matches_monte_carlo_over_the_layers():
    p = _profile([1e-9, 2e-9, 3e-9, 2e-9, 1e-9], err_frac=0.05)
    tr = interface_transport(p["z_m"], p["diffusivity_m2_s"], p["potential_V"], temperature_K=300.0,
                             concentration_mol_m3=1000.0)
    low, high = resistance_interval(p, temperature_K=300.0, concentration_mol_m3=1000.0)
    assert low < tr["area_specific_resistance_Ohm_m2"] < high
    rng = np.random.default_rng(1)
    z, zl, d = (np.asarray(p[k]) for k in ("z_m", "layer_z_m", "layer_diffusivity_m2_s"))
    draws = [RT_F2 * np.trapezoid(1.0 / (np.interp(z, zl, d * (1 + rng.normal(0, 0.05, d.size))) * 1000.0), z)
             for _ in range(4000)]
    mc_low, mc_high = np.percentile(draws, [2.5, 97.5])
    assert low == pytest.approx(mc_low, rel=0.03) and high == pytest.approx(mc_high, rel=0.03)


def test_contact_resistance_divides_by_the_particle_surface_of_the_negative_electrode():
    pv = pybamm.ParameterValues("Chen2020")
    a = 3 * pv["Negative electrode active material volume fraction"] / pv["Negative particle radius [m]"]
    surface = a * pv["Negative electrode thickness [m]"] * pv["Electrode height [m]"] * pv["Electrode width [m]"]
    assert contact_resistance_Ohm(2.0, pv) == pytest.approx(2.0 / surface)
    assert surface > 1.0  # m²: a 5 Ah cell has square metres of particle surface


def test_continuum_stage_exports_the_layer_as_contact_resistance(tmp_path):
    config = load_run_config(None, fast=True)
    profile = _profile([1e-9, 2e-9, 3e-9, 2e-9, 1e-9])
    ctx = StageContext(config=config, out_dir=tmp_path, results={"analysis": {"interface_profile": profile}},
                       quiet=True)
    out = stage_continuum(ctx)
    (contact,) = [d for d in out["derived"] if d["pybamm_name"] == "Contact resistance [Ohm]"]
    asr = out["parameters"]["Interfacial Li+ resistance, area-specific"]
    pv = pybamm.ParameterValues(config["cell"]["parameter_set"])
    assert contact["value"] == pytest.approx(contact_resistance_Ohm(asr["value"], pv))
    lo, hi = contact["interval95"]
    assert lo < contact["value"] < hi
    assert "solvent" in contact["provenance"] and "negative" in contact["provenance"]


def test_contact_resistance_round_trips_through_bpx_and_lowers_the_dfn_voltage(tmp_path):
    import warnings

    from multiscale.battery.export import DerivedParameter, export_parameters, write_bpx

    exp = export_parameters([DerivedParameter("Contact resistance [Ohm]", 0.02, "Ohm", provenance="test")])
    assert exp.replaced == ["Contact resistance [Ohm]"]
    path = write_bpx(exp, tmp_path / "p.bpx.json")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not found in BPX file.*")
        pv = pybamm.ParameterValues.create_from_bpx(str(path))
    assert pv["Contact resistance [Ohm]"] == pytest.approx(0.02)
    model = pybamm.lithium_ion.SPMe({"contact resistance": "true"})
    v = pybamm.Simulation(model, parameter_values=exp.parameter_values).solve([0, 60])["Voltage [V]"].entries
    base = pybamm.ParameterValues("Chen2020")
    v0 = pybamm.Simulation(model, parameter_values=base).solve([0, 60])["Voltage [V]"].entries
    current = base["Current function [A]"]
    assert v0[-1] - v[-1] == pytest.approx(0.02 * current, rel=1e-6)  # I·R on discharge
