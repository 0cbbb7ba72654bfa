"""Fast single-particle model with electrolyte (SPMe), stepped in numpy for many cells at once.

Equations (PyBaMM's ``lithium_ion.SPMe()``, Marquis et al. 2019; positive current = discharge):

* particles (k = n, p), spherical Fickian diffusion with the x-averaged interfacial flux
  ∂c/∂t = (1/r²)∂/∂r(r² D_k ∂c/∂r),  −D_k ∂c/∂r|_R = j_k / F,  j_n = i/(a_n L_n),
  j_p = −i/(a_p L_p),  i = I / A  [A/m²],  a_k = 3 ε_s,k / R_k;
* electrolyte over negative | separator | positive (c_e in mol/m³):
  ε ∂c_e/∂t = −∂N/∂x + a j / F,  N = −ε^b D_e(c_e) ∂c_e/∂x + t₊ i_e / F, zero flux at both ends,
  a j = i/L_n, 0, −i/L_p and i_e the piecewise-linear electrolyte current;
* voltage V = U_p(y_s) − U_n(x_s) + η_p − η_n + η_c + Δφ_e + Δφ_s with
  η_k = ⟨(2RT/F) asinh(j_k / (2 j0_k(c_e(x))))⟩_k (x-averaged over the electrode),  η_c = χ RT/F (⟨ln(c_e/c̄_e)⟩_p − ⟨ln(c_e/c̄_e)⟩_n),
  Δφ_e = −i (L_n/(3κ_n) + L_s/κ_s + L_p/(3κ_p)),  Δφ_s = −(i/3)(L_n/σ_n + L_p/σ_p),
  κ_k = κ(c̄_e) ε_k^b (PyBaMM composite conductivity and composite ohm submodels), with
  c̄_e = ⟨ε c_e⟩⟨1/ε⟩ as PyBaMM 26.10 evaluates the x-average of ε c_e / ε.

Discretisation: PyBaMM's own finite volumes (:mod:`.spme_discretisation`; 20 shells and
20+20+20 cells by default). Time stepping: the linear part is diagonalised once and advanced
exactly for a current held over the step (zero-order hold) or varying linearly between samples
(first-order hold): X ← e^{Λdt} X + φ₁(Λdt)dt·b i₀ + φ₂(Λdt)dt·b (i − i₀), φ₁(x) = (eˣ−1)/x,
φ₂(x) = (eˣ−1−x)/x², exact for any dt. The concentration dependence of the electrolyte
diffusivity is the explicit remainder N(c) = M⁻¹∇·[(D_e(c_f) − D_e(c₀)) h ∇c] (c_f the face
concentration, h the harmonic face mean of ε^b) added through the same φ₁ (exponential Euler,
Hochbruck & Ostermann, Acta Numer. 19 (2010) 209), stable because φ₁ damps the stiff modes;
steps over ``NONLINEAR_STEP_S`` are split. A step is a few small mat-vec products per cell;
all cells advance in one vectorised call. Particle diffusivities must be independent of the
stoichiometry (true of Chen2020), otherwise :class:`~multiscale.errors.NotBuiltError`.

Measured against PyBaMM 26.10 SPMe (Chen2020, tests): 0.05 mV RMSE on a 1C discharge, 0.07 mV
on −1C…2C pulses, identical internal states to 1e-8 in stoichiometry.

Per-cell spread (packs): ``capacity_scale`` multiplies the electrode area (a cell of the
same design, larger or smaller: capacity × s, current density / s), ``resistance_scale``
multiplies the ohmic losses Δφ_e + Δφ_s.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import InputError, check_range
from .features import SPME_STATE_VARIABLES
from .spme_discretisation import SPMeOperators, _phi
from .spme_parameters import SPMeTables, build_tables

#: PyBaMM's floor of the MacInnes-function argument c_e / c̄_e (settings.tolerances).
PYBAMM_MACINNES_TOL = 1e-15

#: Longest step [s] over which the explicit D_e(c) term is frozen (longer steps are split).
NONLINEAR_STEP_S = 5.0

#: Columns of :meth:`FastSPMe.state_matrix`: the corrector's SPMe inputs, in the same order.
STATE_COLUMNS = SPME_STATE_VARIABLES

#: Status bits of :attr:`FastSPMe.status` (per cell, OR-ed; 0 = inside every limit).
STATUS_SOC = 1            # SOC outside [0, 1]
STATUS_STOICHIOMETRY = 2  # a surface stoichiometry outside [0, 1] (OCP tables clamp there)
STATUS_VOLTAGE = 4        # voltage outside the parameter set's cut-offs
STATUS_ELECTROLYTE = 8    # electrolyte concentration ≤ 0 somewhere (depleted)


class FastSPMe(SPMeOperators):
    """SPMe of ``n_cells`` cells at one ambient temperature, stepped with the measured current.

    Parameters
    ----------
    parameter_values : pybamm.ParameterValues, optional
        Default ``pybamm.ParameterValues("Chen2020")``.
    n_cells : int
        Number of cells stepped together.
    initial_soc : float or array (n_cells,)
        In [0, 1]; stoichiometries x = x₀ + s(x₁₀₀ − x₀), y = y₀ − s(y₀ − y₁₀₀) as PyBaMM's
        ``get_initial_stoichiometries``.
    ambient_temperature_K : float
        Isothermal cell temperature [K] (PyBaMM ambient = initial temperature).
    capacity_scale, resistance_scale : float or array (n_cells,), optional
        Per-cell electrode-area and ohmic-loss multipliers (default 1).
    current_hold : {"zero", "linear"}
        Current between samples: held at the new sample (zero-order hold, as
        ``pybamm.Simulation.step``) or linear from the previous sample (first-order hold, as a
        PyBaMM linear ``Interpolant`` of a sampled profile). Both are integrated exactly.
    macinnes_floor : float
        Floor of c_e/c̄_e inside the logarithm of η_c (PyBaMM: 1e-15).
    exchange_floor_mol_m3 : float, optional
        If set, c_e in the exchange currents is replaced by c_f·ln(1 + e^{c_e/c_f}) (the guard of
        :mod:`multiscale.battery.robust_spme`).
    n_particle, n_electrolyte : int
        Finite volumes per particle and per electrolyte sub-domain (PyBaMM default 20).
    tables : SPMeTables, optional
        Pre-built tables (skips PyBaMM evaluation; must be at ``ambient_temperature_K``).
    compiled : bool
        Packs (``n_cells`` > 1): run the elementwise and lookup parts of a scalar-dt step as
        numba kernels (:func:`.estimator_kernel.build_pack`; the numpy path's numbers to
        round-off) when numba is available (default True). ``False`` keeps the numpy path.
    """

    def __init__(self, parameter_values=None, n_cells: int = 1, *, initial_soc=1.0,
                 ambient_temperature_K: float = 298.15, capacity_scale=None, resistance_scale=None,
                 current_hold: str = "zero", macinnes_floor: float = PYBAMM_MACINNES_TOL,
                 exchange_floor_mol_m3: float | None = None, n_particle: int = 20,
                 n_electrolyte: int = 20, tables: SPMeTables | None = None, compiled: bool = True):
        if isinstance(n_cells, bool) or int(n_cells) != n_cells or n_cells < 1:
            raise InputError(f"n_cells = {n_cells!r} is out of range: must be an integer >= 1")
        if current_hold not in ("zero", "linear"):
            raise InputError(f"current_hold = {current_hold!r} is not one of 'zero', 'linear'")
        for name, val in (("n_particle", n_particle), ("n_electrolyte", n_electrolyte)):
            if int(val) != val or val < 3:
                raise InputError(f"{name} = {val!r} is out of range: must be an integer >= 3")
        self.n_cells = int(n_cells)
        self.current_hold = current_hold
        T = check_range("ambient_temperature_K", ambient_temperature_K, low=200.0, high=400.0)
        if tables is None:
            tables = build_tables(parameter_values, T)
        elif abs(tables.temperature_K - T) > 1e-9:
            raise InputError(f"tables.temperature_K = {tables.temperature_K} differs from ambient_temperature_K = {T}")
        self.tables = tb = tables
        self.temperature_K = T
        self.RT_F = tb.gas_constant_J_mol_K * T / tb.faraday_C_mol
        self.capacity_scale = self._per_cell("capacity_scale", capacity_scale)
        self.resistance_scale = self._per_cell("resistance_scale", resistance_scale)
        self.area_m2 = tb.electrode_area_m2 * self.capacity_scale
        el = tb.negative
        x0, x100, _, _ = tb.stoichiometry_limits
        self._capacity_Ah = ((x100 - x0) * el.c_max_mol_m3 * el.active_fraction * el.thickness_m * self.area_m2
                             * tb.faraday_C_mol / 3600.0)
        self._macinnes_floor = check_range("macinnes_floor", macinnes_floor, low=0.0, high=1.0)
        self._build_particles(int(n_particle))
        self._build_electrolyte(int(n_electrolyte), exchange_floor_mol_m3)
        self._build_layout()
        self._pk = None
        if compiled and self.n_cells > 1:
            from . import estimator_kernel

            self._pk = estimator_kernel.build_pack(self)
        self._cache: dict = {}
        self.reset(initial_soc)

    # ------------------------------------------------------------------ set-up
    def _per_cell(self, name, value):
        if value is None:
            return np.ones(self.n_cells)
        a = np.broadcast_to(np.asarray(value, dtype=float), (self.n_cells,)).copy()
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise InputError(f"{name} = {value!r} is out of range: must be finite and > 0 for every cell")
        return a

    # ------------------------------------------------------------------ state
    def reset(self, initial_soc=1.0):
        """Uniform particles at ``initial_soc``, the electrolyte at rest, zero previous current."""
        soc = self._per_cell_soc(initial_soc)
        x0, x100, y100, y0 = self.tables.stoichiometry_limits
        X = np.zeros((self.n_cells, self._n_state))
        X[:, 0], X[:, 1] = x0 + soc * (x100 - x0), y0 - soc * (y0 - y100)
        X[:, self._sl_e] = np.full(3 * self._n_e, self.tables.c_e_init_mol_m3) @ self._Vinv_e_T
        self._X = X
        self._c = X[:, self._sl_e] @ self._Ve_T
        self._i_prev = None
        self._last_V = None

    def _per_cell_soc(self, soc):
        a = np.broadcast_to(np.asarray(soc, dtype=float), (self.n_cells,)).copy()
        if not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a > 1):
            raise InputError(f"initial_soc = {soc!r} is out of range: must be in [0, 1] for every cell")
        return a

    @property
    def soc(self) -> np.ndarray:
        """SOC = (x̄ − x₀)/(x₁₀₀ − x₀) from the negative particles' average stoichiometry."""
        x0, x100, _, _ = self.tables.stoichiometry_limits
        return (self._X[:, 0] - x0) / (x100 - x0)

    @property
    def capacity_Ah(self) -> np.ndarray:
        """Capacity between SOC 0 and 1 per cell [A h]: (x₁₀₀ − x₀) c_max ε_s L A F / 3600."""
        return self._capacity_Ah

    def shift_soc(self, delta_soc):
        """Move both particles' average stoichiometry by ``delta_soc`` (lithium-conserving)."""
        x0, x100, y100, y0 = self.tables.stoichiometry_limits
        d = np.asarray(delta_soc, dtype=float)
        self._X[:, 0] += d * (x100 - x0)
        self._X[:, 1] += d * (y100 - y0)

    def get_state(self) -> dict:
        """Copy of the dynamic state (for checkpoints and filters)."""
        return {"X": self._X.copy(), "c": self._c.copy(),
                "i_prev": None if self._i_prev is None else self._i_prev.copy()}

    def set_state(self, state: dict) -> None:
        self._X, self._c = state["X"].copy(), state["c"].copy()
        self._i_prev = None if state["i_prev"] is None else state["i_prev"].copy()

    # ------------------------------------------------------------------ stepping
    def _propagators(self, dt):
        """(e^{Λdt}, φ₁dt·b, φ₂dt·b, (φ₁−φ₂)dt·b, φ₁dt on the electrolyte modes, [(φ₁−φ₂)dt·b; φ₂dt·b],
        the explicit D_e(c) operator with φ₁dt folded in); cached per scalar dt."""
        hit = self._cache.get(dt) if not isinstance(dt, np.ndarray) else None
        if hit is None:
            d = np.asarray(dt, dtype=float)[..., None] if isinstance(dt, np.ndarray) else float(dt)
            e, p1, p2 = _phi(self._lam, d)
            q1, q2, q12, p1e = p1 * self._b, p2 * self._b, (p1 - p2) * self._b, p1[..., self._sl_e]
            if isinstance(dt, np.ndarray):
                return (e, q1, q2, q12, p1e, None, None)
            Q2 = np.ascontiguousarray(np.stack([q12, q2]))
            Dm = np.ascontiguousarray(self._div_modal * p1e[None, :]) if self._nonlinear else None
            hit = (e, q1, q2, q12, p1e, Q2, Dm)
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[float(dt)] = hit
        return hit

    def advance(self, current_A, dt_s) -> np.ndarray:
        """Advance all states over ``dt_s`` (validated by :meth:`step`); returns i [A/m²].

        X ← e^{Λdt} X + φ₁dt·b i₀ + φ₂dt·b (i − i₀) (+ φ₁dt·N(c) for c-dependent D_e), with
        i₀ the previous sample for a linear hold, else i. The explicit term N(c) is frozen over
        a step, so steps longer than ``NONLINEAR_STEP_S`` are split into sub-steps that double
        in length (2.5, 5, 10 … s): a long rest relaxes to the exact equilibrium.
        """
        i = current_A / self.area_m2
        i0 = i if (self._i_prev is None or self.current_hold == "zero") else self._i_prev
        if not isinstance(dt_s, np.ndarray):
            if not self._nonlinear or dt_s <= NONLINEAR_STEP_S:
                (self._substep1 if self.n_cells == 1 else self._substep_pack)(i0, i, dt_s)
                self._i_prev = i
                return i
            dmax = dt_s
        else:
            dmax = float(np.max(dt_s))
        if not self._nonlinear or dmax <= NONLINEAR_STEP_S:
            self._substep(i0, i, dt_s)
        else:
            n_sub = int(np.ceil(np.log2(dmax / (0.5 * NONLINEAR_STEP_S) + 1.0)))
            edges = (2.0 ** np.arange(n_sub + 1) - 1.0) / (2.0 ** n_sub - 1.0)   # fractions of dt
            for a, b in zip(edges[:-1], edges[1:]):
                self._substep(i0 + a * (i - i0), i0 + b * (i - i0), (b - a) * dt_s)
        self._i_prev = i
        return i

    def _substep(self, i0, i, dt_s):
        if not isinstance(dt_s, np.ndarray):
            return (self._substep1 if self.n_cells == 1 else self._substep_pack)(i0, i, dt_s)
        e, q1, q2, q12, p1e, _, _ = self._propagators(dt_s)
        X = self._X
        X *= e                                   # in place: no per-step allocation of X
        if i0 is i:
            X += q1 * i[:, None] if self.n_cells > 1 else q1 * float(i[0])
        else:
            X += q12 * i0[:, None]
            X += q2 * i[:, None]
        if self._nonlinear:
            c = self._c
            b = self._beta_face
            cf = c[:, 1:] * b                    # face concentration (1 − β) c_k + β c_{k+1}
            cf += c[:, :-1] * (1.0 - b)
            grad = c[:, 1:] - c[:, :-1]
            grad *= self._g_face                 # h ∇c at the faces
            d = self._De(cf)
            d -= self._De_ref
            d *= grad
            ze = X[:, self._sl_e]
            ze += p1e * (d @ self._div_modal)
        self._c = X[:, self._sl_e] @ self._Ve_T

    def _substep1(self, i0, i, dt_s):
        """One cell, scalar dt: the same update as :meth:`_substep` with the fewest numpy calls."""
        e, q1, q2, q12, p1e, Q2, Dm = self._propagators(dt_s)
        X = self._X
        X *= e
        if i0 is i:
            X += q1 * float(i[0])
        else:
            X += np.dot((float(i0[0]), float(i[0])), Q2)
        if self._nonlinear:
            nf = self._n_face
            cg = self._c[0] @ self._W_face_c          # [c_f, h ∇c] at the faces
            d = np.interp(cg[:nf], self._De_x, self._De_y0)
            d *= cg[nf:]
            ze = X[0, self._sl_e]
            ze += d @ Dm
        self._c = X[:, self._sl_e] @ self._Ve_T

    def _substep_pack(self, i0, i, dt_s):
        """Many cells, scalar dt: :meth:`_substep` with preallocated buffers and the φ₁dt folded in."""
        e, q1, q2, q12, p1e, Q2, Dm = self._propagators(dt_s)
        B = self._buf
        X = self._X
        pk = self._pk
        if pk is not None:     # compiled: the D_e(c) face fluxes in one pass, then X ← e X + terms in one
            same = i0 is i
            M = B["e"]
            if self._nonlinear:
                d = B["f2"]
                pk.faces(self._c, d)                 # from c at the start of the step
                np.matmul(d, Dm, out=M)
            pk.advance(X, e, q1 if same else q12, q2, i0, i, same, M, self._sl_e.start)
            ze = X[:, self._sl_e]
            self._c = np.matmul(ze, self._Ve_T, out=self._c if self._c.flags.c_contiguous else None)
            return
        X *= e
        if i0 is i:
            lin = np.multiply(i[:, None], q1, out=B["X"])
        else:
            U = B["U"]
            U[:, 0] = i0
            U[:, 1] = i
            lin = np.matmul(U, Q2, out=B["X"])
        X += lin
        ze = X[:, self._sl_e]
        if self._nonlinear:
            c = self._c
            dc = np.subtract(c[:, 1:], c[:, :-1], out=B["f0"])
            cf = np.multiply(dc, self._beta_face, out=B["f1"])
            cf += c[:, :-1]                      # c_k + β (c_{k+1} − c_k) at the faces
            d = self._lut_De(cf, out=B["f2"], work=B["f1"], index=B["fk"])    # D_e(c_f) − D_e(c₀)
            dc *= self._g_face                   # h ∇c
            d *= dc
            ze += np.matmul(d, Dm, out=B["e"])
        self._c = np.matmul(ze, self._Ve_T, out=self._c if self._c.flags.c_contiguous else None)

    def outputs(self, current_A, *, delta_soc=None) -> dict:
        """SPMe quantities (PyBaMM names, see ``features.SPME_STATE_VARIABLES``) per cell.

        ``delta_soc`` (scalar or (n_cells,)) evaluates them as if the particles' average
        stoichiometries were shifted by that SOC (the Kalman filter's measurement function);
        the state is not changed. Stoichiometries are clamped to [0, 1] inside the OCP and
        exchange-current tables (flagged by :attr:`status`), so no output is NaN.
        """
        I = np.broadcast_to(np.asarray(current_A, dtype=float), (self.n_cells,)).copy()
        Y, extra = self.state_matrix(I, delta_soc=delta_soc)
        out = {name: Y[:, j] for j, name in enumerate(STATE_COLUMNS)}
        out["X-averaged solid phase ohmic losses [V]"] = extra[0]
        out["Open-circuit voltage [V]"] = extra[1]
        return out

    def state_matrix(self, I, *, delta_soc=None):
        """(Y, (Δφ_s, OCV)): ``Y`` (n_cells, 10) holds :data:`STATE_COLUMNS` for currents ``I``.

        The fast path used by the estimator (``I`` a float array (n_cells,)); see :meth:`outputs`.
        """
        if delta_soc is None and self._sigma_const:
            return self._state_matrix1(I) if self.n_cells == 1 else self._state_matrix_pack(I)
        i = I / self.area_m2
        X = self._X
        surf = X @ self._X_surf
        if delta_soc is not None:
            x0, x100, y100, y0 = self.tables.stoichiometry_limits
            shift = np.asarray(delta_soc, dtype=float).reshape(-1, 1) * np.array([x100 - x0, y100 - y0])
            surf = surf + shift
        Y = np.empty((self.n_cells, 10))
        Y[:, 0] = I
        Y[:, 2:4] = surf
        Y[:, 4:6] = X[:, :2]
        if delta_soc is not None:
            Y[:, 4:6] += shift
        s2 = np.minimum(np.maximum(surf, self._zero2), self._one2)
        q = np.interp(s2 @ self._tab_T + self._tab_off, self._tab_x, self._tab_y)   # U_n, U_p, 1/g_n, 1/g_p
        ocv = q @ self._ocv_w
        r = (i[:, None] * self._fpc2) * q[:, 2:]              # j / g = 2 · j / (2 g)
        c = self._c
        n = self._n_e
        # PyBaMM: inverse Butler–Volmer at every electrolyte node with the local j0, x-averaged
        fn, fp = self._inv_f
        if self._same_f:
            f = np.interp(c, fn.x_grid, fn.y_grid).reshape(-1, 3, n)[:, ::2, :]
        else:
            f = np.stack([np.interp(c[:, :n], fn.x_grid, fn.y_grid), np.interp(c[:, 2 * n:], fp.x_grid, fp.y_grid)], 1)
        eta = np.arcsinh(r[:, :, None] * f) @ self._mean_e
        Y[:, 6:8] = eta
        eta_c = self._chi_RT_F * (np.log(np.maximum(c, self._ce_floor)) @ self._w_mac)
        Y[:, 8] = eta_c
        d_phi_e = -self._R_e * i
        Y[:, 9] = d_phi_e
        if self._sigma_const:
            d_phi_s = -self._R_s * i
        else:
            tb = self.tables
            neg, pos = tb.negative, tb.positive
            sn = neg.sigma_S_m(s2[:, 0]) * neg.electrode_transport_efficiency
            sp = pos.sigma_S_m(s2[:, 1]) * pos.electrode_transport_efficiency
            d_phi_s = -(i / 3.0) * (neg.thickness_m / sn + pos.thickness_m / sp)
        V = ocv + (Y[:, 7] - Y[:, 6]) + eta_c + self.resistance_scale * (d_phi_e + d_phi_s)
        Y[:, 1] = V
        self._last_V = V
        return Y, (d_phi_s, ocv)

    def _state_matrix1(self, I):
        """:meth:`state_matrix` of one cell in Python floats where numpy calls would cost more."""
        I_f = float(I[0])
        i = I_f / float(self.area_m2[0])
        X = self._X[0]
        sn, sp = (X @ self._X_surf).tolist()
        xa, ya = X[:2].tolist()
        cn = 0.0 if sn < 0.0 else (1.0 if sn > 1.0 else sn)
        cp = 0.0 if sp < 0.0 else (1.0 if sp > 1.0 else sp)
        un, up, ign, igp = np.interp((cn, cp + 2.0, cn + 4.0, cp + 6.0), self._tab_x, self._tab_y).tolist()
        ocv = up - un
        ne = self._n_e
        c = self._c[0]
        fn, fp = self._lut_f
        if self._same_f:
            f = np.interp(c[self._idx_el], fn.x_grid, fn.y_grid).reshape(2, ne)
        else:
            f = np.stack([fn(c[:ne]), fp(c[2 * ne:])])
        f *= np.array(((i * self._fpc_n) * ign, (i * self._fpc_p) * igp))[:, None]
        eta_n, eta_p = (np.arcsinh(f, out=f) @ self._mean_e).tolist()
        eta_c = self._chi_RT_F * float(np.log(np.maximum(c, self._ce_floor)) @ self._w_mac)
        d_phi_e = -self._R_e * i
        d_phi_s = -self._R_s_f * i
        V = ocv + (eta_p - eta_n) + eta_c + float(self.resistance_scale[0]) * (d_phi_e + d_phi_s)
        Y = np.array(((I_f, V, sn, sp, xa, ya, eta_n, eta_p, eta_c, d_phi_e),))
        self._last_V = Y[:, 1]
        return Y, (np.array((d_phi_s,)), np.array((ocv,)))

    def _state_matrix_pack(self, I):
        """:meth:`state_matrix` of many cells: direct lookups on uniform grids, buffers, no fancy indexing."""
        n, ne = self.n_cells, self._n_e
        pk = self._pk
        if pk is not None:     # compiled lookups; arcsinh, log and the averages by numpy
            Y = np.empty((n, 10))
            i = np.empty(n)
            pk.outputs(self, self._X, I, self._c, Y, i)
            f = np.arcsinh(pk.A, out=pk.A)
            eta = (f.reshape(2 * n, ne) @ self._mean_e).reshape(2, n)
            Y[:, 6] = eta[0]
            Y[:, 7] = eta[1]
            lc = np.log(pk.L, out=pk.L)
            lm = (lc.reshape(2 * n, ne) @ self._mean_c).reshape(2, n)
            eta_c = np.subtract(lm[1], lm[0], out=lm[0])
            eta_c *= self._chi_RT_F
            Y[:, 8] = eta_c
            d_phi_e = i * -self._R_e
            Y[:, 9] = d_phi_e
            d_phi_s = i * -self._R_s
            V = Y[:, 1]
            np.subtract(eta[1], eta[0], out=V)
            V += pk.ocv
            V += eta_c
            V += self.resistance_scale * (d_phi_e + d_phi_s)
            self._last_V = V
            return Y, (d_phi_s, pk.ocv.copy())
        B = self._buf
        i = I / self.area_m2
        X = self._X
        surf = X @ self._X_surf
        Y = np.empty((n, 10))
        Y[:, 0] = I
        Y[:, 2:4] = surf
        Y[:, 4:6] = X[:, :2]
        s2 = np.minimum(np.maximum(surf, 0.0), 1.0)
        sn, sp = s2[:, 0], s2[:, 1]
        ocv = np.interp(sp, self._ocp_x, self._ocp_p_y)
        ocv -= np.interp(sn, self._ocp_x, self._ocp_n_y)
        gn, gp = self._inv_g
        r = np.empty((n, 2))
        gn(sn, out=r[:, 0], work=B["s0"], index=B["sk"])
        gp(sp, out=r[:, 1], work=B["s1"], index=B["sk"])
        r *= i[:, None] * self._fpc2                           # j / g = 2 · j / (2 g)
        c3 = self._c.reshape(n, 3, ne)[:, ::2, :]              # electrode nodes (strided view)
        fn, fp = self._lut_f
        f = B["n0"]
        if self._same_f:
            fn(c3, out=f, work=B["n1"], index=B["nk"])
        else:
            fn(c3[:, 0], out=f[:, 0], work=B["n1"][:, 0], index=B["nk"][:, 0])
            fp(c3[:, 1], out=f[:, 1], work=B["n1"][:, 1], index=B["nk"][:, 1])
        f *= r[:, :, None]
        np.arcsinh(f, out=f)
        eta = Y[:, 6:8]
        eta[...] = (f.reshape(2 * n, ne) @ self._mean_e).reshape(n, 2)
        lc = np.maximum(c3, self._ce_floor, out=f)
        np.log(lc, out=lc)
        eta_c = lc.reshape(n, 2 * ne) @ self._w_mac2
        eta_c *= self._chi_RT_F
        Y[:, 8] = eta_c
        d_phi_e = i * -self._R_e
        Y[:, 9] = d_phi_e
        d_phi_s = i * -self._R_s
        V = Y[:, 1]
        np.subtract(eta[:, 1], eta[:, 0], out=V)
        V += ocv
        V += eta_c
        V += self.resistance_scale * (d_phi_e + d_phi_s)
        self._last_V = V
        return Y, (d_phi_s, ocv)

    @property
    def status(self) -> np.ndarray:
        """Per-cell bit flags (``STATUS_*``, 0 = inside every limit) at the last output."""
        tb = self.tables
        soc = self.soc
        surf = self._X @ self._X_surf
        st = np.where((soc < 0.0) | (soc > 1.0), STATUS_SOC, 0)
        st |= np.where(np.any((surf < 0.0) | (surf > 1.0), axis=1), STATUS_STOICHIOMETRY, 0)
        if self._last_V is not None:
            v = self._last_V
            st |= np.where((v < tb.lower_voltage_V) | (v > tb.upper_voltage_V), STATUS_VOLTAGE, 0)
        st |= np.where(self._c.min(axis=1) <= 0.0, STATUS_ELECTROLYTE, 0)
        return st.astype(np.int8)

    def step(self, current_A, dt_s) -> dict:
        """Validate, advance and return :meth:`outputs` at the end of the step.

        ``current_A`` scalar or (n_cells,) [A], positive = discharge; ``dt_s`` > 0 scalar or
        (n_cells,) [s]. Raises :class:`InputError` on NaN/inf current or dt ≤ 0.
        """
        I = check_current(current_A, self.n_cells)
        dt = check_dt(dt_s, self.n_cells)
        self.advance(I, dt)
        return self.outputs(I)


def check_current(current_A, n_cells):
    """``current_A`` as a float array (n_cells,), or :class:`InputError` (shape, NaN, inf)."""
    if type(current_A) is float and n_cells == 1 and math.isfinite(current_A):
        return np.array([current_A])
    I = np.asarray(current_A, dtype=float)
    if I.ndim == 0:
        I = np.full(n_cells, float(I))
    if I.shape != (n_cells,):
        raise InputError(f"current_A has shape {I.shape}; expected a scalar or ({n_cells},)")
    if not np.isfinite(I).all():
        raise InputError(f"current_A = {current_A!r} contains NaN or inf")
    return I


def check_dt(dt_s, n_cells):
    """``dt_s`` as a float > 0 or an array (n_cells,) of them, or :class:`InputError`."""
    if type(dt_s) is float and dt_s > 0.0 and math.isfinite(dt_s):
        return dt_s
    if np.ndim(dt_s) == 0:
        try:
            dt = float(dt_s)
        except (TypeError, ValueError):
            raise InputError(f"dt_s = {dt_s!r} is not a number") from None
        if not np.isfinite(dt) or dt <= 0:
            raise InputError(f"dt_s = {dt_s!r} is out of range: must be finite and > 0")
        return dt
    dt = np.asarray(dt_s, dtype=float)
    if dt.shape != (n_cells,) or not np.all(np.isfinite(dt)) or np.any(dt <= 0):
        raise InputError(f"dt_s must be a finite scalar > 0 or an array ({n_cells},) of them; got {dt_s!r}")
    return dt
