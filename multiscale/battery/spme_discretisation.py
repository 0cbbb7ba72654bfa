"""PyBaMM's SPMe finite volumes, diagonalised once for exact exponential time stepping.

Builds the operators of :class:`multiscale.battery.spme_fast.FastSPMe` (a mix-in):

* particles: spherical finite volumes on a uniform mesh of n shells (PyBaMM ``FiniteVolume``,
  ``Uniform1DSubMesh``): d(V_i c_i)/dt = Σ faces r_f² D (c_j − c_i)/Δr, flux −R² j/F through the
  surface; the surface value by PyBaMM's linear extrapolation c_s = 1.5 c_N − 0.5 c_{N−1};
* electrolyte: 3 × n cells over negative | separator | positive, unknown ε c_e, interior face
  coefficients the harmonic mean of ε^b D_e weighted by cell widths (PyBaMM ``harmonic_mean``),
  migration t₊ i_e/F averaged node→edge with PyBaMM's distance weights, reaction sources a j/F.

Each operator A = M⁻¹K (M the control-volume measure, K symmetric) is diagonalised through the
symmetric M^{-1/2} K M^{-1/2} = QΛQᵀ, so A = VΛV⁻¹ with real Λ ≤ 0, V = M^{-1/2}Q. The particle
mean (λ = 0) is carried exactly as the average stoichiometry; all cells share the bases.

Reference: Sulzer et al., J. Open Res. Softw. 9 (2021) 14 (PyBaMM); Recktenwald, "The
control-volume finite-difference approximation to the diffusion equation" (2012).
"""
from __future__ import annotations

import numpy as np

from ..errors import NotBuiltError, check_range
from .spme_parameters import Table1D, UniformLerp


def _mesh(lo, hi, n):
    edges = np.linspace(lo, hi, n + 1)
    return 0.5 * (edges[1:] + edges[:-1]), edges


def _modal(measure, conductance):
    """Diagonalise A = M⁻¹K for a chain with face conductances; returns (λ, V, V⁻¹)."""
    n = measure.size
    K = np.zeros((n, n))
    i = np.arange(n - 1)
    K[i, i] -= conductance
    K[i + 1, i + 1] -= conductance
    K[i, i + 1] += conductance
    K[i + 1, i] += conductance
    s = 1.0 / np.sqrt(measure)
    lam, Q = np.linalg.eigh(s[:, None] * K * s[None, :])
    lam[np.abs(lam) < 1e-10 * np.max(np.abs(lam))] = 0.0
    return np.minimum(lam, 0.0), s[:, None] * Q, Q.T * np.sqrt(measure)[None, :]


def _phi(lam, dt):
    """(e^{λdt}, φ₁(λdt)·dt, φ₂(λdt)·dt) with φ₁ = (eˣ−1)/x, φ₂ = (eˣ−1−x)/x² (→ 1, ½ at 0)."""
    x = lam * dt
    small = np.abs(x) < 1e-6
    xs = np.where(small, 1.0, x)
    p1 = np.where(small, 1.0 + x / 2.0, np.expm1(xs) / xs)
    p2 = np.where(small, 0.5 + x / 6.0, (np.expm1(xs) - xs) / xs ** 2)
    return np.exp(x), p1 * dt, p2 * dt


class SPMeOperators:
    """Mix-in that builds the diagonalised particle and electrolyte operators (see module)."""

    def _build_particles(self, n):
        """Spherical finite volumes (PyBaMM): only the decaying modes are kept; the mean is exact."""
        tb, F = self.tables, self.tables.faraday_C_mol
        lams, bs, surf_rows, k_avg, self._flux_per_current = [], [], [], [], []
        for el, sign in ((tb.negative, 1.0), (tb.positive, -1.0)):
            if el.diffusivity_m2_s.constant is None:
                raise NotBuiltError("a stoichiometry-dependent particle diffusivity is not supported by the "
                                    "fast SPMe yet (Chen2020's are constant)")
            R, cmax = el.particle_radius_m, el.c_max_mol_m3
            nodes, edges = _mesh(0.0, R, n)
            vol = np.diff(edges ** 3) / 3.0
            cond = el.diffusivity_m2_s.constant * edges[1:-1] ** 2 / np.diff(nodes)
            lam, V, Vinv = _modal(vol, cond)
            keep = lam < 0.0
            fpc = sign / (el.surface_area_m2_m3 * el.thickness_m)     # j per unit i
            self._flux_per_current.append(fpc)
            bs.append(Vinv[keep, -1] * (-R ** 2 / (F * vol[-1] * cmax)) * fpc)  # d sto/dt per i
            surf_rows.append(1.5 * V[-1, keep] - 0.5 * V[-2, keep])            # PyBaMM extrapolation
            lams.append(lam[keep])
            k_avg.append(-3.0 * fpc / (F * R * cmax))
        m = [lam.size for lam in lams]
        self._lam_s = np.concatenate(lams)
        self._b_s = np.concatenate(bs)
        self._S = np.zeros((sum(m), 2))
        self._S[:m[0], 0], self._S[m[0]:, 1] = surf_rows
        self._k_avg = np.array(k_avg)

    def _build_electrolyte(self, n, exchange_floor):
        tb, F = self.tables, self.tables.faraday_C_mol
        Ln, Ls, Lp = tb.negative.thickness_m, tb.separator_thickness_m, tb.positive.thickness_m
        L = Ln + Ls + Lp
        parts = [_mesh(0.0, Ln, n), _mesh(Ln, Ln + Ls, n), _mesh(Ln + Ls, L, n)]
        nodes = np.concatenate([p[0] for p in parts])
        edges = np.concatenate([parts[0][1], parts[1][1][1:], parts[2][1][1:]])
        eps = np.repeat([tb.negative.porosity, tb.separator_porosity, tb.positive.porosity], n)
        brug = np.repeat([tb.negative.bruggeman_electrolyte, tb.separator_bruggeman,
                          tb.positive.bruggeman_electrolyte], n)
        tor, dx, dn = eps ** brug, np.diff(edges), np.diff(nodes)
        beta = dx[:-1] / (dx[:-1] + dx[1:])
        g_tor = 1.0 / (beta / tor[:-1] + (1.0 - beta) / tor[1:]) / dn    # PyBaMM harmonic mean
        c0 = tb.c_e_init_mol_m3
        De = tb.electrolyte_diffusivity_m2_s
        self._De_ref = float(De(c0))
        measure = eps * dx
        lam, V, Vinv = _modal(measure, g_tor * self._De_ref)
        self._lam_e, self._Ve_T, self._Vinv_e_T = lam, np.ascontiguousarray(V.T), np.ascontiguousarray(Vinv.T)
        # sources per unit i: reaction a j / F and migration −∂(t₊ i_e/F)/∂x (PyBaMM node→edge means)
        if tb.transference_number.constant is None:
            raise NotBuiltError("a concentration-dependent transference number is not supported by the fast SPMe yet")
        i_e = np.concatenate([nodes[:n] / Ln, np.ones(n), (L - nodes[2 * n:]) / Lp])
        m_nodes = tb.transference_number.constant * i_e / F
        w = dx[:-1] / (dx[:-1] + dx[1:])
        face = (1.0 - w) * m_nodes[:-1] + w * m_nodes[1:]
        div = np.zeros(3 * n)
        div[:-1] += face
        div[1:] -= face
        src = np.concatenate([np.full(n, 1.0 / Ln), np.zeros(n), np.full(n, -1.0 / Lp)]) / F
        self._b_e = ((src * dx - div) / measure) @ self._Vinv_e_T
        # concentration-dependent D_e: explicit remainder M⁻¹ Div[(D(c_f) − D_ref) g_tor ∇c]
        self._nonlinear = De.constant is None
        if self._nonlinear:
            W = np.zeros((3 * n, 2 * (3 * n - 1)))
            k = np.arange(3 * n - 1)
            W[k, k], W[k + 1, k] = 1.0 - beta, beta          # c at faces (distance-weighted)
            W[k, 3 * n - 1 + k], W[k + 1, 3 * n - 1 + k] = -g_tor, g_tor
            self._W_face = W
            self._beta_face = np.ascontiguousarray(beta)     # the same two maps by slicing
            self._g_face = np.ascontiguousarray(g_tor)
            D = np.zeros((3 * n - 1, 3 * n))
            D[k, k], D[k, k + 1] = 1.0, -1.0
            self._div_modal = (D / measure[None, :]) @ self._Vinv_e_T
            self._De = De
        self._n_face = 3 * n - 1
        self._n_e = n
        # PyBaMM 26.10 simplifies x_average(εc/ε) to x_average(εc)·x_average(1/ε): constant in time
        self._c_av = c0 * (np.sum(eps * dx) / L) * (np.sum(dx / eps) / L)
        self._w_mac = np.where(np.arange(3 * n) >= 2 * n, 1.0 / n, 0.0) - np.where(np.arange(3 * n) < n, 1.0 / n, 0.0)
        self._chi_RT_F = float(tb.chi(self._c_av)) * self.RT_F
        kappa = float(tb.electrolyte_conductivity_S_m(self._c_av))
        self._R_e = (Ln / (3 * tor[0]) + Ls / tor[n] + Lp / (3 * tor[-1])) / kappa
        neg, pos = tb.negative, tb.positive
        self._sigma_const = neg.sigma_S_m.constant is not None and pos.sigma_S_m.constant is not None
        if self._sigma_const:
            self._R_s = (Ln / (neg.sigma_S_m.constant * neg.electrode_transport_efficiency)
                         + Lp / (pos.sigma_S_m.constant * pos.electrode_transport_efficiency)) / 3.0
        self._ce_floor = self._macinnes_floor * self._c_av
        # exchange currents: ½/f(c_e) tables (with the optional guard), g(c_s) tables
        self._inv_f = []
        for el in (neg, pos):
            grid = el.j0_ce.x_grid
            if exchange_floor is not None:
                cf = check_range("exchange_floor_mol_m3", exchange_floor, low=0.0, low_inclusive=False)
                h = grid[1] - grid[0]      # extend the uniform grid below 0 with the same step
                grid = np.concatenate([grid[0] - h * np.arange(int(np.ceil(20 * cf / h)), 0, -1), grid])
                vals = el.j0_ce(cf * np.logaddexp(0.0, grid / cf))
            else:
                vals = el.j0_ce(grid)
            self._inv_f.append(Table1D(grid, 0.5 / np.maximum(vals, 1e-9 * vals.max()), None))

    def _build_layout(self):
        """One state row per cell: X = [x̄, ȳ | particle modes | electrolyte modes]."""
        ms, me = self._lam_s.size, self._lam_e.size
        self._n_state = 2 + ms + me
        self._sl_e = slice(2 + ms, 2 + ms + me)
        self._lam = np.concatenate([[0.0, 0.0], self._lam_s, self._lam_e])
        self._b = np.concatenate([self._k_avg, self._b_s, self._b_e])
        self._X_surf = np.zeros((self._n_state, 2))      # X @ this → surface stoichiometries
        self._X_surf[0, 0] = self._X_surf[1, 1] = 1.0
        self._X_surf[2:2 + ms] = self._S
        tb = self.tables
        neg, pos = tb.negative, tb.positive
        # one interpolation for U_n, U_p, 1/g_n, 1/g_p: segments of one table offset by 0, 2, 4, 6
        g = neg.ocp_V.x_grid
        sg = np.linspace(0.0, 1.0, 4001)
        gv_n, gv_p = neg.j0_cs(sg * neg.c_max_mol_m3), pos.j0_cs(sg * pos.c_max_mol_m3)
        floor = 1e-9 * max(gv_n.max(), gv_p.max())            # j0 → 0 at sto 0, 1: keep η finite
        self._tab_x = np.concatenate([g, g + 2.0, sg + 4.0, sg + 6.0])
        self._tab_y = np.concatenate([neg.ocp_V(g), pos.ocp_V(g), 1.0 / np.maximum(gv_n, floor),
                                      1.0 / np.maximum(gv_p, floor)])
        # the same four tables one by one (packs: OCPs by np.interp, 1/g by direct lookup)
        self._ocp_x = np.ascontiguousarray(g)
        self._ocp_n_y, self._ocp_p_y = np.split(self._tab_y[:2 * g.size], 2)
        self._inv_g = (UniformLerp(sg, self._tab_y[2 * g.size:2 * g.size + sg.size]),
                       UniformLerp(sg, self._tab_y[2 * g.size + sg.size:]))
        self._tab_T = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
        self._tab_off = np.array([0.0, 2.0, 4.0, 6.0])
        self._ocv_w = np.array([-1.0, 1.0, 0.0, 0.0])
        self._zero2, self._one2 = np.zeros(2), np.ones(2)
        self._fpc2 = np.array(self._flux_per_current)
        fn, fp = self._inv_f
        self._same_f = fn.x_grid.shape == fp.x_grid.shape and np.array_equal(fn.x_grid, fp.x_grid) and np.allclose(fn.y_grid, fp.y_grid, rtol=1e-12, atol=0)
        self._mean_e = np.full(self._n_e, 2.0 * self.RT_F / self._n_e)   # x-average × 2RT/F
        self._build_fast_path()

    def _build_fast_path(self):
        """Pieces of the per-step fast path: lookups on uniform grids, folded constants, buffers."""
        n, ne = self.n_cells, self._n_e
        fn, fp = self._inv_f
        self._lut_f = (UniformLerp(fn.x_grid, fn.y_grid), UniformLerp(fp.x_grid, fp.y_grid))
        self._idx_el = np.concatenate([np.arange(ne), np.arange(2 * ne, 3 * ne)])   # electrode nodes
        # η_c weights on the electrode nodes only (zero in the separator)
        self._w_mac2 = np.concatenate([np.full(ne, -1.0 / ne), np.full(ne, 1.0 / ne)])
        self._mean_c = np.full(ne, 1.0 / ne)          # the same average per electrode (packs, compiled)
        self._fpc_n, self._fpc_p = (float(v) for v in self._flux_per_current)
        self._R_s_f = float(self._R_s) if self._sigma_const else None
        if self._nonlinear:
            De = self._De
            y0 = np.asarray(De.y_grid, dtype=float) - self._De_ref      # D_e(c) − D_e(c₀) directly
            self._lut_De = UniformLerp(De.x_grid, y0)
            self._De_x, self._De_y0 = np.ascontiguousarray(De.x_grid), y0
            self._W_face_c = np.ascontiguousarray(self._W_face)
        nf, me = self._n_face, self._lam_e.size
        if n > 1:    # work buffers of the vectorised step (reused every step: no allocation)
            self._buf = {
                "X": np.empty((n, self._n_state)), "U": np.empty((n, 2)),
                "f0": np.empty((n, nf)), "f1": np.empty((n, nf)), "f2": np.empty((n, nf)),
                "fk": np.empty((n, nf), dtype=np.intp), "e": np.empty((n, me)),
                "n0": np.empty((n, 2, ne)), "n1": np.empty((n, 2, ne)), "nk": np.empty((n, 2, ne), dtype=np.intp),
                "s0": np.empty(n), "s1": np.empty(n), "sk": np.empty(n, dtype=np.intp),
            }

