"""Reactions stage of ``multiscale run``: α of the negative electrode from CI-NEB barriers E_a(φ).

The step scanned is the Li⁺ transfer across the double layer at the graphite basal plane
(:mod:`multiscale.atomistic.li_adsorption`): Li⁺ solvated in the EC/BF₄⁻ film (its relaxed place)
→ Li⁺ in the contact layer (the relaxed minimum closest to the sheet, directly below). The band
runs in that direction, the reduction (cathodic) one, because only it has a barrier: the contact
state is a shallow minimum (the way back out is downhill within the band's resolution), so the
barrier of the oxidation direction is ~0 at every field and carries no slope. The cathodic branch
of PyBaMM's asymmetric Butler–Volmer is ``exp(−(1 − α) n F η / RT)``, so

    E_a(φ) = E_a(0) + (1 − α) e φ

(:func:`multiscale.kinetics.fit_transfer_coefficient` with ``branch="reduction"``) gives the α that
maps onto "Negative electrode charge transfer coefficient" directly.

The electrode potential is the applied field times the distance the ion moves along it,
φ = F·d (d = z_solvated − z_contact; φ > 0: the electrode is positive with respect to the film,
which pushes Li⁺ away and raises the barrier). Barriers at three fields, fitted with the spread
of the ensemble members' own barriers along the converged band as their errors. The interval of α
is the spread of the members' own α (Student t on M − 1): the members disagree on the barrier by
~0.1 eV but on its slope by ~0.05, and independent barrier errors would hide that.

Not every packing has the step: where the Li⁺ already sits in the contact layer (d < ``MIN_STEP_A``),
or where an end-point relaxation leaves the potential's domain, the stage takes the next packing
seed, up to ``MAX_PACKINGS``, and says which it used and why it skipped the others.

The α is exported only when it is physical (0 < α < 1) and its 95 % interval is narrower than
one; otherwise the stage reports what it found and the export keeps the base set's α.
"""
from __future__ import annotations

import functools

import numpy as np

from ..atomistic.li_adsorption import adsorption_endpoints
from ..errors import InputError

#: ensemble force spread above which the end points are not trusted [eV/Å] (the ML-MD trust level)
TRUST_EV_PER_A = 0.3
#: fields of the barrier scan [V/Å] (inside the potential's trained range)
SCAN_FIELDS_V_PER_A = (-0.1, 0.0, 0.1)
#: smallest move of the Li⁺ along the field that counts as a step [Å]
MIN_STEP_A = 0.5
#: packing seeds tried (from the run's seed on) before the stage gives up looking for a step
MAX_PACKINGS = 4


def _ml_calculator_at(potential_V: float, *, distance_A: float, model: str | None = None):
    """The shipped ML potential ``model`` at the field F = φ / d (module-level: picklable for Dask)."""
    from ..atomistic import load_potential

    return load_potential(model, field_V_per_A=float(potential_V) / distance_A)


def _endpoints_with_a_step(calc, seed: int, relax_steps: int):
    """(contact, solvated, d, packing seed, skipped) for the first packing from ``seed`` on with a step."""
    from ..errors import OutOfDomainError

    skipped = []
    for packing in range(seed, seed + MAX_PACKINGS):
        try:
            contact, solvated, d = adsorption_endpoints(calc, seed=packing, relax_steps=relax_steps)
        except OutOfDomainError as exc:  # a relaxation that leaves the potential's domain is no end point
            skipped.append(f"packing {packing}: an end-point relaxation left the domain ({exc})")
            continue
        if d >= MIN_STEP_A:
            return contact, solvated, d, packing, skipped
        skipped.append(f"packing {packing}: the Li⁺ is already in the contact layer (d = {d:.2f} Å)")
    return None, None, None, None, skipped


def _member_barriers(res) -> np.ndarray:
    """Each ensemble member's barrier along the converged band [eV]: its energy at the band's saddle
    minus at the first image. Their spread is the barrier's model error (the spread of the total
    energy at either image is a different number: members can agree on one and not the other)."""
    e = [np.asarray(res.images[k].calc.results["energy_members"], dtype=float) for k in (0, res.saddle_index)]
    return e[1] - e[0]


def fit_alpha_members(potential_V, member_barriers_eV, level: float = 0.95):
    """α of the reduction branch from the ensemble: the fit of the members' mean barriers (weighted by
    their spread) gives α; its interval is the spread of the members' own α, Student t on M − 1.

    The members' barriers are off by offsets that hardly change with φ, so the slope is far better
    determined than independent barrier errors would say. ``member_barriers_eV``: (potentials,
    members). Returns (fit, member α) with ``fit.alpha_ci95`` set to that interval.
    """
    from scipy import stats

    from ..kinetics import fit_transfer_coefficient

    b = np.asarray(member_barriers_eV, dtype=float)
    if b.ndim != 2 or b.shape[1] < 2:
        raise InputError(f"member_barriers_eV must be (potentials, members ≥ 2), got shape {b.shape}")
    fit = fit_transfer_coefficient(potential_V, b.mean(axis=1), barrier_err_eV=np.maximum(b.std(axis=1), 1e-3),
                                   branch="reduction")
    member_alpha = np.array([fit_transfer_coefficient(potential_V, col, branch="reduction").alpha for col in b.T])
    half = float(stats.t.ppf(0.5 + level / 2, member_alpha.size - 1) * member_alpha.std(ddof=1))
    fit.alpha_ci95 = (fit.alpha - half, fit.alpha + half)
    return fit, member_alpha


def _max_sigma(atoms, calc) -> float:
    from ..atomistic.md import mobile_atoms

    probe = atoms.copy()
    probe.calc = calc
    probe.get_forces()
    return float(np.max(calc.results["force_uncertainty"][mobile_atoms(atoms)]))


def alpha_from_neb(*, seed: int = 0, fast: bool = False, progress: bool = False, model: str | None = None) -> dict:
    """Run the scan with the shipped potential ``model`` (default: the package default); returns a
    dict with barriers, the fit and whether α is usable, JSON-able once the ``_fit``
    (:class:`~multiscale.kinetics.TransferCoefficientFit`) and ``_scan``
    (:class:`~multiscale.atomistic.neb.BarrierScan`, with the converged bands) entries are popped."""
    from ..atomistic import load_potential
    from ..atomistic.neb import barriers_vs_potential

    calc = load_potential(model)
    contact, solvated, d, packing, skipped = _endpoints_with_a_step(calc, seed, relax_steps=300 if fast else 600)
    if contact is None:
        return {"usable": False, "skipped_packings": skipped,
                "why": f"no packing of seeds {seed}–{seed + MAX_PACKINGS - 1} has a step to scan ({'; '.join(skipped)})"}
    sigma = [_max_sigma(end, calc) for end in (solvated, contact)]
    if max(sigma) > TRUST_EV_PER_A:
        return {"usable": False, "endpoint_max_sigma_F_eV_per_A": sigma, "packing_seed": packing,
                "why": (f"the potential is not trusted at the end points (max σ_F = {max(sigma):.2f} eV/Å > "
                        f"{TRUST_EV_PER_A} eV/Å, the MD trust level), so a barrier from it would not mean anything")}
    potentials = np.array(SCAN_FIELDS_V_PER_A) * d
    factory = functools.partial(_ml_calculator_at, distance_A=d, model=model)
    scan = barriers_vs_potential(solvated, contact, factory, potentials, relax_endpoints=True,
                                 n_images=5, fmax=0.1 if fast else 0.05, steps=400 if fast else 600,
                                 progress=progress)
    member_barriers = np.array([_member_barriers(res) for res in scan.results])  # (fields, members)
    scan.barrier_err_eV = np.maximum(member_barriers.std(axis=1), 1e-3)
    fit, member_alpha = fit_alpha_members(potentials, member_barriers)
    lo, hi = fit.alpha_ci95
    usable = bool(0.0 < fit.alpha < 1.0 and hi - lo < 1.0)
    out = {"step": "Li⁺ solvated → contact layer (reduction direction)", "packing_seed": packing,
           "skipped_packings": skipped, "endpoint_max_sigma_F_eV_per_A": sigma,
           "distance_A": d, "fields_V_per_A": list(SCAN_FIELDS_V_PER_A), "potential_V": potentials.tolist(),
           "barrier_eV": scan.barrier_eV.tolist(), "reverse_barrier_eV": scan.reverse_barrier_eV.tolist(),
           "barrier_err_eV": scan.barrier_err_eV.tolist(), "alpha": fit.alpha, "alpha_ci95": [lo, hi],
           "barrier0_eV": fit.barrier0_eV, "alpha_members": member_alpha.tolist(), "usable": usable}
    if not usable:
        out["why"] = (f"α = {fit.alpha:.3g} [{lo:.3g}, {hi:.3g}] is not a usable transfer coefficient (needs "
                      "0 < α < 1 and a 95 % interval narrower than 1)")
    out["_fit"], out["_scan"] = fit, scan  # not JSON: the caller pops them
    return out


def plot_barriers(fit, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = fit.plot()
    ax.set_title("Li⁺ transfer to the basal plane (CI-NEB, ML potential)")
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=110)
    plt.close(ax.figure)
