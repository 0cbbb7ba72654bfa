"""Export to PyBaMM: ParameterValues, BPX round trip, parameter-set module, CLI."""
import importlib.util
import json
import math

import numpy as np
import pybamm
import pytest

from multiscale.battery.export import (
    DerivedParameter,
    export_parameters,
    load_derived,
    to_bpx,
    write_bpx,
    write_parameter_set_module,
)
from multiscale.cli import main
from multiscale.errors import InputError

ALPHA = DerivedParameter("Negative electrode charge transfer coefficient", 0.42, "1", (0.38, 0.46), "test: NEB fit")
CDL = DerivedParameter("Negative electrode double-layer capacity [F.m-2]", 0.15, "F.m-2", (0.12, 0.18), "test: PB")
D_E = DerivedParameter("Electrolyte diffusivity [m2.s-1]", {"x": [0.0, 1000.0, 3000.0], "y": [3e-10, 2.5e-10, 1e-10]},
                       "m2.s-1", None, "test: ML-MD", activation_energy_J_mol=15000.0)

# BPX files make PyBaMM warn about optional cell fields it defaults (thermal data absent).
pytestmark = pytest.mark.filterwarnings("ignore:.*not found in BPX file.*:UserWarning")


def _discharge(pv, model=None, t_end_s=2400.0):
    model = model or pybamm.lithium_ion.DFN()
    t = np.linspace(0.0, t_end_s, 121)
    sol = pybamm.Simulation(model, parameter_values=pv).solve(t, initial_soc=1.0)
    return sol["Voltage [V]"](t)


def test_export_replaces_and_lists_parameters():
    e = export_parameters([ALPHA, CDL, D_E])
    assert e.replaced == sorted([ALPHA.pybamm_name, CDL.pybamm_name, D_E.pybamm_name])
    assert e.parameter_values[ALPHA.pybamm_name] == 0.42
    # The table with Arrhenius scaling evaluates to the table at T_ref and scales with T.
    f = e.parameter_values[D_E.pybamm_name]
    at_ref = f(pybamm.Scalar(1000.0), pybamm.Scalar(298.15)).evaluate()
    hot = f(pybamm.Scalar(1000.0), pybamm.Scalar(318.15)).evaluate()
    at_ref, hot = np.ravel(at_ref)[0], np.ravel(hot)[0]
    assert at_ref == pytest.approx(2.5e-10)
    expected = math.exp(15000.0 / 8.314462618 * (1 / 298.15 - 1 / 318.15))
    assert float(hot / at_ref) == pytest.approx(expected, rel=1e-6)
    meta = e.metadata()
    assert meta["base_set"] == "Chen2020" and meta["derived"][0]["provenance"] == "test: NEB fit"


def test_bpx_round_trip_reproduces_base_set_dfn(tmp_path):
    """Chen2020 through BPX and back: the DFN voltage agrees with PyBaMM's own Chen2020."""
    path = write_bpx(export_parameters([]), tmp_path / "p.bpx.json")
    pv = pybamm.ParameterValues.create_from_bpx(str(path))
    v_bpx = _discharge(pv)
    v_ref = _discharge(pybamm.ParameterValues("Chen2020"))
    rmse_mV = 1e3 * np.sqrt(np.mean((v_bpx - v_ref) ** 2))
    assert rmse_mV < 1.0
    assert (tmp_path / "p.bpx.meta.json").is_file()


def test_exported_parameters_run_dfn_and_spme_and_keep_values(tmp_path):
    e = export_parameters([ALPHA, CDL])
    pv = pybamm.ParameterValues.create_from_bpx_obj(to_bpx(e))
    assert pv[ALPHA.pybamm_name] == pytest.approx(0.42)
    assert pv[CDL.pybamm_name] == pytest.approx(0.15)
    for model in (pybamm.lithium_ion.DFN(), pybamm.lithium_ion.SPMe()):
        v = _discharge(pv, model, t_end_s=600.0)
        assert np.all(np.isfinite(v)) and 3.0 < v[-1] < 4.2


def test_parameter_set_module_loads(tmp_path):
    path = write_parameter_set_module(export_parameters([ALPHA]), tmp_path / "my_cell.py", name="my_cell")
    spec = importlib.util.spec_from_file_location("my_cell", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pv = pybamm.ParameterValues(module.get_parameter_values())
    assert pv[ALPHA.pybamm_name] == pytest.approx(0.42)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(pybamm_name="Negative electrode magic", value=1.0, unit="1"), "not an exportable parameter"),
        (dict(pybamm_name=ALPHA.pybamm_name, value=float("nan"), unit="1"), "not finite"),
        (dict(pybamm_name=D_E.pybamm_name, value={"x": [1.0, 0.0], "y": [1.0, 2.0]}, unit="m2.s-1"), "increasing"),
    ],
)
def test_bad_derived_parameters(kwargs, message):
    with pytest.raises(InputError, match=message):
        export_parameters([DerivedParameter(**kwargs)])


def test_duplicate_and_unknown_base_set():
    with pytest.raises(InputError, match="given twice"):
        export_parameters([ALPHA, ALPHA])
    with pytest.raises(InputError, match="base_set"):
        export_parameters([], base_set="NoSuchSet2099")


def test_cli_export_from_json(tmp_path, capsys):
    src = tmp_path / "derived.json"
    src.write_text(json.dumps({"base_set": "Chen2020", "derived": [ALPHA.to_json()]}))
    out = tmp_path / "cell.bpx.json"
    with pytest.raises(SystemExit) as exc:
        main(["export", "pybamm", str(src), "--out", str(out)])
    assert exc.value.code == 0
    derived, base = load_derived(src)
    assert base == "Chen2020" and derived[0].interval95 == (0.38, 0.46)
    assert json.loads(out.read_text())["Parameterisation"]["User-defined"][ALPHA.pybamm_name] == 0.42


def test_cli_export_missing_source(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", "pybamm", str(tmp_path / "nope"), "--out", str(tmp_path / "x.json")])
    assert exc.value.code != 0
    assert "multiscale: error:" in capsys.readouterr().err
