"""Cell stage of ``multiscale run``: PyBaMM DFN, SPMe and the hybrid SPMe on a drive-like profile,
all on the exported parameters."""
from __future__ import annotations

import logging

import numpy as np

from ..errors import DataFileError, NotBuiltError

log = logging.getLogger(__name__)


def drive_like_profile(duration_s: float, *, nominal_capacity_Ah: float, seed: int = 0, dt_s: float = 1.0):
    """A drive-cycle-like current [A] (positive = discharge): smoothed random accelerations and
    braking (regeneration down to −0.5C) around a mean discharge of ~0.8C, peaks ≤ 2.5C.

    Built in code because PyBaMM's drive-cycle files are downloaded at run time.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, duration_s + dt_s, dt_s)
    n_knots = max(4, int(duration_s / 20.0))
    knots_t = np.linspace(0.0, duration_s, n_knots)
    knots_c = rng.normal(0.8, 0.7, n_knots)
    c_rate = np.interp(t, knots_t, knots_c)
    c_rate = np.clip(c_rate, -0.5, 2.5)
    return t, c_rate * nominal_capacity_Ah


def run_cell(parameter_values, *, duration_s: float, initial_soc: float, temperature_K: float, seed: int):
    """Simulate DFN, SPMe (PyBaMM) and, when built, the hybrid SPMe on the same profile."""
    import pybamm

    pv = parameter_values.copy()
    pv.update({"Ambient temperature [K]": temperature_K, "Initial temperature [K]": temperature_K})
    capacity = float(pv["Nominal cell capacity [A.h]"])
    t, current = drive_like_profile(duration_s, nominal_capacity_Ah=capacity, seed=seed)
    pv.update({"Current function [A]": pybamm.Interpolant(t, current, pybamm.t, interpolator="linear")})
    out = {"time_s": t, "current_A": current}
    # the export carries the interfacial layer as a lumped series resistance; PyBaMM applies it only
    # with this option (with 0 Ω, as in Chen2020, the option changes nothing)
    options = {"contact resistance": "true"}
    for name, model in (("DFN", pybamm.lithium_ion.DFN(options)), ("SPMe", pybamm.lithium_ion.SPMe(options))):
        sim = pybamm.Simulation(model, parameter_values=pv, solver=pybamm.IDAKLUSolver())
        sol = sim.solve(t_eval=[t[0], t[-1]], t_interp=t, initial_soc=initial_soc)
        v = np.full(t.shape, np.nan)
        n = len(sol.t)
        v[:n] = sol["Voltage [V]"].entries
        out[name] = v
    try:
        from ..battery import HybridSPMe  # noqa: F401  (built by the hybrid-model layer)

        model = HybridSPMe.load()
        df = model.simulate(t, current, ambient_temperature_K=temperature_K, initial_soc=initial_soc)
        out["hybrid"] = df["Voltage [V]"].to_numpy()
        if "Voltage spread [V]" in df:
            out["hybrid_spread"] = df["Voltage spread [V]"].to_numpy()
    except (ImportError, NotBuiltError, DataFileError) as exc:
        log.warning("hybrid SPMe not available: %s", exc)
    return out


def plot_cell(result: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 5), sharex=True, gridspec_kw={"height_ratios": [1, 2]})
    t_min = result["time_s"] / 60.0
    ax1.plot(t_min, result["current_A"], color="k", lw=0.8)
    ax1.set_ylabel("Current [A]")
    for name, style in (("DFN", "-"), ("SPMe", "--"), ("hybrid", ":")):
        if name in result:
            ax2.plot(t_min, result[name], style, label=name)
    if "hybrid_spread" in result:
        h, s = result["hybrid"], result["hybrid_spread"]
        ax2.fill_between(t_min, h - 2 * s, h + 2 * s, alpha=0.3, label="hybrid ±2σ")
    ax2.set_xlabel("Time [min]")
    ax2.set_ylabel("Voltage [V]")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
