"""Nernst–Planck transport: (1) a blocking cell charged by a small voltage step (Poisson-coupled,
RC time λ_D·L/D), (2) Li⁺ relaxing in a fixed interfacial φ(x) with a position-dependent D(x)
to its Boltzmann profile, with the amount of Li⁺ conserved to round-off.
Run: python examples/nernst_planck_charging.py
"""
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from multiscale.continuum import NernstPlanck1D, Species, debye_length_m  # noqa: E402
from multiscale.units import faraday_C_mol, thermal_voltage_V  # noqa: E402

out = Path(os.environ.get("MULTISCALE_EXAMPLE_OUT") or tempfile.mkdtemp())

# (1) RC charging of a blocking cell, 10 mM, 100 λ_D wide, 2 mV step
c0, d = 10.0, 1e-9
lam = debye_length_m(c0)
length = 100 * lam
s = np.linspace(0, 1, 301)
x = length * (s - 0.95 * np.sin(2 * np.pi * s) / (2 * np.pi))      # fine near both walls
cell = NernstPlanck1D(x, [Species("Na+", 1, d), Species("Cl-", -1, d)], relative_permittivity=78.5,
                      boundary_potential_V=(0.001, -0.001))
tau = lam * (length / 2) / d
run = cell.run({"Na+": c0, "Cl-": c0}, 3 * tau, dt_s=tau / 100)
final = cell.steady_state({"Na+": c0, "Cl-": c0})
half = x <= length / 2


def charge(cp, cm):
    return -faraday_C_mol * (cp - cm)[..., half] @ cell._vol[half]


q = charge(run.concentration_mol_m3["Na+"], run.concentration_mol_m3["Cl-"])
q_inf = charge(final["Na+"], final["Cl-"])
sel = (run.time_s > 0.5 * tau) & (run.time_s < 3 * tau)
tau_fit = -1 / np.polyfit(run.time_s[sel], np.log(1 - q[sel] / q_inf), 1)[0]
print(f"RC time: fitted {tau_fit * 1e9:.2f} ns, λ_D·L/D = {tau * 1e9:.2f} ns")

# (2) Li⁺ in a fixed interfacial potential with D(x) dipping 10× near the interface
z = np.linspace(0, 3e-9, 1000)
phi = 0.1 * np.exp(-z / 0.4e-9) - 0.03 * np.exp(-((z - 0.8e-9) / 0.2e-9) ** 2)
diff = 1e-9 * (1 - 0.9 * np.exp(-z / 0.5e-9))
model = NernstPlanck1D(z, [Species("Li+", 1, diff)], potential_V=phi)
res = model.run({"Li+": 1000.0}, 2e-8, dt_s=2e-11, save_every=100)
amount = res.amount_mol_m2("Li+")
boltz = np.exp(-phi / thermal_voltage_V(298.15))
boltz *= amount[0] / (model._vol @ boltz)
print(f"1000 cells × 1000 implicit steps: amount drift {np.max(np.abs(amount - amount[0])) / amount[0]:.1e}, "
      f"deviation from Boltzmann at t = 20 ns {np.max(np.abs(res['Li+'] / boltz - 1)):.1e}")

fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
a1.plot(run.time_s / tau, q / q_inf, label="Nernst–Planck–Poisson")
a1.plot(run.time_s / tau, 1 - np.exp(-run.time_s / tau), "--", label="1 − exp(−t/τ)")
a1.set_xlabel("t / (λ_D L / D)")
a1.set_ylabel("Electrode charge / final")
a1.legend()
res.plot(ax=a2, n_curves=4)
a2.plot(z * 1e9, boltz, "k:", label="Boltzmann")
fig.tight_layout()
fig.savefig(out / "nernst_planck_charging.png", dpi=110)
print(f"figure in {out}")
