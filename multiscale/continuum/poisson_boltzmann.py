"""Poisson–Boltzmann double layer with an optional Stern layer and Bikerman steric saturation.

Equation (x ≥ 0 from the electrode plane into the electrolyte, φ → 0 in the bulk):

    ε d²φ/dx² = −ρ(φ),   ρ = e N_A Σ_i z_i c_i(φ),
    c_i(φ) = c_i⁰ exp(−z_i u) / [1 + Σ_j ν_j (exp(−z_j u) − 1)],   u = eφ/kT,

with ν_j = ν c_j⁰/Σ_k c_k⁰ and ν = a³ N_A Σ_k c_k⁰ the bulk volume fraction of ions of size a
(``packing_fraction``; for a symmetric salt ν = 2a³n₀ = Kornyshev's γ). ν = 0 is Gouy–Chapman.

Boundary conditions: at the electrode either φ(0) = φ_E (no Stern layer) or a Stern (Helmholtz)
layer of capacitance C_H in series, σ = C_H (φ_E − φ(0)) = −ε φ'(0); in the bulk the
linearised decay φ' = −φ/λ_D (exact asymptotically). σ is the electrode charge per area
(σ > 0 for φ_E > 0); the diffuse potential is φ_d = φ(0).

Numerics: finite volumes on a geometrically graded mesh (smallest cell a fraction of the
Gouy length 1/|u'(0)|, so |φ_E| of 1 V converges), damped Newton with a tridiagonal LAPACK solve.
σ is the discrete Gauss-law flux at the wall; σ, C and the returned profile are Richardson-
extrapolated from the mesh and its 2× refinement (O(h⁴)); on each mesh, the differential capacitance C = dσ/dφ_E is the
exact derivative of that discrete σ, from the linearised (sensitivity) equation J·∂u/∂φ_E =
−∂F/∂φ_E solved with the converged Jacobian.

References: Gouy (1910), Chapman (1913), Stern (1924); Bikerman, Phil. Mag. 33, 384 (1942);
Kilic, Bazant, Ajdari, Phys. Rev. E 75, 021502 (2007); Kornyshev, J. Phys. Chem. B 111, 5545 (2007).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg.lapack import dgtsv

from ..errors import ConvergenceError, InputError, check_range
from ..units import (avogadro_per_mol, boltzmann_J_K, elementary_charge_C,
                     vacuum_permittivity_F_m)


@dataclass
class PoissonBoltzmannResult:
    """One solved double layer. Arrays over ``x_m`` [m] (0 = electrode plane / outer Helmholtz plane)."""

    x_m: np.ndarray
    potential_V: np.ndarray
    concentration_mol_m3: np.ndarray          # (n_species, n_x)
    valence: np.ndarray
    electrode_potential_V: float
    diffuse_potential_V: float
    surface_charge_C_m2: float
    capacitance_F_m2: float                   # dσ/dφ_E at this potential
    newton_iterations: int = field(default=0)

    def plot(self, ax=None):
        """Plot φ(x) and the ion concentrations (log x axis); returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        x_nm = np.maximum(self.x_m, self.x_m[1] * 0.5) * 1e9
        ax.semilogx(x_nm, self.potential_V, "k", label="φ")
        ax.set_xlabel("Distance from the electrode [nm]")
        ax.set_ylabel("Potential [V]")
        ax2 = ax.twinx()
        for z, c in zip(self.valence, self.concentration_mol_m3):
            ax2.semilogx(x_nm, c, lw=0.9, label=f"z = {z:+g}")
        ax2.set_ylabel("Concentration [mol/m³]")
        ax2.legend(loc="upper right")
        ax.set_title(f"φ_E = {self.electrode_potential_V:.3f} V, σ = {self.surface_charge_C_m2 * 100:.3g} µC/cm²")
        return ax


class PoissonBoltzmann:
    """Planar double layer of any electrolyte (see the module docstring for equations).

    Parameters
    ----------
    concentration_mol_m3 : bulk concentration [mol/m³]: a number (symmetric z:z salt of
        ``valence`` z, both ions at that concentration) or a sequence, one per species, with
        ``valence`` a sequence of the same length; Σ z_i c_i = 0 is checked.
    valence : ionic valence(s), nonzero.
    temperature_K, relative_permittivity : T [K] and ε_r of the diffuse layer.
    stern_capacitance_F_m2 : C_H of a Stern layer in series [F/m²]; None for none.
    packing_fraction : ν, the bulk volume fraction of ions (Bikerman); 0 gives Gouy–Chapman.
    domain_debye_lengths, growth, cells_per_debye, wall_resolution : mesh settings (length in
        units of λ_D, geometric grading ratio, cells per λ_D in the far field, cells per Gouy length
        at the wall).
    tolerance, max_iterations : Newton stopping rule (max |δu| in units of kT/e) and cap.
    richardson : solve on the mesh and its 2× refinement and extrapolate σ and C (O(h⁴)).
    """

    def __init__(self, concentration_mol_m3, *, valence=1, temperature_K=298.15, relative_permittivity=78.5,
                 stern_capacitance_F_m2=None, packing_fraction=0.0, domain_debye_lengths=20.0,
                 growth=1.1, cells_per_debye=10.0, wall_resolution=20.0, tolerance=1e-11, max_iterations=100,
                 richardson=True):
        c = np.atleast_1d(np.asarray(concentration_mol_m3, dtype=float))
        z = np.atleast_1d(np.asarray(valence, dtype=float))
        if not np.all(np.isfinite(c)):
            raise InputError(f"concentration_mol_m3 = {concentration_mol_m3!r} must be finite")
        if np.any(c <= 0):
            raise InputError(f"concentration_mol_m3 = {concentration_mol_m3!r} is out of range: must be > 0")
        if not np.all(np.isfinite(z)) or np.any(z == 0):
            raise InputError(f"valence = {valence!r} is out of range: must be finite and nonzero")
        if c.size == 1 and z.size == 1 and np.ndim(concentration_mol_m3) == 0:
            zz = abs(z[0])
            c, z = np.array([c[0], c[0]]), np.array([zz, -zz])
        elif c.shape != z.shape:
            raise InputError(f"valence has {z.size} entries but concentration_mol_m3 has {c.size}: give one "
                             "valence per species")
        net = float(np.sum(z * c))
        if abs(net) > 1e-9 * float(np.sum(np.abs(z) * c)):
            raise InputError(f"bulk electrolyte is not electroneutral: Σ z_i c_i = {net:.6g} mol/m³ "
                             f"(concentration_mol_m3 = {c.tolist()}, valence = {z.tolist()}); must be 0")
        self.concentration_mol_m3 = c
        self.valence = z
        self.temperature_K = check_range("temperature_K", temperature_K, low=0.0, low_inclusive=False)
        self.relative_permittivity = check_range("relative_permittivity", relative_permittivity, low=0.0,
                                                 low_inclusive=False)
        self.stern_capacitance_F_m2 = (None if stern_capacitance_F_m2 is None else
                                       check_range("stern_capacitance_F_m2", stern_capacitance_F_m2, low=0.0,
                                                   low_inclusive=False))
        self.packing_fraction = check_range("packing_fraction", packing_fraction, low=0.0, high=1.0,
                                            high_inclusive=False)
        self.domain_debye_lengths = check_range("domain_debye_lengths", domain_debye_lengths, low=2.0)
        self.growth = check_range("growth", growth, low=1.0, high=2.0, low_inclusive=False)
        self.cells_per_debye = check_range("cells_per_debye", cells_per_debye, low=2.0)
        self.wall_resolution = check_range("wall_resolution", wall_resolution, low=1.0)
        self.tolerance = check_range("tolerance", tolerance, low=0.0, low_inclusive=False)
        self.max_iterations = int(check_range("max_iterations", max_iterations, low=1))
        self.richardson = bool(richardson)

        eps = self.relative_permittivity * vacuum_permittivity_F_m
        self.thermal_voltage_V = boltzmann_J_K * self.temperature_K / elementary_charge_C
        self._ionic = float(np.sum(z * z * c))            # Σ z² c [mol/m³]
        self.debye_length_m = float(np.sqrt(eps * self.thermal_voltage_V / (elementary_charge_C * avogadro_per_mol
                                                                             * self._ionic)))
        self._eps = eps
        self._nu = self.packing_fraction * c / np.sum(c)   # per-species volume fractions ν_j
        self._kappa_h = (None if self.stern_capacitance_F_m2 is None
                         else self.stern_capacitance_F_m2 * self.debye_length_m / eps)

    # --- local equation of state (dimensionless: u = eφ/kT, g = ρλ²e/(εkT) = Σ z c(u) / Σ z² c⁰) -----
    def _charge(self, u):
        """g(u), dg/du and the concentrations c_i(u)/c_i⁰ over a vector u."""
        z = self.valence[:, None]
        b = np.exp(-z * u[None, :])                     # Boltzmann factors (m, n)
        d = 1.0 + np.sum(self._nu[:, None] * (b - 1.0), axis=0)
        dd = -np.sum(self._nu[:, None] * z * b, axis=0)
        w = (self.valence * self.concentration_mol_m3 / self._ionic)[:, None]
        g = np.sum(w * b, axis=0) / d
        dg = np.sum(w * (-z * b * d - b * dd), axis=0) / (d * d)
        return g, dg, b / d

    def _pressure(self, u):
        """First integral P(u) = ½ (du/dξ)² of the dimensionless equation (exact, for the mesh/guess)."""
        u = float(u)
        if self.packing_fraction > 0:
            return float(np.log1p(np.sum(self._nu * np.expm1(-self.valence * u))) * np.sum(self.concentration_mol_m3)
                         / (self.packing_fraction * self._ionic))
        return float(np.sum(self.concentration_mol_m3 * np.expm1(-self.valence * u)) / self._ionic)

    def _guess(self, u_e):
        """Diffuse potential and wall field estimate from the first integral (+ Stern by bisection)."""
        def sigma(ud):
            return np.sign(ud) * np.sqrt(max(2.0 * self._pressure(ud), 0.0))

        if self._kappa_h is None:
            return u_e, sigma(u_e)
        lo, hi = min(0.0, u_e), max(0.0, u_e)
        for _ in range(80):                            # φ_E = φ_d + σ(φ_d)/C_H is monotone in φ_d
            mid = 0.5 * (lo + hi)
            if mid + sigma(mid) / self._kappa_h > u_e:
                hi = mid
            else:
                lo = mid
        ud = 0.5 * (lo + hi)
        return ud, sigma(ud)

    def _mesh(self, sigma_guess, refine=1):
        """Smoothly graded mesh in units of λ_D, ξ(s) = (h_max/ln r)·ln[(a + c r^s)/(a + c)] with
        a = 1/h_min, c = 1/h_max over a uniform index s: cells grow geometrically (ratio r) from
        h_min, a fraction of the Gouy length 1/|u'(0)|, to h_max in the far field. A smooth map,
        so that the O(h²) error is smooth and Richardson extrapolation (``refine`` = 2) applies."""
        h_max = 1.0 / self.cells_per_debye
        h_min = min(h_max, 1.0 / (self.wall_resolution * max(1.0, abs(sigma_guess))))
        b = np.log(self.growth)
        a, c = 1.0 / h_min, 1.0 / h_max
        length = self.domain_debye_lengths
        # r^S = ((a + c) e^{L b/h_max} − a)/c, in logs
        s_total = (np.log(a + c) + length * b / h_max + np.log1p(-a / (a + c) * np.exp(-length * b / h_max))
                   - np.log(c)) / b
        n = int(np.ceil(s_total)) * refine
        s = np.linspace(0.0, s_total, n + 1)
        xi = h_max / b * np.log1p(c * np.expm1(b * s) / (a + c))
        xi[-1] = length
        return xi

    def _residual(self, u, u_e, h, vol):
        g, dg, _ = self._charge(u)
        flux = np.diff(u) / h                                 # du/dξ on the faces
        f = g * vol
        f[:-1] += flux
        f[1:] -= flux
        f[-1] -= u[-1]                                        # far field: u' = −u
        diag = dg * vol
        diag[:-1] -= 1.0 / h
        diag[1:] -= 1.0 / h
        diag[-1] -= 1.0
        off = 1.0 / h
        upper = off.copy()
        lower = off.copy()
        if self._kappa_h is None:
            f[0] = u[0] - u_e
            diag[0] = 1.0
            upper[0] = 0.0
        else:
            f[0] += self._kappa_h * (u_e - u[0])
            diag[0] -= self._kappa_h
        return f, lower, diag, upper

    def _solve_dimensionless(self, u_e):
        """Solve on the mesh and on its 2× refinement; σ and C Richardson-extrapolated (O(h⁴))."""
        ud, sig = self._guess(u_e)
        xi1 = self._mesh(sig, 1)
        u1 = 4.0 * np.arctanh(np.tanh(ud / 4.0) * np.exp(-xi1))
        _, u1, s1, ds1, it1 = self._newton(u_e, xi1, u1)
        if not self.richardson:
            return xi1, u1, s1, ds1, it1, u1[0]
        xi2 = self._mesh(sig, 2)
        u2 = np.empty(xi2.size)
        u2[::2] = u1
        u2[1::2] = 0.5 * (u1[:-1] + u1[1:])
        _, u2, s2, ds2, it2 = self._newton(u_e, xi2, u2)
        u_x = u2[::2] + (u2[::2] - u1) / 3.0                  # profile extrapolated on the coarse nodes
        return xi1, u_x, s2 + (s2 - s1) / 3.0, ds2 + (ds2 - ds1) / 3.0, it1 + it2, u_x[0]

    def _newton(self, u_e, xi, u):
        """Damped Newton on the finite-volume equations from the initial guess ``u``."""
        h = np.diff(xi)
        vol = np.zeros(xi.size)
        vol[:-1] += h / 2
        vol[1:] += h / 2
        f, lo, di, up = self._residual(u, u_e, h, vol)
        norm = np.max(np.abs(f))
        for it in range(1, self.max_iterations + 1):
            _, _, _, du, info = dgtsv(lo, di, up, -f)
            if info != 0:
                raise ConvergenceError(f"Poisson–Boltzmann Newton step failed (LAPACK dgtsv info = {info}) at "
                                       f"φ_E = {u_e * self.thermal_voltage_V:.4g} V")
            step = 1.0
            while True:
                u_new = u + step * du
                f_new, lo_n, di_n, up_n = self._residual(u_new, u_e, h, vol)
                norm_new = np.max(np.abs(f_new))
                if norm_new < norm or step < 1e-4 or norm < 1e-13:
                    break
                step *= 0.5
            u, f, lo, di, up, norm = u_new, f_new, lo_n, di_n, up_n, norm_new
            if np.max(np.abs(step * du)) < self.tolerance * max(1.0, abs(u_e)):
                break
        else:
            raise ConvergenceError(
                f"Poisson–Boltzmann Newton did not converge in {self.max_iterations} iterations at φ_E = "
                f"{u_e * self.thermal_voltage_V:.4g} V (residual {norm:.3g}); the potential may be too large for "
                "the mesh: increase wall_resolution or lower growth")
        # Sensitivity ∂u/∂u_E with the converged Jacobian: J s = −∂F/∂u_E.
        rhs = np.zeros_like(u)
        rhs[0] = 1.0 if self._kappa_h is None else -self._kappa_h
        _, _, _, s, _ = dgtsv(lo, di, up, rhs)
        g, dg, _ = self._charge(u)
        if self._kappa_h is None:
            sigma = -(u[1] - u[0]) / h[0] - g[0] * h[0] / 2.0
            dsigma = -(s[1] - s[0]) / h[0] - dg[0] * s[0] * h[0] / 2.0
        else:
            sigma = self._kappa_h * (u_e - u[0])
            dsigma = self._kappa_h * (1.0 - s[0])
        return xi, u, sigma, dsigma, it

    def solve(self, potential_V) -> PoissonBoltzmannResult:
        """Solve the double layer at electrode potential ``potential_V`` [V] vs the bulk (pzc = 0)."""
        phi_e = check_range("potential_V", potential_V, low=-2.0, high=2.0)
        vt = self.thermal_voltage_V
        xi, u, sigma, dsigma, it, u0 = self._solve_dimensionless(phi_e / vt)
        _, _, frac = self._charge(u)
        scale_sigma = self._eps * vt / self.debye_length_m
        return PoissonBoltzmannResult(
            x_m=xi * self.debye_length_m, potential_V=u * vt,
            concentration_mol_m3=frac * self.concentration_mol_m3[:, None], valence=self.valence.copy(),
            electrode_potential_V=phi_e, diffuse_potential_V=float(u0 * vt),
            surface_charge_C_m2=float(sigma * scale_sigma), capacitance_F_m2=float(dsigma * self._eps
                                                                                      / self.debye_length_m),
            newton_iterations=it)

    def surface_charge(self, potentials_V) -> np.ndarray:
        """σ(φ_E) [C/m²] from solved profiles, for an array of electrode potentials."""
        return np.array([self.solve(p).surface_charge_C_m2 for p in np.atleast_1d(potentials_V)])

    def differential_capacitance(self, potentials_V) -> np.ndarray:
        """C(φ_E) = dσ/dφ_E [F/m²] of the double layer (Stern in series if set), numerical, from
        the solved profiles (exact derivative of the discrete σ via the sensitivity equation)."""
        p = np.asarray(potentials_V, dtype=float)
        out = np.empty(p.shape)
        flat = p.ravel()
        vt = self.thermal_voltage_V
        for i, phi in enumerate(flat):
            phi = check_range(f"potentials_V[{i}]", phi, low=-2.0, high=2.0)
            out.flat[i] = self._solve_dimensionless(phi / vt)[3]
        return out * self._eps / self.debye_length_m
