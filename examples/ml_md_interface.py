"""ML-MD of Li⁺/BF₄⁻ in ethylene carbonate on graphene with the shipped field-aware ensemble.

Loads the shipped potential, builds the default interface, applies a field of 0.05 V/Å along
+z (normal to the electrode), runs a short Langevin MD writing a trajectory with per-frame
force uncertainty, and reports charges, dipole and the ensemble spread. Output goes to
$MULTISCALE_EXAMPLE_OUT (default: a temporary folder).
"""
import os
import tempfile
from pathlib import Path

import numpy as np

from multiscale.atomistic import default_system, load_potential
from multiscale.atomistic.md import run_md

out = Path(os.environ.get("MULTISCALE_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="ml_md_"))
out.mkdir(parents=True, exist_ok=True)

calc = load_potential()
print(f"ML ensemble of {len(calc.ensemble.members)} members trained on {calc.reference}, "
      f"fields {calc.field_range_V_per_A} V/Å")
calc.set(field_V_per_A=0.05)
atoms = default_system(seed=7)
atoms.calc = calc
print(f"E = {atoms.get_potential_energy():.3f} eV, sum of charges = {calc.results['charges'].sum():.2e} e, "
      f"mu_z = {calc.results['dipole'][2]:.3f} e·Å, max sigma_F = {calc.results['force_uncertainty'].max():.3f} eV/Å")
li = int(np.nonzero(atoms.numbers == 3)[0][0])
print(f"Li charge {calc.results['charges'][li]:+.3f} e")

res = run_md(atoms, n_steps=20, timestep_fs=0.5, ensemble="langevin", temperature_K=300.0,
             initial_temperature_K=300.0, interval=5, trust_eV_per_A=0.5, on_untrusted="flag",
             trajectory=out / "ml_md.traj", seed=0)
print(f"{len(res.time_fs)} frames to {res.trajectory}; max sigma_F per frame: "
      f"{np.round(res.max_force_uncertainty_eV_per_A, 3).tolist()} eV/Å; untrusted frames: {res.n_untrusted}")
ax = res.plot()
ax[0].figure.savefig(out / "ml_md.png", dpi=80)
