"""The run's bulk-transport step: shipped D_e(c, T) → summary parameters and the PyBaMM export."""
import math

import pytest

from multiscale.battery.export import DerivedParameter, _evaluate, export_parameters
from multiscale.pipeline import transport_stage
from multiscale.pipeline.config import load_run_config
from multiscale.units import gas_constant_J_mol_K


def _result(ea_J_mol=20e3):
    states = [dict(temperature_K=t, concentration_mol_L=0.9, D_salt_m2_s=1e-10, untrusted_fraction=0.5,
                   analysed_ps=30.0, D_Li_m2_s=1e-10, D_Li_error_m2_s=1e-11) for t in (300.0, 360.0)]
    table = dict(reference_temperature_K=300.0, concentration_mol_m3=[450.0, 900.0, 1350.0],
                 diffusivity_m2_s=[3e-10, 2e-10, 1e-10], diffusivity_error_m2_s=[2e-11, 2e-11, 2e-11],
                 activation_energy_J_mol=ea_J_mol, activation_energy_error_J_mol=4e3)
    return dict(model="m", model_sha256_16="x", method="test method", states=states, electrolyte_diffusivity=table)


@pytest.fixture
def shipped(monkeypatch):
    def use(result):
        monkeypatch.setattr("multiscale.atomistic.electrolyte_transport.shipped_diffusivity",
                            lambda model_name=None: (result, "shipped test set"))
    return use


def test_ml_md_diffusivity_goes_to_pybamm_with_arrhenius(tmp_path, shipped):
    shipped(_result())
    cfg = load_run_config()
    assert cfg["electrolyte"]["diffusivity"] == "ml-md"
    out = transport_stage.bulk_transport(cfg, tmp_path)
    assert (tmp_path / "bulk_diffusivity.png").is_file()
    (d,) = out["derived"]
    assert d["pybamm_name"] == "Electrolyte diffusivity [m2.s-1]" and d["activation_energy_J_mol"] == 20e3
    lo, hi = d["interval95"]  # at the configured 1000 mol/m³: the nearest table point, 900
    assert lo == pytest.approx(2e-10 - 1.96 * 2e-11) and hi == pytest.approx(2e-10 + 1.96 * 2e-11)
    assert "shipped" in d["provenance"] and len(out["parameters"]) == 4
    export = export_parameters([DerivedParameter(**d)])
    assert "Electrolyte diffusivity [m2.s-1]" in export.replaced
    pv = export.parameter_values
    # the table between its points at T_ref, and Arrhenius scaling away from it
    assert _evaluate(pv, "Electrolyte diffusivity [m2.s-1]", 675.0, 300.0)[0] == pytest.approx(2.5e-10)
    scale = math.exp(20e3 / gas_constant_J_mol_K * (1 / 300.0 - 1 / 330.0))
    assert _evaluate(pv, "Electrolyte diffusivity [m2.s-1]", 900.0, 330.0)[0] == pytest.approx(2e-10 * scale)


def test_non_positive_activation_energy_is_not_used(tmp_path, shipped):
    shipped(_result(ea_J_mol=-5e3))
    (d,) = transport_stage.bulk_transport(load_run_config(), tmp_path)["derived"]
    assert d["activation_energy_J_mol"] == 0.0 and "no temperature dependence" in d["provenance"]


def test_base_choice_reports_but_does_not_export(tmp_path, shipped):
    shipped(_result())
    cfg = load_run_config()
    cfg["electrolyte"]["diffusivity"] = "base"
    out = transport_stage.bulk_transport(cfg, tmp_path)
    assert "derived" not in out and out["parameters"] and "base set" in out["note"]


def test_missing_shipped_data_falls_back_with_reason(tmp_path, monkeypatch):
    monkeypatch.setattr("multiscale.atomistic.electrolyte_transport.shipped_diffusivity",
                        lambda model_name=None: (None, "no shipped bulk transport (data/x)"))
    out = transport_stage.bulk_transport(load_run_config(), tmp_path)
    assert out == {"note": "D_e from the base set: no shipped bulk transport (data/x)"}


def test_ml_md_diffusivity_round_trips_through_bpx(tmp_path, shipped):
    """The table and its Arrhenius factor survive BPX: PyBaMM's BPX reader gives the same D_e."""
    import warnings

    import pybamm

    from multiscale.battery.export import write_bpx

    shipped(_result())
    (d,) = transport_stage.bulk_transport(load_run_config(), tmp_path)["derived"]
    export = export_parameters([DerivedParameter(**d)])
    write_bpx(export, tmp_path / "p.bpx.json")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not found in BPX file.*")
        pv = pybamm.ParameterValues.create_from_bpx(str(tmp_path / "p.bpx.json"))
    for c, t in ((450.0, 298.15), (900.0, 298.15), (1350.0, 320.0)):
        want = _evaluate(export.parameter_values, "Electrolyte diffusivity [m2.s-1]", c, t)[0]
        assert _evaluate(pv, "Electrolyte diffusivity [m2.s-1]", c, t)[0] == pytest.approx(want, rel=0.02)


def test_single_concentration_exports_a_constant_with_arrhenius_through_bpx(tmp_path, shipped):
    """One surviving concentration: a number (not a table) × Arrhenius, which BPX stores as a flat table."""
    import warnings

    import pybamm

    from multiscale.battery.export import write_bpx

    res = _result()
    tab = res["electrolyte_diffusivity"]
    for k in ("concentration_mol_m3", "diffusivity_m2_s", "diffusivity_error_m2_s"):
        tab[k] = tab[k][:1]
    shipped(res)
    (d,) = transport_stage.bulk_transport(load_run_config(), tmp_path)["derived"]
    assert d["value"] == 3e-10
    export = export_parameters([DerivedParameter(**d)])
    write_bpx(export, tmp_path / "p.bpx.json")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not found in BPX file.*")
        pv = pybamm.ParameterValues.create_from_bpx(str(tmp_path / "p.bpx.json"))
    for c, t in ((300.0, 298.15), (1500.0, 310.0)):
        want = 3e-10 * math.exp(20e3 / gas_constant_J_mol_K * (1 / 300.0 - 1 / t))
        assert _evaluate(pv, "Electrolyte diffusivity [m2.s-1]", c, t)[0] == pytest.approx(want, rel=0.02)
