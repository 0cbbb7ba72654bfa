"""HybridSPMe: the shipped model against PyBaMM's DFN, the guarded SPMe, envelope flags, errors, CLI."""
import numpy as np
import pandas as pd
import pytest

from multiscale.battery import HybridSPMe
from multiscale.battery.datagen import solve_pybamm
from multiscale.battery.protocols import cc, random_piecewise_constant
from multiscale.battery.robust_spme import robust_spme_states
from multiscale.cli import main
from multiscale.errors import InputError


@pytest.fixture(scope="module")
def model():
    return HybridSPMe.load()


def test_shipped_model_loads_with_its_parts(model):
    assert model.parameter_set == "Chen2020"
    assert model.nominal_capacity_Ah == pytest.approx(5.0)
    assert model.corrector.n_members >= 3
    assert model.envelope.temperature_min_K >= 273.0 and model.envelope.temperature_max_K <= 318.2


def test_hybrid_closer_to_dfn_than_spme_at_2c(model):
    # 2C discharge for 10 min at 25 °C: SPMe is ~10-30 mV off the DFN (DESIGN.md), the hybrid much less.
    p = cc(2.0, 600.0, 5.0)
    df = model.simulate(p.time_s, p.current_A, ambient_temperature_K=298.15, initial_soc=0.9)
    assert list(df.columns[:5]) == ["Time [s]", "Current [A]", "Voltage [V]", "SPMe voltage [V]", "Correction [V]"]
    assert np.allclose(df["Voltage [V]"], df["SPMe voltage [V]"] + df["Correction [V]"])
    dfn = solve_pybamm("DFN", p.time_s, p.current_A, ambient_temperature_K=298.15, initial_soc=0.9)
    n = min(len(df), dfn["Voltage [V]"].size)
    e_h = df["Voltage [V]"].to_numpy()[:n] - dfn["Voltage [V]"][:n]
    e_s = df["SPMe voltage [V]"].to_numpy()[:n] - dfn["Voltage [V]"][:n]
    rms = lambda e: float(np.sqrt(np.mean(e**2)))  # noqa: E731
    assert rms(e_s) > 3e-3
    assert rms(e_h) < rms(e_s) / 3
    assert not df["Out of envelope"].any()


def test_guarded_spme_is_pybamm_spme_away_from_depletion_and_runs_on_where_it_stops():
    p = cc(1.0, 600.0, 5.0)
    g = robust_spme_states(p.time_s, p.current_A, ambient_temperature_K=298.15, initial_soc=1.0)
    s = solve_pybamm("SPMe", p.time_s, p.current_A, ambient_temperature_K=298.15, initial_soc=1.0)
    assert np.allclose(g["Voltage [V]"], s["Voltage [V]"], atol=1e-6)
    # ~3C holds at 40 °C: plain SPMe's electrolyte depletes and it stops within a minute,
    # the DFN runs for ~30 min; the guarded SPMe runs on.
    q = random_piecewise_constant(1, 600, 5.0)
    plain = solve_pybamm("SPMe", q.time_s, q.current_A, ambient_temperature_K=313.15, initial_soc=0.7)
    guarded = robust_spme_states(q.time_s, q.current_A, ambient_temperature_K=313.15, initial_soc=0.7)
    assert plain["Time [s]"][-1] < 120.0
    assert guarded["Time [s]"][-1] == pytest.approx(q.time_s[-1])


def test_envelope_flags(model):
    p = cc(4.0, 60.0, 5.0)  # 4C: above the trained C-rate
    df = model.simulate(p.time_s, p.current_A, ambient_temperature_K=298.15, initial_soc=0.9)
    assert df["Out of envelope"].all()
    p = cc(0.5, 60.0, 5.0)
    df = model.simulate(p.time_s, p.current_A, ambient_temperature_K=328.15, initial_soc=0.9)  # 55 °C
    assert df["Out of envelope"].all()


def test_bad_input_raises(model):
    t = np.array([0.0, 10.0, 20.0])
    with pytest.raises(InputError, match="non-finite"):
        model.simulate(t, [1.0, np.nan, 1.0])
    with pytest.raises(InputError, match="non-finite"):
        model.simulate(t, [1.0, np.inf, 1.0])
    with pytest.raises(InputError, match="strictly increasing"):
        model.simulate([0.0, 10.0, 10.0], [1.0, 1.0, 1.0])
    with pytest.raises(InputError, match="ambient_temperature_K"):
        model.simulate(t, [1.0, 1.0, 1.0], ambient_temperature_K=400.0)
    with pytest.raises(InputError, match="initial_soc"):
        model.simulate(t, [1.0, 1.0, 1.0], initial_soc=1.2)


def test_cli_simulate(tmp_path, capsys):
    p = cc(1.0, 120.0, 5.0)
    prof = tmp_path / "p.csv"
    pd.DataFrame({"Time [s]": p.time_s, "Current [A]": p.current_A}).to_csv(prof, index=False)
    out = tmp_path / "o.csv"
    with pytest.raises(SystemExit) as exc:
        main(["hybrid", "simulate", "--profile", str(prof), "--out", str(out), "--temperature-K", "298.15",
              "--initial-soc", "0.9"])
    assert exc.value.code == 0
    df = pd.read_csv(out)
    assert {"Voltage [V]", "SPMe voltage [V]", "Correction [V]"} <= set(df.columns)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"Time [s]": [0.0, 0.0], "Current [A]": [1.0, 1.0]}).to_csv(bad, index=False)
    with pytest.raises(SystemExit) as exc:
        main(["hybrid", "simulate", "--profile", str(bad), "--out", str(out)])
    assert exc.value.code != 0
    assert "strictly increasing" in capsys.readouterr().err
