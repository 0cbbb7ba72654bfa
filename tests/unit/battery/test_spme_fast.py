"""Fast numpy SPMe against PyBaMM's own SPMe, plus conservation, exactness and bad input."""
import numpy as np
import pytest

pybamm = pytest.importorskip("pybamm")

from multiscale.battery.spme_fast import (  # noqa: E402
    STATE_COLUMNS, STATUS_SOC, STATUS_VOLTAGE, FastSPMe,
)
from multiscale.battery.spme_parameters import build_tables  # noqa: E402
from multiscale.errors import InputError  # noqa: E402


@pytest.fixture(scope="module")
def tables():
    return build_tables(pybamm.ParameterValues("Chen2020"), 298.15)


def _pulses(seed, n_steps, low_A=-5.0, high_A=10.0):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n_steps:
        out += [rng.uniform(low_A, high_A)] * int(rng.integers(5, 40))
    return np.array(out[:n_steps])


def _pybamm_steps(current_A, dt_s, initial_soc, temperature_K=298.15):
    """PyBaMM SPMe driven sample by sample with Simulation.step (zero-order hold)."""
    pv = pybamm.ParameterValues("Chen2020")
    pv.set_initial_state(initial_soc)
    pv.update({"Current function [A]": "[input]", "Ambient temperature [K]": temperature_K,
               "Initial temperature [K]": temperature_K})
    sim = pybamm.Simulation(pybamm.lithium_ion.SPMe(), parameter_values=pv)
    v = []
    for i in current_A:
        sol = sim.step(dt_s, inputs={"Current function [A]": float(i)}, save=False)
        v.append(float(sol["Voltage [V]"].entries[-1]))
    return np.array(v)


def test_state_columns_are_the_pinned_interface():
    from multiscale.battery.features import SPME_STATE_VARIABLES

    assert tuple(STATE_COLUMNS) == tuple(SPME_STATE_VARIABLES)


def test_1C_discharge_matches_pybamm_spme(tables):
    pv = pybamm.ParameterValues("Chen2020")
    t = np.arange(0.0, 3001.0, 10.0)
    sol = pybamm.Simulation(pybamm.lithium_ion.SPMe(), parameter_values=pv).solve(
        [0, 3000], t_interp=t, initial_soc=1.0)
    ref = {k: sol[k].entries for k in STATE_COLUMNS[1:]}
    f = FastSPMe(tables=tables, initial_soc=1.0)
    got = np.array([f.step(5.0, 10.0)["Voltage [V]"][0] for _ in t[1:]])
    err = got - ref["Voltage [V]"][1:]
    assert np.sqrt(np.mean(err ** 2)) < 0.5e-3
    assert np.max(np.abs(err)) < 1e-3
    # the internal states the corrector uses agree as well
    out = f.outputs(5.0)
    for k in STATE_COLUMNS[2:]:
        assert out[k][0] == pytest.approx(ref[k][-1], abs=2e-4), k


def test_dynamic_profile_matches_pybamm_step(tables):
    current = _pulses(1, 300)
    ref = _pybamm_steps(current, 1.0, 0.7)
    f = FastSPMe(tables=tables, initial_soc=0.7)
    got = np.array([f.step(i, 1.0)["Voltage [V]"][0] for i in current])
    err = got - ref
    assert np.sqrt(np.mean(err ** 2)) < 0.5e-3


def test_linear_hold_matches_pybamm_interpolant(tables):
    t = np.arange(0.0, 301.0, 5.0)
    current = _pulses(2, t.size)
    pv = pybamm.ParameterValues("Chen2020")
    pv.update({"Current function [A]": pybamm.Interpolant(t, current, pybamm.t, interpolator="linear")})
    sol = pybamm.Simulation(pybamm.lithium_ion.SPMe(), parameter_values=pv).solve(
        [0, t[-1]], t_interp=t, initial_soc=0.6)
    f = FastSPMe(tables=tables, initial_soc=0.6, current_hold="linear")
    f.state_matrix(np.array([current[0]]))
    f._i_prev = np.array([current[0]]) / f.area_m2
    got = np.array([f.step(i, 5.0)["Voltage [V]"][0] for i in current[1:]])
    err = got - sol["Voltage [V]"].entries[1:]
    assert np.sqrt(np.mean(err ** 2)) < 0.5e-3


def test_cold_cell_matches_pybamm():
    t = np.arange(0.0, 601.0, 10.0)
    pv = pybamm.ParameterValues("Chen2020")
    pv.update({"Ambient temperature [K]": 273.15, "Initial temperature [K]": 273.15})
    sol = pybamm.Simulation(pybamm.lithium_ion.SPMe(), parameter_values=pv).solve(
        [0, 600], t_interp=t, initial_soc=0.9)
    f = FastSPMe(ambient_temperature_K=273.15, initial_soc=0.9)
    got = np.array([f.step(5.0, 10.0)["Voltage [V]"][0] for _ in t[1:]])
    assert np.sqrt(np.mean((got - sol["Voltage [V]"].entries[1:]) ** 2)) < 0.5e-3


def test_charge_and_salt_are_conserved(tables):
    f = FastSPMe(tables=tables, n_cells=2, initial_soc=0.8)
    dt = np.array([1.0, 3.0])
    current = _pulses(3, 200)
    charge = np.zeros(2)
    for i in current:
        f.step(i, dt)
        charge += i * dt
    # SOC from the particles' mean stoichiometry = coulomb counting
    np.testing.assert_allclose(f.soc, 0.8 - charge / (3600.0 * f.capacity_Ah), atol=1e-12)
    # total salt ∫ ε c_e dx is conserved (the reaction sources of both electrodes cancel)
    tb = f.tables
    n = f._n_e
    eps = np.repeat([tb.negative.porosity, tb.separator_porosity, tb.positive.porosity], n)
    dx = np.repeat([tb.negative.thickness_m, tb.separator_thickness_m, tb.positive.thickness_m], n) / n
    np.testing.assert_allclose(f._c @ (eps * dx), tb.c_e_init_mol_m3 * np.sum(eps * dx), rtol=1e-10)


def test_rest_gives_open_circuit_voltage_and_relaxes(tables):
    f = FastSPMe(tables=tables, initial_soc=0.5)
    out = f.outputs(0.0)
    assert out["Voltage [V]"][0] == pytest.approx(out["Open-circuit voltage [V]"][0], abs=1e-12)
    for _ in range(60):
        f.step(10.0, 1.0)
    v_load = f.outputs(0.0)["Voltage [V]"][0]
    f.step(0.0, 20000.0)   # one exact step of many hours
    relaxed = f.outputs(0.0)
    assert relaxed["Voltage [V]"][0] == pytest.approx(relaxed["Open-circuit voltage [V]"][0], abs=1e-9)
    xs = relaxed["X-averaged negative particle surface stoichiometry"][0]
    assert xs == pytest.approx(relaxed["Average negative particle stoichiometry"][0], abs=1e-6)
    assert v_load != pytest.approx(relaxed["Voltage [V]"][0], abs=1e-3)


def test_one_long_step_equals_many_short_steps_for_constant_current(tables):
    a = FastSPMe(tables=tables, initial_soc=0.9)
    b = FastSPMe(tables=tables, initial_soc=0.9)
    va = a.step(5.0, 10.0)["Voltage [V]"][0]
    for _ in range(10):
        vb = b.step(5.0, 1.0)["Voltage [V]"][0]
    # exact for the linear parts; the explicit D_e(c) term changes it by micro-volts only
    assert va == pytest.approx(vb, abs=2e-5)


def test_cells_are_independent_and_vectorised(tables):
    current = np.array([5.0, -2.0, 10.0])
    pack = FastSPMe(tables=tables, n_cells=3, initial_soc=[0.9, 0.5, 0.7])
    for _ in range(20):
        vp = pack.step(current, 2.0)["Voltage [V]"]
    for k, soc in enumerate([0.9, 0.5, 0.7]):
        one = FastSPMe(tables=tables, initial_soc=soc)
        for _ in range(20):
            v1 = one.step(current[k], 2.0)["Voltage [V]"][0]
        assert vp[k] == pytest.approx(v1, abs=1e-12)


def test_capacity_and_resistance_scales(tables):
    pack = FastSPMe(tables=tables, n_cells=3, initial_soc=0.8, capacity_scale=[1.0, 2.0, 1.0],
                    resistance_scale=[1.0, 1.0, 1.5])
    for _ in range(30):
        out = pack.step([5.0, 10.0, 5.0], 1.0)
    v = out["Voltage [V]"]
    # a cell twice as large at twice the current is the same cell
    assert v[1] == pytest.approx(v[0], abs=1e-12)
    np.testing.assert_allclose(pack.capacity_Ah[1], 2 * pack.capacity_Ah[0])
    ohmic = out["X-averaged electrolyte ohmic losses [V]"][0] + out["X-averaged solid phase ohmic losses [V]"][0]
    assert v[2] - v[0] == pytest.approx(0.5 * ohmic, abs=1e-12)


@pytest.mark.parametrize("current", [np.nan, np.inf, [1.0, 2.0]])
def test_bad_current_raises(tables, current):
    f = FastSPMe(tables=tables)
    with pytest.raises(InputError, match="current_A"):
        f.step(current, 1.0)


@pytest.mark.parametrize("dt", [0.0, -1.0, np.nan, "x"])
def test_bad_dt_raises(tables, dt):
    f = FastSPMe(tables=tables)
    with pytest.raises(InputError, match="dt_s"):
        f.step(1.0, dt)


@pytest.mark.parametrize("kw", [{"initial_soc": 1.2}, {"n_cells": 0}, {"capacity_scale": -1.0},
                                {"current_hold": "cubic"}, {"ambient_temperature_K": -3.0}])
def test_bad_construction_raises(tables, kw):
    with pytest.raises(InputError):
        FastSPMe(**({"tables": tables} | kw) if "ambient_temperature_K" not in kw else kw)


def test_driving_past_empty_is_flagged_not_nan(tables):
    f = FastSPMe(tables=tables, initial_soc=0.05)
    for _ in range(40):
        out = f.step(10.0, 30.0)
    assert np.all(np.isfinite(out["Voltage [V]"]))
    assert f.soc[0] < 0.0
    assert f.status[0] & STATUS_SOC
    assert f.status[0] & STATUS_VOLTAGE


def test_uniform_lerp_equals_numpy_interp():
    from multiscale.battery.spme_parameters import UniformLerp

    rng = np.random.default_rng(3)
    g = np.linspace(-2.0, 600.0, 2409)
    y = np.sqrt(g + 3.0) + np.sin(g)
    lut = UniformLerp(g, y)
    assert lut.uniform
    x = np.concatenate([rng.uniform(-50.0, 650.0, 500), g[:5], g[-5:], [g[0] - 1.0, g[-1] + 1.0]])
    ref = np.interp(x, g, y)
    np.testing.assert_allclose(lut(x), ref, rtol=0, atol=1e-12)
    out, work, k = np.empty_like(x), np.empty_like(x), np.empty(x.shape, dtype=np.intp)
    assert lut(x, out=out, work=work, index=k) is out
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)
    view = np.stack([x, x, x], 1)[:, ::2]                     # strided input
    np.testing.assert_allclose(lut(view), np.interp(view, g, y), rtol=0, atol=1e-12)
    ng = np.concatenate([[0.0, 1e-3], np.linspace(0.01, 1.0, 50)])   # non-uniform: np.interp
    assert not UniformLerp(ng, ng ** 2).uniform
    np.testing.assert_allclose(UniformLerp(ng, ng ** 2)(x[:20] / 600.0), np.interp(x[:20] / 600.0, ng, ng ** 2))


def test_pack_and_single_cell_paths_agree(tables):
    """The vectorised (n > 1) and one-cell fast paths give the same states and outputs."""
    socs = np.linspace(0.3, 0.9, 12)
    pack = FastSPMe(tables=tables, n_cells=12, initial_soc=socs, current_hold="linear",
                    capacity_scale=np.linspace(0.9, 1.1, 12), resistance_scale=np.linspace(1.1, 0.9, 12))
    ones = [FastSPMe(tables=tables, initial_soc=s, current_hold="linear", capacity_scale=c, resistance_scale=r)
            for s, c, r in zip(socs, np.linspace(0.9, 1.1, 12), np.linspace(1.1, 0.9, 12))]
    cur = _pulses(6, 80)
    for k, i in enumerate(cur):
        dt = 7.0 if k % 17 == 0 else 1.0          # some sub-stepped (> NONLINEAR_STEP_S) steps
        out = pack.step(i * np.ones(12), dt)
        for j, one in enumerate(ones):
            o1 = one.step(float(i), dt)
            if k % 20 == 19:
                for name in STATE_COLUMNS:
                    assert out[name][j] == pytest.approx(o1[name][0], rel=1e-10, abs=1e-12)
    for j, one in enumerate(ones):
        np.testing.assert_allclose(pack.get_state()["X"][j], one.get_state()["X"][0], rtol=1e-10, atol=1e-13)
