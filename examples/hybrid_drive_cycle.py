"""Hybrid SPMe + ML corrector on a drive-cycle-like profile, against PyBaMM's SPMe and DFN.

Builds a 20-minute synthetic drive cycle (peaks 2.5C, regenerative braking), runs the shipped
hybrid model at 20 °C from 80 % SOC, solves the DFN on the same current for reference, prints
the errors and saves a figure into $MULTISCALE_EXAMPLE_OUT (default: a temporary folder).
"""
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from multiscale.battery import HybridSPMe  # noqa: E402
from multiscale.battery.datagen import solve_pybamm  # noqa: E402
from multiscale.battery.hybrid import plot_result  # noqa: E402
from multiscale.battery.protocols import drive_cycle  # noqa: E402

out_dir = Path(os.environ.get("MULTISCALE_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="hybrid_example_"))
out_dir.mkdir(parents=True, exist_ok=True)

model = HybridSPMe.load()
profile = drive_cycle(seed=11, duration_s=1200.0, nominal_capacity_Ah=model.nominal_capacity_Ah, peak_c_rate=2.5)
conditions = {"ambient_temperature_K": 293.15, "initial_soc": 0.8}

t0 = time.perf_counter()
df = model.simulate(profile.time_s, profile.current_A, **conditions)
t_hybrid = time.perf_counter() - t0
t0 = time.perf_counter()
dfn = solve_pybamm("DFN", profile.time_s, profile.current_A, **conditions)
t_dfn = time.perf_counter() - t0

n = min(len(df), dfn["Voltage [V]"].size)
err_h = df["Voltage [V]"].to_numpy()[:n] - dfn["Voltage [V]"][:n]
err_s = df["SPMe voltage [V]"].to_numpy()[:n] - dfn["Voltage [V]"][:n]
print(f"envelope: {df.attrs['envelope']}; out-of-envelope rows: {int(df['Out of envelope'].sum())}")
print(f"SPMe   vs DFN: RMSE {1e3 * np.sqrt(np.mean(err_s**2)):.2f} mV, max {1e3 * np.abs(err_s).max():.2f} mV")
print(f"hybrid vs DFN: RMSE {1e3 * np.sqrt(np.mean(err_h**2)):.2f} mV, max {1e3 * np.abs(err_h).max():.2f} mV")
print(f"wall time: hybrid {t_hybrid:.2f} s, DFN {t_dfn:.2f} s")

fig, (ax1, ax2, ax3) = plt.subplots(3, 1, sharex=True, figsize=(7, 8))
profile.plot(ax=ax1)
plot_result(df, ax=ax2)
ax2.plot(df["Time [s]"][:n] / 60.0, dfn["Voltage [V]"][:n], ":k", label="DFN (reference)")
ax2.legend()
t_min = df["Time [s]"].to_numpy()[:n] / 60.0
ax3.plot(t_min, 1e3 * err_s, "--", label="SPMe − DFN")
ax3.plot(t_min, 1e3 * err_h, label="hybrid − DFN")
ax3.set_xlabel("Time [min]")
ax3.set_ylabel("Error [mV]")
ax3.legend()
fig.tight_layout()
fig.savefig(out_dir / "hybrid_drive_cycle.png", dpi=120)
print(f"figure written to {out_dir / 'hybrid_drive_cycle.png'}")
