"""HybridSPMe cut-off: the *corrected* voltage, not the bare SPMe's, decides where the run ends.

The guarded SPMe is solved with its voltage events widened (robust_spme.GUARD_VOLTAGE_LOW/HIGH),
so a profile where the plain SPMe reaches 2.5 V early runs on as long as V_SPMe + ΔV̂ stays within
the parameter set's cut-offs, and the trace ends at the last profile point before V_SPMe + ΔV̂
leaves them (the convention of ``solve_pybamm`` for the DFN: points up to the event).
A constant-offset stub corrector makes the crossing point exact and independent of the shipped weights.
"""
import numpy as np
import pytest

from multiscale.battery import HybridSPMe
from multiscale.battery.datagen import solve_pybamm
from multiscale.battery.envelope import Envelope
from multiscale.battery.protocols import cc, random_piecewise_constant
from multiscale.battery.robust_spme import GUARD_VOLTAGE_HIGH, GUARD_VOLTAGE_LOW, guard_parameter_values


class _OffsetCorrector:
    """Stands in for ResidualCorrector: ΔV̂ = constant offset, zero spread."""

    def __init__(self, offset_V: float):
        self.offset_V = float(offset_V)

    def _check_fitted(self):
        return None

    def predict_sequence(self, features, time_s):
        n = np.asarray(features).shape[0]
        return np.full(n, self.offset_V), np.zeros(n)


def _hybrid(offset_V: float) -> HybridSPMe:
    return HybridSPMe(_OffsetCorrector(offset_V), Envelope())


T, SOC0 = 298.15, 0.25
PROFILE = cc(1.0, 2400.0, 5.0)  # 1C discharge from 25 % SOC: plain SPMe reaches 2.5 V after ~13 min


@pytest.fixture(scope="module")
def plain_spme():
    return solve_pybamm("SPMe", PROFILE.time_s, PROFILE.current_A, ambient_temperature_K=T, initial_soc=SOC0)


def test_guard_widens_only_the_voltage_events():
    from multiscale.battery.datagen import base_parameter_values

    pv = base_parameter_values()
    g = guard_parameter_values(pv)
    assert float(g["Lower voltage cut-off [V]"]) == GUARD_VOLTAGE_LOW < float(pv["Lower voltage cut-off [V]"])
    assert float(g["Upper voltage cut-off [V]"]) == GUARD_VOLTAGE_HIGH > float(pv["Upper voltage cut-off [V]"])
    # the hybrid's own cut-offs stay those of the parameter set
    assert _hybrid(0.0).voltage_cutoffs_V == (float(pv["Lower voltage cut-off [V]"]),
                                              float(pv["Upper voltage cut-off [V]"]))


def _check_ends_at_first_crossing(model, df, lo):
    full = model.simulate(PROFILE.time_s, PROFILE.current_A, ambient_temperature_K=T, initial_soc=SOC0,
                          stop_at_cutoff=False)
    v_full = full["Voltage [V]"].to_numpy()
    n = len(df)
    assert np.all(df["Voltage [V]"].to_numpy() >= lo)
    assert n < len(full) and v_full[n] < lo  # the next profile point is past the cut-off
    np.testing.assert_allclose(df["Voltage [V]"].to_numpy(), v_full[:n])
    assert df.attrs["termination"] == f"Minimum voltage cut-off at t = {PROFILE.time_s[n]:g} s"


def test_hybrid_runs_past_the_plain_spme_cutoff_when_the_corrected_voltage_is_above_it(plain_spme):
    model = _hybrid(+0.15)
    lo, _ = model.voltage_cutoffs_V
    df = model.simulate(PROFILE.time_s, PROFILE.current_A, ambient_temperature_K=T, initial_soc=SOC0)
    n_plain = plain_spme["Voltage [V]"].size
    assert n_plain < PROFILE.time_s.size  # the plain SPMe stopped on its own cut-off ...
    assert len(df) > n_plain  # ... the hybrid did not (the end of discharge is steep: a few samples)
    assert df["SPMe voltage [V]"].min() < lo  # its SPMe went below 2.5 V, the hybrid voltage did not
    assert not df["Electrolyte depleted"].any()  # 1C: the electrolyte stays far from depletion
    _check_ends_at_first_crossing(model, df, lo)


def test_hybrid_ends_where_the_corrected_voltage_crosses_the_cutoff(plain_spme):
    model = _hybrid(-0.15)
    lo, _ = model.voltage_cutoffs_V
    df = model.simulate(PROFILE.time_s, PROFILE.current_A, ambient_temperature_K=T, initial_soc=SOC0)
    assert 1 < len(df) < plain_spme["Voltage [V]"].size  # earlier than the plain SPMe
    _check_ends_at_first_crossing(model, df, lo)
    # without the cut-off the trace runs on to the guarded SPMe's own (widened) limit
    full = model.simulate(PROFILE.time_s, PROFILE.current_A, ambient_temperature_K=T, initial_soc=SOC0,
                          stop_at_cutoff=False)
    assert full.attrs["termination"].startswith("SPMe stopped") or len(full) == PROFILE.time_s.size


def test_upper_cutoff_on_charge():
    model = _hybrid(+0.1)
    _, hi = model.voltage_cutoffs_V
    p = cc(-1.0, 1800.0, 5.0)
    df = model.simulate(p.time_s, p.current_A, ambient_temperature_K=T, initial_soc=0.5)
    assert 1 < len(df) < p.time_s.size
    assert np.all(df["Voltage [V]"].to_numpy() <= hi)
    assert df.attrs["termination"].startswith("Maximum voltage cut-off")


def test_shipped_hybrid_runs_on_where_the_plain_spme_depletes():
    # ~3C holds at 40 °C: the plain SPMe's electrolyte depletes and its voltage reaches 2.5 V within
    # two minutes; the DFN runs for ~30 min. The hybrid must not stop with the plain SPMe.
    q = random_piecewise_constant(1, 600, 5.0)
    plain = solve_pybamm("SPMe", q.time_s, q.current_A, ambient_temperature_K=313.15, initial_soc=0.7)
    df = HybridSPMe.load().simulate(q.time_s, q.current_A, ambient_temperature_K=313.15, initial_soc=0.7)
    assert plain["Time [s]"][-1] < 120.0
    assert df["Time [s]"].iloc[-1] > 600.0
    # ... and marks where its own (guarded) SPMe electrolyte is depleted: the known weak regime
    assert df["Electrolyte depleted"].dtype == bool
    assert 0 < df["Electrolyte depleted"].sum() < len(df)
