"""Reactions stage of ``multiscale run``: α of the negative electrode from CI-NEB barriers E_a(φ).

The step scanned is Li⁺ leaving the graphite basal plane: Li in contact with the sheet over a
hollow site (``CONTACT_HEIGHT_A`` above it) → Li⁺ solvated in the EC/BF₄⁻ film (its relaxed
place in the packing). This is the oxidation direction (Li(contact) → Li⁺(solv)), the branch
that PyBaMM's asymmetric Butler–Volmer multiplies by α (``exp(α n F η / RT)``), so the fitted α
maps onto "Negative electrode charge transfer coefficient" directly.

The contact height is the closest approach of Li to the sheet in the reference MD the potential
was trained on (3.0–3.1 Å), not the adsorption height of Li on graphene (≈ 1.8–2 Å): the
potential has never seen Li closer and would extrapolate there (a relaxation with Li placed at
2 Å collapsed into the core repulsion). The scan therefore measures the approach through the
outer layer, a proxy for the charge-transfer step until labelled adsorbed configurations exist.

The electrode potential is the applied field times the distance the ion moves along it,
φ = F·d (d = z_solvated − z_adsorbed; φ > 0: the electrode is positive with respect to the
film). Barriers at three fields → :func:`multiscale.kinetics.fit_transfer_coefficient`
(E_a(φ) = E_a(0) − α e φ). Each barrier carries the ensemble's energy spread at the saddle and
the initial state as its error, which sets the interval.

The α is exported only when it is physical (0 < α < 1) and its 95 % interval is narrower than
one; otherwise the stage reports what it found and the export keeps the base set's α.
"""
from __future__ import annotations

import functools

import numpy as np

from ..atomistic.li_adsorption import adsorption_endpoints

#: ensemble force spread above which the end points are not trusted [eV/Å] (the ML-MD trust level)
TRUST_EV_PER_A = 0.3
#: fields of the barrier scan [V/Å] (inside the potential's trained range)
SCAN_FIELDS_V_PER_A = (-0.1, 0.0, 0.1)


def _ml_calculator_at(potential_V: float, *, distance_A: float, model: str | None = None):
    """The shipped ML potential ``model`` at the field F = φ / d (module-level: picklable for Dask)."""
    from ..atomistic import load_potential

    return load_potential(model, field_V_per_A=float(potential_V) / distance_A)


def alpha_from_neb(*, seed: int = 0, fast: bool = False, progress: bool = False, model: str | None = None) -> dict:
    """Run the scan with the shipped potential ``model`` (default: the package default); returns a
    JSON-able dict with barriers, the fit and whether α is usable."""
    from ..atomistic import load_potential
    from ..atomistic.md import mobile_atoms
    from ..atomistic.neb import barriers_vs_potential

    calc = load_potential(model)
    adsorbed, solvated, d = adsorption_endpoints(calc, seed=seed, relax_steps=150 if fast else 300)
    sigma = []
    for end in (adsorbed, solvated):
        probe = end.copy()
        probe.calc = calc
        probe.get_forces()
        sigma.append(float(np.max(calc.results["force_uncertainty"][mobile_atoms(end)])))
    if max(sigma) > TRUST_EV_PER_A:
        return {"usable": False, "endpoint_max_sigma_F_eV_per_A": sigma,
                "why": (f"the potential is not trusted at the end points (max σ_F = {max(sigma):.2f} eV/Å > "
                        f"{TRUST_EV_PER_A} eV/Å, the MD trust level), so a barrier from it would not mean anything")}
    if d < 0.5:
        return {"usable": False, "why": f"Li did not stay adsorbed: after relaxation it is only {d:.2f} Å below its "
                                        "solvated position, so there is no adsorption step to scan"}
    potentials = np.array(SCAN_FIELDS_V_PER_A) * d
    factory = functools.partial(_ml_calculator_at, distance_A=d, model=model)
    scan = barriers_vs_potential(adsorbed, solvated, factory, potentials, relax_endpoints=True,
                                 n_images=3 if fast else 5, fmax=0.15 if fast else 0.05,
                                 steps=100 if fast else 400, progress=progress)
    err = []
    for res in scan.results:
        s = [float(res.images[k].calc.results.get("energy_uncertainty", 0.0)) for k in (0, res.saddle_index)]
        err.append(max(float(np.hypot(*s)), 1e-3))
    scan.barrier_err_eV = np.array(err)
    fit = scan.fit_transfer_coefficient()
    lo, hi = fit.alpha_ci95
    usable = bool(0.0 < fit.alpha < 1.0 and hi - lo < 1.0)
    out = {"distance_A": d, "fields_V_per_A": list(SCAN_FIELDS_V_PER_A), "potential_V": potentials.tolist(),
           "barrier_eV": scan.barrier_eV.tolist(), "reverse_barrier_eV": scan.reverse_barrier_eV.tolist(),
           "barrier_err_eV": scan.barrier_err_eV.tolist(), "alpha": fit.alpha, "alpha_ci95": [lo, hi],
           "barrier0_eV": fit.barrier0_eV, "usable": usable}
    if not usable:
        out["why"] = (f"α = {fit.alpha:.3g} [{lo:.3g}, {hi:.3g}] is not a usable transfer coefficient (needs "
                      "0 < α < 1 and a 95 % interval narrower than 1)")
    out["_fit"] = fit
    return out


def plot_barriers(fit, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = fit.plot()
    ax.set_title("Li⁺ desorption from the basal plane (CI-NEB, ML potential)")
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=110)
    plt.close(ax.figure)
