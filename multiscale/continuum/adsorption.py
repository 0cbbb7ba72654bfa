"""Self-consistent interface model: Frumkin adsorption ⇄ Helmholtz dipole ⇄ Gouy–Chapman–Stern
double layer.

At electrode potential E [V vs the pzc of the clean surface] and adsorbate concentration c:

* Frumkin isotherm, energies from a constitutive model of θ and the interfacial field F:

      θ/(1 − θ) = (c/c°) exp(−ΔG(θ, F)/kT),   e.g. ΔG = E_ads − μF − ½αF² + gθ  (g > 0 repulsive)

* Helmholtz dipole layer: adsorbate dipoles μ(θ, F) [e·Å] along +z (from the metal into the
  electrolyte), one per site of area A [Å²], raise the electrolyte side by
  χ = eθμ/(ε₀A) [V] and shift the work function by ΔΦ = −eχ = −eθμ/(ε₀A)
  (|ΔΦ| [eV] = 180.95 μθ/A);
* GCS double layer: the potential across Stern + diffuse layer is E + χ, the electrode charge
  σ = σ_GCS(E + χ) from the Poisson–Boltzmann solver, and the field at the adsorbate
  F = σ/(ε₀ε_H) (ε_H the Helmholtz-layer permittivity), along +z for σ > 0.

The pair (θ, F) is found by damped fixed-point iteration with Anderson acceleration; the total
differential capacitance C = dσ/dE is the central difference of the converged σ(E).
Without interactions, dipoles or polarisability the loop reduces to the Langmuir isotherm
θ = Kc/(1 + Kc), K = exp(−E_ads/kT)/c°.

References: A. N. Frumkin, Z. Phys. Chem. 116, 466 (1925); H. Helmholtz (1879) / e.g.
Leung, Rempe, Lilienfeld, J. Chem. Phys. 118, 3051 (2003) for the dipole work-function shift;
D. G. Anderson, J. ACM 12, 547 (1965); H. F. Walker, P. Ni, SIAM J. Numer. Anal. 49, 1715 (2011).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from ..errors import ConvergenceError, InputError, check_range
from ..units import angstrom_m, elementary_charge_C, kT_eV, vacuum_permittivity_F_m
from .poisson_boltzmann import PoissonBoltzmann

#: e/(ε₀·Å) [V]: the dipole-layer potential of 1 e·Å per Å² (180.95 V)
DIPOLE_POTENTIAL_V = elementary_charge_C / (vacuum_permittivity_F_m * angstrom_m)
STANDARD_CONCENTRATION_MOL_M3 = 1000.0


@dataclass(frozen=True)
class StarkAdsorptionModel:
    """Default constitutive model: ΔG(θ, F) = E_ads − μ₀F − ½αF² + gθ [eV] and the dipole
    μ(θ, F) = μ₀ + αF [e·Å] (permanent + induced). Build it from a Stark fit of atomistic
    energies with :meth:`from_stark_fit`. Any callable (θ, F[V/Å]) → (ΔG [eV], μ [e·Å]) — e.g. a
    regression of atomistic data — can replace it."""

    adsorption_energy_eV: float
    dipole_eA: float = 0.0
    polarizability_eA2_per_V: float = 0.0
    interaction_eV: float = 0.0

    @classmethod
    def from_stark_fit(cls, fit, *, interaction_eV=0.0):
        """From a :class:`multiscale.kinetics.StarkFit` of adsorption energies E_ads(F)."""
        return cls(fit.energy0_eV, fit.dipole_eA, fit.polarizability_eA2_per_V, interaction_eV)

    def __call__(self, theta, field_V_per_A):
        mu = self.dipole_eA + self.polarizability_eA2_per_V * field_V_per_A
        dg = (self.adsorption_energy_eV - self.dipole_eA * field_V_per_A
              - 0.5 * self.polarizability_eA2_per_V * field_V_per_A ** 2 + self.interaction_eV * theta)
        return dg, mu


@dataclass
class AdsorptionResult:
    """Self-consistent state(s) over ``potential_V`` (and ``concentration_mol_m3``): coverage θ,
    work-function shift ΔΦ [eV], dipole potential χ [V], electrode charge σ [C/m²], field
    F [V/Å], total differential capacitance C = dσ/dE [F/m²], iterations used."""

    potential_V: np.ndarray
    concentration_mol_m3: np.ndarray
    coverage: np.ndarray
    work_function_shift_eV: np.ndarray
    dipole_potential_V: np.ndarray
    surface_charge_C_m2: np.ndarray
    field_V_per_A: np.ndarray
    capacitance_F_m2: np.ndarray
    iterations: np.ndarray

    def plot(self, axes=None):
        """θ, ΔΦ and C versus E (first concentration); returns the axes."""
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 3, figsize=(11, 3.5))
        e = self.potential_V
        for ax, y, lab in zip(axes, (self.coverage, self.work_function_shift_eV, self.capacitance_F_m2 * 100),
                              ("Coverage θ", "ΔΦ [eV]", "C [µF/cm²]")):
            ax.plot(e, y)
            ax.set_xlabel("E vs pzc [V]")
            ax.set_ylabel(lab)
        return axes


class AdsorptionInterface:
    """The self-consistent Frumkin ⇄ dipole ⇄ GCS model (module docstring).

    Parameters
    ----------
    model : StarkAdsorptionModel or a callable (θ, F [V/Å]) → (ΔG [eV], μ [e·Å]).
    site_area_A2 : area per adsorption site A [Å²].
    double_layer : a :class:`PoissonBoltzmann` (with a Stern layer for GCS).
    helmholtz_permittivity : ε_H of the layer where the adsorbate sits (F = σ/(ε₀ε_H)).
    temperature_K : T [K] of the isotherm.
    damping : mixing β of the fixed point (0 < β ≤ 1); anderson_depth : history length m (0 = plain
    damped iteration); tolerance : on |Δθ| and |ΔF| [V/Å]; max_iterations.
    """

    def __init__(self, model, *, site_area_A2, double_layer: PoissonBoltzmann, helmholtz_permittivity=6.0,
                 temperature_K=298.15, damping=0.5, anderson_depth=4, tolerance=1e-10, max_iterations=200):
        if not callable(model):
            raise InputError(f"model = {model!r} must be callable (θ, field_V_per_A) -> (energy_eV, dipole_eA)")
        if not isinstance(double_layer, PoissonBoltzmann):
            raise InputError("double_layer must be a multiscale.continuum.PoissonBoltzmann")
        self.model = model
        self.site_area_A2 = check_range("site_area_A2", site_area_A2, low=0.0, low_inclusive=False)
        self.double_layer = double_layer
        self.helmholtz_permittivity = check_range("helmholtz_permittivity", helmholtz_permittivity, low=0.0,
                                                  low_inclusive=False)
        self.temperature_K = check_range("temperature_K", temperature_K, low=0.0, low_inclusive=False)
        self.damping = check_range("damping", damping, low=0.0, high=1.0, low_inclusive=False)
        self.anderson_depth = int(check_range("anderson_depth", anderson_depth, low=0))
        self.tolerance = check_range("tolerance", tolerance, low=0.0, low_inclusive=False)
        self.max_iterations = int(check_range("max_iterations", max_iterations, low=1))

    def _map(self, state, potential_V, log_c):
        """One application of the self-consistency map G(θ, F) → (θ', F', χ, σ)."""
        theta, field = state
        dg, mu = self.model(theta, field)
        dg, mu = float(dg), float(mu)
        if not (np.isfinite(dg) and np.isfinite(mu)):
            raise ConvergenceError(f"the adsorption model returned ΔG = {dg}, μ = {mu} at θ = {theta:.4g}, "
                                   f"F = {field:.4g} V/Å")
        theta_new = float(expit(log_c - dg / kT_eV(self.temperature_K)))
        chi = DIPOLE_POTENTIAL_V * theta * mu / self.site_area_A2
        v_dl = potential_V + chi
        if abs(v_dl) > 2.0:
            raise ConvergenceError(f"the double-layer potential E + χ = {v_dl:.3g} V left ±2 V (dipole potential "
                                   f"χ = {chi:.3g} V at θ = {theta:.3g}, μ = {mu:.3g} eÅ): check dipole_eA and "
                                   "site_area_A2")
        sigma = self.double_layer.solve(v_dl).surface_charge_C_m2
        field_new = sigma / (vacuum_permittivity_F_m * self.helmholtz_permittivity) * angstrom_m
        return np.array([theta_new, field_new]), chi, sigma

    def _fixed_point(self, potential_V, log_c, start):
        x = np.array(start, dtype=float)
        xs, gs, history, thetas = [], [], [], []
        for it in range(1, self.max_iterations + 1):
            gx, chi, sigma = self._map(x, potential_V, log_c)
            r = gx - x
            history.append(float(np.max(np.abs(r))))
            thetas.append(float(x[0]))
            if history[-1] < self.tolerance:
                return gx, chi, sigma, it
            xs.append(x)
            gs.append(gx)
            xs, gs = xs[-(self.anderson_depth + 1):], gs[-(self.anderson_depth + 1):]
            if self.anderson_depth > 0 and len(xs) > 1:
                f = np.array([g - xx for g, xx in zip(gs, xs)])          # residual history
                df = np.diff(f, axis=0).T
                dg = np.diff(np.array(gs), axis=0).T
                gamma, *_ = np.linalg.lstsq(df, f[-1], rcond=None)
                x_new = gs[-1] - dg @ gamma
                x_new = (1 - self.damping) * (xs[-1] - np.diff(np.array(xs), axis=0).T @ gamma) + self.damping * x_new
            else:
                x_new = (1 - self.damping) * x + self.damping * gx
            x_new[0] = min(max(x_new[0], 0.0), 1.0)
            x = x_new
        raise ConvergenceError(self._diagnose(history, thetas, potential_V, x))

    def _diagnose(self, history, thetas, potential_V, x):
        h = np.array(history)
        th = np.array(thetas[-6:])
        tail = h[-10:]
        steps = np.abs(np.diff(th))
        two_cycle = th.size >= 4 and np.all(np.abs(th[2:] - th[:-2]) < 0.1 * np.maximum(steps[1:], 1e-300))
        if two_cycle or (th.size >= 4 and np.all(np.diff(np.sign(np.diff(th))) != 0) and steps[-1] > 0.5 * steps[0]):
            trend = ("the coverage oscillates between two values (the map's slope is below −1, e.g. a strong Frumkin "
                     "repulsion): lower damping or raise anderson_depth")
        elif tail.size >= 3 and np.all(np.diff(tail) > 0):
            trend = "the residual grows steadily (the map is expanding): lower damping"
        else:
            trend = "the residual decreases too slowly: raise max_iterations or anderson_depth"
        extra = ""
        g = getattr(self.model, "interaction_eV", 0.0)
        if g < -4.0 * kT_eV(self.temperature_K):
            extra = (f"; the Frumkin interaction g = {g:.3g} eV < −4kT is attractive enough for a phase transition "
                     "(several coverages are self-consistent)")
        return (f"adsorption self-consistency did not converge at E = {potential_V:.4g} V in {len(h)} iterations "
                f"(residual {h[-1]:.3g}, best {h.min():.3g}; θ = {x[0]:.4g}, F = {x[1]:.4g} V/Å): {trend}{extra}")

    def solve(self, potentials_V, concentration_mol_m3, *, capacitance_step_V=1e-3) -> AdsorptionResult:
        """Self-consistent θ, ΔΦ, σ, C over ``potentials_V`` (a sweep, warm-started) and one or more
        adsorbate concentrations [mol/m³] (result arrays have shape (n_c, n_E))."""
        pots = np.atleast_1d(np.asarray(potentials_V, dtype=float))
        concs = np.atleast_1d(np.asarray(concentration_mol_m3, dtype=float))
        if not np.all(np.isfinite(pots)):
            raise InputError("potentials_V must be finite")
        if not np.all(np.isfinite(concs)) or np.any(concs <= 0):
            raise InputError(f"concentration_mol_m3 = {concentration_mol_m3!r} is out of range: must be > 0")
        h = check_range("capacitance_step_V", capacitance_step_V, low=0.0, low_inclusive=False)
        shape = (concs.size, pots.size)
        out = {k: np.empty(shape) for k in ("theta", "chi", "sigma", "field", "cap", "it")}
        for i, c in enumerate(concs):
            log_c = float(np.log(c / STANDARD_CONCENTRATION_MOL_M3))
            state = np.array([0.5, 0.0])
            for j, e in enumerate(pots):
                x, chi, sigma, it = self._fixed_point(e, log_c, state)
                sp = self._fixed_point(e + h, log_c, x)[2]
                sm = self._fixed_point(e - h, log_c, x)[2]
                state = x
                for key, val in zip(("theta", "chi", "sigma", "field", "cap", "it"),
                                    (x[0], chi, sigma, x[1], (sp - sm) / (2 * h), it)):
                    out[key][i, j] = val
        squeeze = (lambda a: a[0]) if np.ndim(concentration_mol_m3) == 0 else (lambda a: a)
        return AdsorptionResult(pots, concs, squeeze(out["theta"]), squeeze(-out["chi"]), squeeze(out["chi"]),
                                squeeze(out["sigma"]), squeeze(out["field"]), squeeze(out["cap"]),
                                squeeze(out["it"]).astype(int))


def langmuir_coverage(concentration_mol_m3, adsorption_energy_eV, *, temperature_K=298.15):
    """θ = Kc/(1 + Kc), K = exp(−E_ads/kT)/c° (c° = 1 M): the reference limit of the loop."""
    c = np.asarray(concentration_mol_m3, dtype=float)
    return expit(np.log(c / STANDARD_CONCENTRATION_MOL_M3) - adsorption_energy_eV / kT_eV(temperature_K))
