"""BMS demo: SOC of every cell of a synthetic pack from measured current and voltages.

A pack of 8 series cells (Chen2020, 25 °C) with ±3 % capacity and ±10 % resistance spread and
initial SOCs between 0.65 and 0.9 runs a 20-minute drive-cycle-like profile. The "truth" is the
hybrid model stepped with each cell's true parameters; the BMS sees the current through a sensor
with a 50 mA offset and each cell voltage with 2 mV noise, knows only the nominal cell, and
starts every cell at SOC 0.5. One ``Estimator`` call per sample filters all 8 cells at once.
Saves ``bms_pack_soc.png`` into $MULTISCALE_EXAMPLE_OUT (default: a temporary folder).
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

from multiscale.battery.estimator import Estimator  # noqa: E402
from multiscale.battery.protocols import drive_cycle  # noqa: E402
from multiscale.errors import DataFileError  # noqa: E402

out_dir = Path(os.environ.get("MULTISCALE_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="bms_example_"))
out_dir.mkdir(parents=True, exist_ok=True)

try:
    from multiscale.battery import HybridSPMe

    model = HybridSPMe.load()
    label = "hybrid SPMe (shipped corrector)"
except DataFileError:
    model = None   # no trained corrector shipped: the fast SPMe alone
    label = "fast SPMe (no shipped corrector found)"

rng = np.random.default_rng(2026)
n_cells = 8
capacity = rng.normal(1.0, 0.03, n_cells)
resistance = rng.normal(1.0, 0.10, n_cells)
soc_true0 = rng.uniform(0.65, 0.9, n_cells)
profile = drive_cycle(seed=4, duration_s=1200.0, nominal_capacity_Ah=5.0, peak_c_rate=2.0, dt_s=1.0)
current = profile.current_A

truth = Estimator(model, n_cells, initial_soc=soc_true0, capacity_scale=capacity, resistance_scale=resistance)
bms = Estimator(model, n_cells, initial_soc=0.5, initial_soc_std=0.25, voltage_noise_V=0.002)
soc_true, soc_est, soc_std = [truth.state.soc], [bms.state.soc], [np.sqrt(bms.state.soc_variance)]
t0 = time.perf_counter()
for k in range(1, current.size):
    dt = profile.time_s[k] - profile.time_s[k - 1]
    # series string: every cell carries the pack current (the larger cells at a lower C-rate)
    v_cells = truth.step(np.full(n_cells, current[k]), dt)
    measured_v = v_cells + rng.normal(0.0, 0.002, n_cells)
    bms.step(current[k] + 0.05, dt, measured_voltage_V=measured_v)
    soc_true.append(truth.state.soc)
    soc_est.append(bms.state.soc)
    soc_std.append(np.sqrt(bms.state.soc_variance))
wall = time.perf_counter() - t0
soc_true, soc_est, soc_std = np.array(soc_true), np.array(soc_est), np.array(soc_std)
t_min = profile.time_s / 60.0
late = t_min >= 10.0
print(f"model: {label}")
print(f"{current.size - 1} samples x {n_cells} cells in {wall:.2f} s "
      f"({1e6 * wall / (current.size - 1):.0f} us per pack step incl. the truth model)")
print(f"max |SOC error| after 10 min: {np.max(np.abs(soc_est - soc_true)[late]):.4f}")
print(f"final SOC true:      {np.round(soc_true[-1], 3)}")
print(f"final SOC estimated: {np.round(soc_est[-1], 3)}")

fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
ax1.plot(profile.time_s / 60.0, current, lw=0.8)
ax1.set_ylabel("Pack current [A]")
ax1.set_title(f"8-cell pack, {label}")
colors = plt.cm.viridis(np.linspace(0, 1, n_cells))
for c in range(n_cells):
    ax2.plot(t_min, soc_true[:, c], color=colors[c], lw=1.5)
    ax2.plot(t_min, soc_est[:, c], "--", color=colors[c], lw=1.0)
    ax2.fill_between(t_min, soc_est[:, c] - 2 * soc_std[:, c], soc_est[:, c] + 2 * soc_std[:, c],
                     color=colors[c], alpha=0.15)
ax2.set_ylim(0.45, soc_true.max() + 0.05)   # the EKF starts every cell at 0.5 (σ = 0.25)
ax2.set_xlabel("Time [min]")
ax2.set_ylabel("SOC (solid: truth, dashed: EKF ±2σ)")
fig.tight_layout()
fig.savefig(out_dir / "bms_pack_soc.png", dpi=120)
print(f"figure: {out_dir / 'bms_pack_soc.png'}")
