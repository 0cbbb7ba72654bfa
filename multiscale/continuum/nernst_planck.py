"""Transient and steady Nernst–Planck(–Poisson) transport in 1D with D_i(x) and φ(x).

    ∂c_i/∂t = −∂J_i/∂x,   J_i = −D_i(x) [∂c_i/∂x + z_i c_i ∂ψ/∂x],   ψ = eφ/kT,

either in a fixed potential φ(x) (e.g. the atomistic φ(z)) or coupled to Poisson,
ε d²φ/dx² = −F Σ z_i c_i, with φ (or a Stern layer C_S in series with φ) given at both walls.

Discretisation: vertex-centred finite volumes on any strictly increasing grid; Scharfetter–
Gummel face fluxes

    J_{i+½} = (D_{i+½}/h_i) [B(Δ_i) c_i − B(−Δ_i) c_{i+1}],   B(x) = x/expm1(x),   Δ_i = z(ψ_{i+1} − ψ_i),

which vanish exactly for a discrete Boltzmann profile c_{i+1}/c_i = exp(−Δ_i), whatever D(x);
backward-Euler time stepping (Newton for the Poisson-coupled case). Walls are blocking unless a
reaction boundary (:mod:`.electrode_boundaries`) is given; the update is conservative, so
Σ V_i c_i changes only by the wall fluxes (to round-off with blocking walls).

References: D. L. Scharfetter, H. K. Gummel, IEEE Trans. Electron Devices 16, 64 (1969);
M. Z. Bazant, K. Thornton, A. Ajdari, Phys. Rev. E 70, 021506 (2004).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.linalg import solve_banded

from ..errors import ConvergenceError, InputError, check_range
from ..units import thermal_voltage_V, vacuum_permittivity_F_m
from .poisson import check_grid


@dataclass(frozen=True)
class Species:
    """An ionic species: ``name``, ``valence`` z and ``diffusivity_m2_s`` (a number, an array over
    the grid, or a callable D(x_m) → m²/s)."""

    name: str
    valence: float
    diffusivity_m2_s: float | np.ndarray | Callable


def bernoulli(x):
    """B(x) = x/(eˣ − 1), B(0) = 1 (series below |x| < 1e-8)."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-8
    xs = np.where(small, 1.0, x)
    return np.where(small, 1.0 - x / 2.0, xs / np.expm1(xs))


def bernoulli_prime(x):
    """dB/dx = [eˣ − 1 − x eˣ]/(eˣ − 1)², −½ at 0."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-5
    xs = np.where(small, 1.0, x)
    em = np.expm1(xs)
    return np.where(small, -0.5 + x / 6.0, (em - xs * (em + 1.0)) / (em * em))


def scharfetter_gummel_flux(x_m, concentration_mol_m3, potential_V, diffusivity_face_m2_s, valence, *,
                            temperature_K=298.15):
    """Face fluxes J_{i+½} [mol/(m²·s)] (positive along +x) of the SG scheme (module docstring),
    for nodal c and φ and face diffusivities (n−1 values)."""
    x = check_grid("x_m", x_m)
    c = np.asarray(concentration_mol_m3, dtype=float)
    psi = np.asarray(potential_V, dtype=float) / thermal_voltage_V(temperature_K)
    delta = valence * np.diff(psi)
    return np.asarray(diffusivity_face_m2_s) / np.diff(x) * (bernoulli(delta) * c[:-1] - bernoulli(-delta) * c[1:])


@dataclass
class NernstPlanckResult:
    """Concentrations over time: ``time_s`` (n_t,), ``concentration_mol_m3[name]`` (n_t, n_x),
    ``potential_V`` (n_t, n_x), on ``x_m``. ``result[name]`` is the last profile."""

    x_m: np.ndarray
    time_s: np.ndarray
    concentration_mol_m3: dict
    potential_V: np.ndarray

    def __getitem__(self, name):
        return self.concentration_mol_m3[name][-1]

    def keys(self):
        return self.concentration_mol_m3.keys()

    def amount_mol_m2(self, name) -> np.ndarray:
        """Σ V_i c_i [mol/m²] at each stored time (the conserved amount with blocking walls)."""
        return self.concentration_mol_m3[name] @ _volumes(self.x_m)

    def plot(self, ax=None, *, n_curves=5):
        """Concentration profiles at ``n_curves`` stored times; returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        idx = np.unique(np.linspace(0, self.time_s.size - 1, n_curves).astype(int))
        for k, (name, c) in enumerate(self.concentration_mol_m3.items()):
            for j in idx:
                ax.plot(self.x_m * 1e9, c[j], color=f"C{k}", alpha=0.3 + 0.7 * (j + 1) / self.time_s.size,
                        label=f"{name}, t = {self.time_s[j]:.3g} s")
        ax.set_xlabel("x [nm]")
        ax.set_ylabel("Concentration [mol/m³]")
        ax.legend(fontsize=7)
        return ax


def _volumes(x):
    h = np.diff(x)
    v = np.zeros(x.size)
    v[:-1] += h / 2
    v[1:] += h / 2
    return v


class NernstPlanck1D:
    """Nernst–Planck transport of ``species`` on the grid ``x_m`` (see the module docstring).

    Parameters
    ----------
    x_m : strictly increasing grid [m].
    species : list of :class:`Species`.
    temperature_K : T [K].
    potential_V : fixed φ(x) over ``x_m`` [V], or None for Poisson coupling.
    relative_permittivity : ε_r for Poisson coupling (required when ``potential_V`` is None).
    boundary_potential_V : (φ_left, φ_right) [V] of the electrodes (Poisson coupling).
    stern_capacitance_F_m2 : Stern layer in series at both walls (Poisson coupling); None: φ
        is imposed at the walls.
    reactions : reaction boundaries (:class:`GalvanostaticBoundary`, :class:`ButlerVolmerBoundary`);
        the other walls are blocking.
    """

    def __init__(self, x_m, species, *, temperature_K=298.15, potential_V=None, relative_permittivity=None,
                 boundary_potential_V=(0.0, 0.0), stern_capacitance_F_m2=None, reactions=(),
                 newton_tolerance=1e-10, max_newton_iterations=50):
        self.x_m = check_grid("x_m", x_m)
        if not species:
            raise InputError("species must list at least one Species")
        names = [s.name for s in species]
        if len(set(names)) != len(names):
            raise InputError(f"species names must be unique, got {names}")
        self.species = list(species)
        self.temperature_K = check_range("temperature_K", temperature_K, low=0.0, low_inclusive=False)
        self._vt = thermal_voltage_V(self.temperature_K)
        h = np.diff(self.x_m)
        self._h = h
        self._vol = _volumes(self.x_m)
        xf = 0.5 * (self.x_m[:-1] + self.x_m[1:])
        self._z = np.array([check_range(f"valence of {s.name}", s.valence) for s in self.species])
        self._d_face = np.array([self._face_diffusivity(s, xf) for s in self.species])     # (m, n−1)
        if potential_V is None:
            if relative_permittivity is None:
                raise InputError("relative_permittivity must be set for Poisson coupling when potential_V is None")
            self._eps = check_range("relative_permittivity", relative_permittivity, low=0.0,
                                    low_inclusive=False) * vacuum_permittivity_F_m
            self.potential_V = None
        else:
            if relative_permittivity is not None:
                raise InputError("give either potential_V (fixed φ) or relative_permittivity (Poisson), not both")
            phi = np.asarray(potential_V, dtype=float)
            if phi.ndim == 0:
                phi = np.full(self.x_m.shape, float(phi))
            if phi.shape != self.x_m.shape or not np.all(np.isfinite(phi)):
                raise InputError(f"potential_V must be a finite array of shape {self.x_m.shape}, got {phi.shape}")
            self.potential_V = phi
        bl, br = boundary_potential_V
        self.boundary_potential_V = (check_range("boundary_potential_V[0]", bl), check_range("boundary_potential_V[1]", br))
        self.stern_capacitance_F_m2 = (None if stern_capacitance_F_m2 is None else
                                       check_range("stern_capacitance_F_m2", stern_capacitance_F_m2, low=0.0,
                                                   low_inclusive=False))
        self.reactions = list(reactions)
        for r in self.reactions:
            if r.species not in names:
                raise InputError(f"reaction species {r.species!r} is not one of {names}")
        self.newton_tolerance = check_range("newton_tolerance", newton_tolerance, low=0.0, low_inclusive=False)
        self.max_newton_iterations = int(check_range("max_newton_iterations", max_newton_iterations, low=1))

    def _face_diffusivity(self, s, xf):
        d = s.diffusivity_m2_s
        if callable(d):
            val = np.asarray(d(xf), dtype=float)
            if val.ndim == 0:
                val = np.full(xf.shape, float(val))
        else:
            arr = np.asarray(d, dtype=float)
            if arr.ndim == 0:
                val = np.full(xf.shape, float(arr))
            elif arr.shape == self.x_m.shape:
                with np.errstate(divide="ignore"):
                    val = 2.0 * arr[:-1] * arr[1:] / (arr[:-1] + arr[1:])     # harmonic mean on faces
            else:
                raise InputError(f"diffusivity_m2_s of {s.name} has shape {arr.shape}; must be a number, an array "
                                 f"of shape {self.x_m.shape} or a callable of x")
        if val.shape != xf.shape or not np.all(np.isfinite(val)) or np.any(val <= 0):
            raise InputError(f"diffusivity_m2_s of {s.name} must be finite and > 0 everywhere "
                             f"(min {np.nanmin(val) if val.size else 'n/a'})")
        return val

    # --- helpers -------------------------------------------------------------------------------
    def _initial(self, initial_concentration_mol_m3):
        c = np.empty((len(self.species), self.x_m.size))
        for k, s in enumerate(self.species):
            if s.name not in initial_concentration_mol_m3:
                raise InputError(f"initial_concentration_mol_m3 has no entry for species {s.name!r}")
            v = np.asarray(initial_concentration_mol_m3[s.name], dtype=float)
            v = np.broadcast_to(v, self.x_m.shape) if v.ndim == 0 else v
            if v.shape != self.x_m.shape or not np.all(np.isfinite(v)):
                raise InputError(f"initial_concentration_mol_m3[{s.name!r}] must be finite with shape {self.x_m.shape}")
            if np.any(v < 0):
                raise InputError(f"initial_concentration_mol_m3[{s.name!r}] has negative values (min {v.min():.3g}); "
                                 "must be >= 0")
            c[k] = v
        return c

    def _wall_coefficients(self, k):
        """(a_L, b_L, a_R, b_R): wall fluxes into the electrolyte q = a + b c_s for species k."""
        out = [0.0, 0.0, 0.0, 0.0]
        for r in self.reactions:
            if r.species == self.species[k].name:
                a, b = r.coefficients(self._z[k], self.temperature_K)
                j = 0 if r.side == "left" else 2
                out[j] += a
                out[j + 1] += b
        return out

    def _banded(self, k, psi, dt):
        """Banded backward-Euler matrix and constant part for species k in a fixed ψ."""
        delta = self._z[k] * np.diff(psi)
        g = self._d_face[k] / self._h
        bp, bm = g * bernoulli(delta), g * bernoulli(-delta)       # J = bp c_i − bm c_{i+1}
        n = self.x_m.size
        ab = np.zeros((3, n))
        ab[1] = self._vol / dt
        ab[1, :-1] += bp
        ab[1, 1:] += bm
        ab[0, 1:] = -bm
        ab[2, :-1] = -bp
        a_l, b_l, a_r, b_r = self._wall_coefficients(k)
        ab[1, 0] -= b_l
        ab[1, -1] -= b_r
        return ab, a_l, a_r

    def _increment(self, k, ab, a_l, a_r, ck):
        """Backward-Euler increment Δc from (V/dt + A) Δc = −A c + q (delta form: the round-off
        of the solve is relative to Δc, which keeps Σ V c constant to round-off). −A c is built
        from the face fluxes so that it telescopes."""
        flux = -ab[2, :-1] * ck[:-1] + ab[0, 1:] * ck[1:]      # J_{i+½} = bp c_i − bm c_{i+1}
        rhs = np.zeros_like(ck)
        rhs[:-1] -= flux
        rhs[1:] += flux
        _, k_l, _, k_r = self._wall_coefficients(k)
        rhs[0] += a_l + k_l * ck[0]
        rhs[-1] += a_r + k_r * ck[-1]
        return solve_banded((1, 1), ab, rhs, check_finite=False)

    def _fixed_steady(self, c):
        """Direct steady solve in the fixed φ: A c = q; with blocking walls (A singular, its null
        space the discrete Boltzmann profile) one row is replaced by the amount Σ V c = M."""
        from scipy.sparse import diags

        psi = self.potential_V / self._vt
        out = np.empty_like(c)
        for k in range(len(self.species)):
            ab, a_l, a_r = self._banded(k, psi, np.inf)
            a = diags([ab[0, 1:], ab[1], ab[2, :-1]], [1, 0, -1], format="lil")
            rhs = np.zeros(self.x_m.size)
            rhs[0], rhs[-1] = a_l, a_r
            _, b_l, _, b_r = self._wall_coefficients(k)
            if b_l == 0.0 and b_r == 0.0:
                if a_l + a_r != 0.0:
                    raise ConvergenceError(f"no steady state for {self.species[k].name}: the wall fluxes add up to "
                                           f"{a_l + a_r:.3g} mol/(m²·s) and no surface reaction can balance them")
                j = int(np.argmax(c[k] * self._vol)) if np.any(c[k] > 0) else 0
                a[j, :] = self._vol
                rhs[j] = float(self._vol @ c[k])
                out[k] = self._refined_solve(a.tocsc(), rhs, c[k])
                if rhs[j] > 0:
                    out[k] *= rhs[j] / float(self._vol @ out[k])      # amount exact to round-off
            else:
                out[k] = self._refined_solve(a.tocsc(), rhs, c[k])
        return out

    @staticmethod
    def _refined_solve(a, rhs, guess):
        """Solve A x = rhs as corrections to ``guess`` (two refinement sweeps): accurate to
        round-off relative to x even when A is nearly singular (slow surface reactions)."""
        from scipy.sparse.linalg import splu

        lu = splu(a)
        x = guess.copy()
        for _ in range(3):
            x += lu.solve(rhs - a @ x)
        return x

    # --- public API ------------------------------------------------------------------------------
    def run(self, initial_concentration_mol_m3, t_end_s, *, dt_s=None, save_every=1, progress=False):
        """Integrate to ``t_end_s`` [s] with backward Euler (``dt_s`` default t_end/200); returns a
        :class:`NernstPlanckResult` with every ``save_every``-th step (and the initial state)."""
        c = self._initial(initial_concentration_mol_m3)
        t_end = check_range("t_end_s", t_end_s, low=0.0, low_inclusive=False)
        dt = t_end / 200.0 if dt_s is None else check_range("dt_s", dt_s, low=0.0, low_inclusive=False)
        n_steps = int(np.ceil(t_end / dt - 1e-9))
        dt = t_end / n_steps
        save_every = int(check_range("save_every", save_every, low=1))
        times, frames, phis = [0.0], [c.copy()], []
        psi = self._psi(c, None)
        phis.append(psi * self._vt)
        from tqdm.auto import tqdm

        fixed = self.potential_V is not None
        mats = [self._banded(k, psi, dt) for k in range(len(self.species))] if fixed else None
        for step in tqdm(range(1, n_steps + 1), disable=not progress, desc="Nernst–Planck"):
            if fixed:
                for k, (ab, a_l, a_r) in enumerate(mats):
                    c[k] += self._increment(k, ab, a_l, a_r, c[k])
            else:
                c, psi = self._coupled_step(c, psi, dt)
            if step % save_every == 0 or step == n_steps:
                times.append(step * dt)
                frames.append(c.copy())
                phis.append(psi * self._vt)
        arr = np.array(frames)
        return NernstPlanckResult(self.x_m, np.array(times),
                                  {s.name: arr[:, k] for k, s in enumerate(self.species)}, np.array(phis))

    def steady_state(self, initial_concentration_mol_m3, *, rtol=1e-12, max_steps=400):
        """Steady state reached from ``initial_concentration_mol_m3`` by pseudo-transient
        continuation (backward Euler with a doubling time step, conserving each species' amount
        with blocking walls). Returns a :class:`NernstPlanckResult` of the final state
        (``ss[name]`` is the profile). Raises ConvergenceError when it does not settle."""
        c = self._initial(initial_concentration_mol_m3)
        if self.potential_V is not None:
            c = self._fixed_steady(c)
            psi = self.potential_V / self._vt
        else:
            from .nernst_planck_poisson import coupled_steady_state

            c, psi = coupled_steady_state(self, c, rtol=rtol, max_steps=max_steps)
        frames = c[None]
        return NernstPlanckResult(self.x_m, np.array([np.inf]),
                                  {s.name: frames[:, k] for k, s in enumerate(self.species)},
                                  (psi * self._vt)[None])

    # --- Poisson coupling ----------------------------------------------------------------------------
    def _psi(self, c, psi0):
        if self.potential_V is not None:
            return self.potential_V / self._vt
        from .nernst_planck_poisson import equilibrium_potential

        return equilibrium_potential(self, c, psi0)

    def _coupled_step(self, c, psi, dt):
        from .nernst_planck_poisson import coupled_step

        return coupled_step(self, c, psi, dt)
