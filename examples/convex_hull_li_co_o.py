"""Li–Co–O convex hull: stability, decomposition, voltage windows and a PyBaMM OCP.

Energies here are standard formation enthalpies at 298 K (elements in their standard states
at zero), so "total energy" = formation enthalpy per formula unit:

    Li2O −597.9, Li2O2 −634.3, CoO −237.9, Co3O4 −891.0, LiCoO2 −679.3   [kJ/mol]

(NBS/NIST tables; LiCoO2: Wang & Navrotsky, Solid State Ionics 166, 167 (2004)). CoO2 has no
measured enthalpy: it is placed so that Li + CoO2 → LiCoO2 releases 4.0 eV, close to the
measured average voltage of LiCoO2. With DFT or CHGNet total energies (``multiscale screen
... --calculator chgnet``) the same calls apply.

Writes hull.png, voltage_profile.png and phase_diagram.json to $MULTISCALE_EXAMPLE_OUT
(a temporary folder by default).
"""
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from multiscale.thermo import PhaseDiagram, insertion_voltage_profile, stability_windows  # noqa: E402
from multiscale.units import faraday_C_mol  # noqa: E402

out = Path(os.environ.get("MULTISCALE_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="convex_hull_"))
out.mkdir(parents=True, exist_ok=True)

KJ_MOL_TO_EV = 1e3 / faraday_C_mol          # 1 kJ/mol = 0.010364 eV per formula unit
enthalpy_kJ_mol = {"Li2O": -597.9, "Li2O2": -634.3, "CoO": -237.9, "Co3O4": -891.0, "LiCoO2": -679.3}
entries = [("Li", 0.0), ("Co", 0.0), ("O2", 0.0)]
entries += [(f, h * KJ_MOL_TO_EV) for f, h in enthalpy_kJ_mol.items()]
e_licoo2 = enthalpy_kJ_mol["LiCoO2"] * KJ_MOL_TO_EV
entries.append(("CoO2", e_licoo2 + 4.0))   # E(CoO2) = E(LiCoO2) − E(Li) + 4.0 eV

pd = PhaseDiagram(entries)
print(pd)
print("stable:", ", ".join(pd.stable_formulas))
for formula in ("LiCoO2", "CoO2", "Co3O4"):
    print(f"  {formula:7s} ΔE_f = {pd.formation_energy_per_atom(formula):+.3f} eV/atom, "
          f"E above hull = {pd.e_above_hull_per_atom(formula):.4f} eV/atom, decomposes to {pd.decomposition(formula)}")

print("\nstability against a Li/Li+ reservoir (V vs Li/Li+):")
for w in stability_windows(pd):
    print(f"  {w.name:7s} {w.min_potential_V:7.3f} … {w.max_potential_V:7.3f} V")

profile = insertion_voltage_profile(pd, "CoO2", x_max=2.0)
print("\nLi_x(CoO2) voltage profile, 0 ≤ x ≤ 2 (insertion, then conversion):")
print(profile.to_dataframe().to_string(index=False))
first = insertion_voltage_profile(pd, "CoO2")
print(f"average voltage CoO2 → LiCoO2: {first.average_voltage_V():.3f} V, "
      f"capacity {first.gravimetric_capacity_mAh_g():.0f} mAh/g")

ocp = first.to_pybamm_ocp()
import pybamm  # noqa: E402

print("PyBaMM OCP at stoichiometry 0.5:", float(ocp(pybamm.Scalar(0.5)).evaluate().item()), "V")

(out / "phase_diagram.json").write_text(pd.to_json())
assert PhaseDiagram.from_json((out / "phase_diagram.json").read_text()).stable_formulas == pd.stable_formulas
ax = pd.plot()
ax.figure.savefig(out / "hull.png", dpi=100, bbox_inches="tight")
plt.close(ax.figure)
ax = profile.plot()
ax.figure.savefig(out / "voltage_profile.png", dpi=100, bbox_inches="tight")
plt.close(ax.figure)
print("wrote", out)
