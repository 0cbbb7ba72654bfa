"""numba-compiled open-loop step of one cell: the real-time path of :class:`.estimator.Estimator`.

One call of the compiled kernel does what ``Estimator._step1`` does in numpy (the same
arithmetic, the same order of operations up to round-off):

* the SPMe step of :meth:`FastSPMe.advance` for a scalar dt: exact exponential propagation of
  the diagonalised particle and electrolyte modes for a zero- or first-order current hold, the
  explicit concentration-dependent electrolyte diffusivity term (exponential Euler) and its
  sub-stepping for steps longer than ``NONLINEAR_STEP_S``;
* the outputs of :meth:`FastSPMe._state_matrix1` (OCPs, inverse Butler–Volmer at every
  electrode node, electrolyte potential and ohmic terms, voltage);
* the corrector (:class:`.estimator.FusedCorrector`): exponential-filter memory update and the
  ensemble MLP readout (mean and spread over members);
* the open-loop covariance prediction of :meth:`.kalman.SocKalmanFilter.predict_only`.

Nothing is re-derived here: the operators, tables and fused weights are those built by
``FastSPMe`` / ``FusedCorrector``, copied once into one flat float array (``_Pack``) so a call
unboxes a handful of arrays (numba's per-argument dispatch cost is ~0.1 µs). Table lookups
reproduce ``numpy.interp`` exactly (same bracket, same slope formula). The only differences
from the numpy path are summation order and libm vs numpy SIMD ``exp``/``tanh``/``asinh``
(round-off, ~1e-15 V); :func:`build` checks the kernel against the numpy path on copies of the
state and returns ``None`` (numpy path kept) if they ever differ by more than ``CHECK_TOL_V``.

Packs keep their dense products on BLAS and the transcendental functions on numpy's SIMD ufuncs;
their elementwise and table-lookup passes run as the compiled pack kernels at the end of this
module (:class:`PackKernels`, :func:`build_pack`: ~35 % off a 1,000-cell step, numbers of the
numpy pack path to round-off).

numba is optional: without it (``AVAILABLE`` is False) the estimator stays on numpy.
The kernel is compiled once per process (``cache=False``: no cache files and no cache
warnings), on first use at estimator construction, with a warm-up call on copies of the state.
"""
from __future__ import annotations

import math
import os

import numpy as np

try:  # optional accelerator: everything works without it
    if os.environ.get("MULTISCALE_DISABLE_NUMBA", "").strip() not in ("", "0"):
        raise ImportError("disabled by MULTISCALE_DISABLE_NUMBA")
    from numba import njit
    AVAILABLE = True
except ImportError:    # pragma: no cover - exercised only without numba
    njit = None
    AVAILABLE = False

#: Largest |V_kernel − V_numpy| [V] accepted by the construction-time check.
CHECK_TOL_V = 1e-9

# ---------------------------------------------------------------- layout of the float pack
(_LAM, _BV, _XS0, _XS1, _BETA, _GF, _DIV, _VET, _DEX, _DEY, _OCPX, _OCPN, _OCPP, _GX, _GNY, _GPY,
 _FNX, _FNY, _FPX, _FPY, _WMAC, _TAU, _W0, _B0, _DEEP, _SC, _NSEG) = range(27)
# scalars (segment _SC)
(_S_AREA, _S_FPCN, _S_FPCP, _S_RE, _S_RS, _S_RSCALE, _S_CHI, _S_CEFLOOR, _S_MEANE, _S_QNOM, _S_CURDIV,
 _S_CAPAH, _S_SIGQ, _S_QB, _S_NLSTEP, _S_DEINV, _S_FNINV, _S_FPINV, _S_GINV, _S_OCPINV, _NSC) = range(21)
# integers (array ``d``)
(_D_NS, _D_MS, _D_ME, _D_NE, _D_NF, _D_NMEM, _D_NT, _D_K, _D_NDEEP, _D_LINEAR, _D_NONLIN, _D_MAXH,
 _D_HID) = range(13)     # _D_HID: the layer widths [H0, H1, ..., out] follow
# work array (``w``): fixed slots, then regions (offsets from the dimensions)
_W_IPREV, _W_V, _W_DTP, _W_DTM, _W_FIXED = 0, 1, 2, 3, 4


class _Pack:
    """Arrays flattened into one float64 vector, addressed by segment number."""

    def __init__(self, n_seg: int):
        self.parts = [np.zeros(0)] * n_seg

    def __setitem__(self, k, a):
        self.parts[k] = np.ascontiguousarray(a, dtype=np.float64).ravel()

    def arrays(self):
        offs = np.zeros(len(self.parts) + 1, dtype=np.int64)
        offs[1:] = np.cumsum([p.size for p in self.parts])
        return np.ascontiguousarray(np.concatenate(self.parts)), offs


def _grid_inv_h(x):
    """(n − 1)/(x_max − x_min): the index guess of a (nearly) uniform grid; 0 → bisection."""
    x = np.asarray(x, dtype=float)
    d = np.diff(x)
    if x.size > 2 and np.all(np.abs(d - d[0]) <= 1e-6 * abs(d[0])) and d[0] > 0:
        return (x.size - 1) / (x[-1] - x[0])
    return 0.0


# ---------------------------------------------------------------- compiled kernel
if AVAILABLE:
    _jit = njit(cache=False, nogil=True, error_model="numpy")

    @_jit
    def _bisect_lerp(x, xp, fp, lo, hi):
        """numpy.interp's value at x given a bracket xp[lo] ≤ x < xp[hi] (narrowed by bisection)."""
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if xp[mid] <= x:
                lo = mid
            else:
                hi = mid
        if xp[lo] == x:
            return fp[lo]
        # numpy's NaN recovery for infinite table values is left out (the tables are finite,
        # see spme_parameters._table; the extra branch costs 8× in a loop of lookups)
        return (fp[lo + 1] - fp[lo]) / (xp[lo + 1] - xp[lo]) * (x - xp[lo]) + fp[lo]

    @_jit
    def _interp(x, xp, fp, inv_h):
        """``numpy.interp(x, xp, fp)`` for a scalar (same bracket and slope formula).

        ``inv_h`` > 0: (nearly) uniform grid, the bracket from an index guess and a short walk;
        otherwise bisection."""
        n = xp.size
        if x != x:
            return x
        if x >= xp[n - 1]:
            return fp[n - 1]
        if x < xp[0]:
            return fp[0]
        if inv_h > 0.0:
            j = int((x - xp[0]) * inv_h)
            if j > n - 2:
                j = n - 2
            while j > 0 and xp[j] > x:
                j -= 1
            while xp[j + 1] <= x:
                j += 1
            return _bisect_lerp(x, xp, fp, j, j + 1)
        return _bisect_lerp(x, xp, fp, 0, n - 1)

    @_jit
    def _tanh(x):
        # 1 − 2/(e^{2x} + 1): absolute error ~2e-16, about twice as fast as libm tanh
        return 1.0 - 2.0 / (math.exp(2.0 * x) + 1.0)

    @_jit
    def _propagators(lam, b, dt, out):
        """Rows of ``out`` (5, ns): e^{λdt}, φ₁dt·b, (φ₁−φ₂)dt·b, φ₂dt·b, φ₁dt (``spme_discretisation._phi``)."""
        for k in range(lam.size):
            x = lam[k] * dt
            if abs(x) < 1e-6:
                p1 = 1.0 + x / 2.0
                p2 = 0.5 + x / 6.0
            else:
                em = math.expm1(x)
                p1 = em / x
                p2 = (em - x) / (x * x)
            p1 *= dt
            p2 *= dt
            out[0, k] = math.exp(x)
            out[1, k] = p1 * b[k]
            out[2, k] = (p1 - p2) * b[k]
            out[3, k] = p2 * b[k]
            out[4, k] = p1

    @_jit
    def _substep(X, c, i0, i, same, prop, f, o, d, w, wo):
        """``FastSPMe._substep1``: X ← e X + (lin. current terms) (+ φ₁dt N(c)); c from the modes."""
        ns, ms, me, ne, nf = d[_D_NS], d[_D_MS], d[_D_ME], d[_D_NE], d[_D_NF]
        for k in range(ns):
            X[k] *= prop[0, k]
        if same:
            for k in range(ns):
                X[k] += prop[1, k] * i
        else:
            for k in range(ns):
                X[k] += i0 * prop[2, k] + i * prop[3, k]
        e0 = 2 + ms
        if d[_D_NONLIN] != 0:
            beta = f[o[_BETA]:o[_BETA + 1]]
            gf = f[o[_GF]:o[_GF + 1]]
            dex = f[o[_DEX]:o[_DEX + 1]]
            dey = f[o[_DEY]:o[_DEY + 1]]
            div = f[o[_DIV]:o[_DIV + 1]]
            inv = f[o[_SC] + _S_DEINV]
            acc = w[wo:wo + me]
            acc[:] = 0.0
            for k in range(nf):
                cf = (1.0 - beta[k]) * c[k] + beta[k] * c[k + 1]
                dk = _interp(cf, dex, dey, inv) * (gf[k] * (c[k + 1] - c[k]))
                row = div[k * me:(k + 1) * me]
                for j in range(me):
                    acc[j] += dk * row[j]
            for j in range(me):
                X[e0 + j] += acc[j] * prop[4, e0 + j]
        vet = f[o[_VET]:o[_VET + 1]]
        n3 = 3 * ne
        c[:] = 0.0
        for j in range(me):
            z = X[e0 + j]
            row = vet[j * n3:(j + 1) * n3]
            for m in range(n3):
                c[m] += z * row[m]

    @_jit
    def step1(X2, c2, mem2, P, offset, w, f, o, d, I_meas, dt, prev_mode, prev_i):
        """One open-loop step of one cell; returns (V, V_SPMe, ΔV, spread).

        ``X2``, ``c2``, ``mem2`` (1, ·) the SPMe modes, electrolyte concentrations and
        corrector memory, ``P`` (1, D, D) the filter covariance, ``offset`` (1,) the current
        offset: all updated in place. ``prev_mode``: 0 no previous sample, 1 ``prev_i``, 2 the
        one in ``w``. ``w`` is the work array (see ``OneCellKernel``)."""
        X = X2[0]
        c = c2[0]
        sc = f[o[_SC]:o[_SC + 1]]
        ns, ms, me, ne = d[_D_NS], d[_D_MS], d[_D_ME], d[_D_NE]
        nmem, nt, K = d[_D_NMEM], d[_D_NT], d[_D_K]
        # work regions
        wpa = _W_FIXED                  # propagators of the last full step (5, ns), cached on dt
        wpb = wpa + 5 * ns              # propagators of a sub-step (5, ns)
        wam = wpb + 5 * ns              # memory factors a = e^{−dt/τ} (nt), cached on dt
        wx = wam + nt                   # corrector input (10 + nmem)
        wacc = wx + 10 + nmem           # electrolyte accumulator (me)
        wh = wacc + me                  # hidden layers, two buffers (K·maxH each)
        maxh = d[_D_MAXH]
        wout = wh + 2 * K * maxh        # member outputs (K)
        lam = f[o[_LAM]:o[_LAM + 1]]
        bv = f[o[_BV]:o[_BV + 1]]

        # ---- SPMe step (FastSPMe.advance, scalar dt)
        I_true = I_meas - offset[0]
        i = I_true / sc[_S_AREA]
        if prev_mode == 0 or d[_D_LINEAR] == 0:
            i0 = i
            same = True
        else:
            i0 = w[_W_IPREV] if prev_mode == 2 else prev_i
            same = False
        if d[_D_NONLIN] == 0 or dt <= sc[_S_NLSTEP]:
            prop = w[wpa:wpb].reshape((5, ns))
            if w[_W_DTP] != dt:
                _propagators(lam, bv, dt, prop)
                w[_W_DTP] = dt
            _substep(X, c, i0, i, same, prop, f, o, d, w, wacc)
        else:
            prop = w[wpb:wam].reshape((5, ns))
            n_sub = int(math.ceil(math.log2(dt / (0.5 * sc[_S_NLSTEP]) + 1.0)))
            den = 2.0 ** n_sub - 1.0
            for s in range(n_sub):
                ea = (2.0 ** s - 1.0) / den
                eb = (2.0 ** (s + 1) - 1.0) / den
                _propagators(lam, bv, (eb - ea) * dt, prop)
                _substep(X, c, i0 + ea * (i - i0), i0 + eb * (i - i0), False, prop, f, o, d, w, wacc)
        w[_W_IPREV] = i

        # ---- outputs (FastSPMe._state_matrix1)
        xs0 = f[o[_XS0]:o[_XS0 + 1]]
        xs1 = f[o[_XS1]:o[_XS1 + 1]]
        sn = 0.0
        sp = 0.0
        for k in range(2 + ms):          # the electrolyte rows of X_surf are zero
            sn += X[k] * xs0[k]
            sp += X[k] * xs1[k]
        cn = 0.0 if sn < 0.0 else (1.0 if sn > 1.0 else sn)
        cp = 0.0 if sp < 0.0 else (1.0 if sp > 1.0 else sp)
        ocx = f[o[_OCPX]:o[_OCPX + 1]]
        oinv = sc[_S_OCPINV]
        un = _interp(cn, ocx, f[o[_OCPN]:o[_OCPN + 1]], oinv)
        up = _interp(cp, ocx, f[o[_OCPP]:o[_OCPP + 1]], oinv)
        gx = f[o[_GX]:o[_GX + 1]]
        ign = _interp(cn, gx, f[o[_GNY]:o[_GNY + 1]], sc[_S_GINV])
        igp = _interp(cp, gx, f[o[_GPY]:o[_GPY + 1]], sc[_S_GINV])
        ocv = up - un
        rn = (i * sc[_S_FPCN]) * ign
        rp = (i * sc[_S_FPCP]) * igp
        fnx = f[o[_FNX]:o[_FNX + 1]]
        fny = f[o[_FNY]:o[_FNY + 1]]
        fpx = f[o[_FPX]:o[_FPX + 1]]
        fpy = f[o[_FPY]:o[_FPY + 1]]
        an = 0.0
        ap = 0.0
        for k in range(ne):
            an += math.asinh(_interp(c[k], fnx, fny, sc[_S_FNINV]) * rn)
            ap += math.asinh(_interp(c[2 * ne + k], fpx, fpy, sc[_S_FPINV]) * rp)
        eta_n = an * sc[_S_MEANE]
        eta_p = ap * sc[_S_MEANE]
        wmac = f[o[_WMAC]:o[_WMAC + 1]]
        floor = sc[_S_CEFLOOR]
        lsum = 0.0
        for k in range(3 * ne):
            if wmac[k] != 0.0:
                ck = c[k]
                if ck < floor:
                    ck = floor
                lsum += math.log(ck) * wmac[k]
        eta_c = sc[_S_CHI] * lsum
        d_phi_e = -sc[_S_RE] * i
        d_phi_s = -sc[_S_RS] * i
        vs = ocv + (eta_p - eta_n) + eta_c + sc[_S_RSCALE] * (d_phi_e + d_phi_s)
        w[_W_V] = vs

        # ---- open-loop covariance prediction (SocKalmanFilter.predict_only, one cell)
        u0 = dt / (3600.0 * sc[_S_CAPAH])
        p01 = P[0, 0, 1]
        p11 = P[0, 1, 1]
        t = sc[_S_SIGQ] * abs(I_meas) * u0
        P[0, 0, 0] += 2.0 * u0 * p01 + u0 * u0 * p11 + t * t
        P[0, 0, 1] = p01 + u0 * p11
        P[0, 1, 0] = p01 + u0 * p11
        P[0, 1, 1] = p11 + sc[_S_QB] * dt

        if K == 0:
            return vs, vs, 0.0, 0.0

        # ---- corrector (FusedCorrector.step1): memory filters, then the ensemble readout
        mem = mem2[0]
        cur = I_true / sc[_S_CURDIV]
        c_rate = cur / sc[_S_QNOM]
        am = w[wam:wam + nt]
        if w[_W_DTM] != dt:
            tau = f[o[_TAU]:o[_TAU + 1]]
            for j in range(nt):
                am[j] = math.exp(-dt / tau[j])
            w[_W_DTM] = dt
        ac = abs(c_rate)
        for j in range(nt):
            mem[j] = am[j] * mem[j] + c_rate * (1.0 - am[j])
            mem[nt + j] = am[j] * mem[nt + j] + ac * (1.0 - am[j])
        x = w[wx:wx + 10 + nmem]
        x[0] = cur
        x[1] = vs
        x[2] = sn
        x[3] = sp
        x[4] = X[0]
        x[5] = X[1]
        x[6] = eta_n
        x[7] = eta_p
        x[8] = eta_c
        x[9] = d_phi_e
        for j in range(nmem):
            x[10 + j] = mem[j]
        # first layer: members side by side
        w0 = f[o[_W0]:o[_W0 + 1]]
        h0 = d[_D_HID]
        kh = K * h0
        ha = w[wh:wh + K * maxh]
        hb = w[wh + K * maxh:wh + 2 * K * maxh]
        b0 = f[o[_B0]:o[_B0 + 1]]
        for j in range(kh):
            ha[j] = b0[j]
        for r in range(10 + nmem):
            xr = x[r]
            row = w0[r * kh:(r + 1) * kh]
            for j in range(kh):
                ha[j] += xr * row[j]
        for j in range(kh):
            ha[j] = _tanh(ha[j])
        # deeper layers: one product per member; tanh except the last (output scale folded in)
        deep = f[o[_DEEP]:o[_DEEP + 1]]
        pos = 0
        nd = d[_D_NDEEP]
        for layer in range(nd):
            hin = d[_D_HID + layer]
            hout = d[_D_HID + layer + 1]
            for m in range(K):
                src = ha[m * hin:(m + 1) * hin]
                dst = hb[m * hout:(m + 1) * hout]
                wm = deep[pos + m * hin * hout:pos + (m + 1) * hin * hout]
                bm = deep[pos + K * hin * hout + m * hout:pos + K * hin * hout + (m + 1) * hout]
                for j in range(hout):
                    dst[j] = bm[j]
                for r in range(hin):
                    xr = src[r]
                    row = wm[r * hout:(r + 1) * hout]
                    for j in range(hout):
                        dst[j] += xr * row[j]
                if layer < nd - 1:
                    for j in range(hout):
                        dst[j] = _tanh(dst[j])
            pos += K * hin * hout + K * hout
            ha, hb = hb, ha
        out = w[wout:wout + K]
        hl = d[_D_HID + nd]
        for m in range(K):
            out[m] = ha[m * hl]          # output 0 of each member
        mean = 0.0
        for m in range(K):
            mean += out[m]
        mean /= K
        spread = 0.0
        if K > 1:
            s2 = 0.0
            for m in range(K):
                s2 += (out[m] - mean) * (out[m] - mean)
            spread = math.sqrt(s2 / (K - 1))
        return vs + mean, vs, mean, spread


class OneCellKernel:
    """The compiled one-cell step bound to an estimator (its SPMe, corrector and filter).

    ``step(I_meas, dt) -> (V, V_SPMe, ΔV, spread)`` with Python floats; updates the estimator's
    SPMe state, memory and covariance in place and leaves ``spme._i_prev`` / ``spme._last_V``
    pointing at one-element views of the work array (what ``FastSPMe.advance`` and
    ``_state_matrix1`` would have set).
    """

    def __init__(self, est):
        spme, corr, filt = est.spme, est.corrector, est.filter
        pk = _Pack(_NSEG)
        ns, ms, me, ne = spme._n_state, spme._lam_s.size, spme._lam_e.size, spme._n_e
        nf = spme._n_face
        pk[_LAM], pk[_BV] = spme._lam, spme._b
        pk[_XS0], pk[_XS1] = spme._X_surf[:, 0], spme._X_surf[:, 1]
        if np.any(spme._X_surf[2 + ms:] != 0.0):
            raise ValueError("X_surf has electrolyte rows")
        sc = np.zeros(_NSC)
        if spme._nonlinear:
            pk[_BETA], pk[_GF], pk[_DIV] = spme._beta_face, spme._g_face, spme._div_modal
            pk[_DEX], pk[_DEY] = spme._De_x, spme._De_y0
            sc[_S_DEINV] = _grid_inv_h(spme._De_x)
        pk[_VET] = spme._Ve_T
        g = spme._ocp_x
        pk[_OCPX], pk[_OCPN], pk[_OCPP] = g, spme._ocp_n_y, spme._ocp_p_y
        gn, gp = spme._inv_g
        if not np.array_equal(gn.x_grid, gp.x_grid):
            raise ValueError("1/g tables on different grids")
        pk[_GX], pk[_GNY], pk[_GPY] = gn.x_grid, gn.y_grid, gp.y_grid
        fn, fp = spme._lut_f
        if spme._same_f:       # FastSPMe then uses the negative table for both electrodes
            fp = fn
        pk[_FNX], pk[_FNY], pk[_FPX], pk[_FPY] = fn.x_grid, fn.y_grid, fp.x_grid, fp.y_grid
        pk[_WMAC] = spme._w_mac
        sc[_S_AREA] = float(spme.area_m2[0])
        sc[_S_FPCN], sc[_S_FPCP] = spme._fpc_n, spme._fpc_p
        sc[_S_RE], sc[_S_RS] = spme._R_e, spme._R_s_f
        sc[_S_RSCALE] = float(spme.resistance_scale[0])
        sc[_S_CHI], sc[_S_CEFLOOR] = spme._chi_RT_F, spme._ce_floor
        if not np.all(spme._mean_e == spme._mean_e[0]):
            raise ValueError("non-uniform x-average weights")
        sc[_S_MEANE] = spme._mean_e[0]
        sc[_S_CAPAH] = float(spme.capacity_Ah[0])
        sc[_S_SIGQ], sc[_S_QB] = filt.sigma_q, filt.q_b
        from .spme_fast import NONLINEAR_STEP_S

        sc[_S_NLSTEP] = NONLINEAR_STEP_S
        sc[_S_FNINV], sc[_S_FPINV] = _grid_inv_h(fn.x_grid), _grid_inv_h(fp.x_grid)
        sc[_S_GINV], sc[_S_OCPINV] = _grid_inv_h(gn.x_grid), _grid_inv_h(g)
        sc[_S_CURDIV] = est._cap_scale0 if est._scaled else 1.0
        nmem = est.memory.shape[1]
        if corr is not None:
            K, h0 = corr.k, corr.hidden0
            nt = corr.tau.size
            if corr.W0all.shape != (10 + nmem, K * h0) or nmem != 2 * nt:
                raise ValueError("unexpected corrector layout")
            pk[_TAU], pk[_W0], pk[_B0] = corr.tau, corr.W0all, corr.b0
            widths, deep = [h0], []
            for W, b in corr.deep_members64:        # (K, h, o), (K, 1, o); output scale folded in
                if W.shape[0] != K or W.shape[1] != widths[-1]:
                    raise ValueError("unexpected corrector layout")
                widths.append(W.shape[2])
                deep += [np.ravel(W), np.ravel(b)]
            pk[_DEEP] = np.concatenate(deep) if deep else np.zeros(0)
            sc[_S_QNOM] = corr.q
            nd = len(corr.deep_members64)
        else:
            K, nt, widths, nd = 0, 0, [0], 0
            sc[_S_QNOM] = 1.0
        pk[_SC] = sc
        self.f, self.o = pk.arrays()
        dims = np.zeros(_D_HID + len(widths), dtype=np.int64)
        dims[[_D_NS, _D_MS, _D_ME, _D_NE, _D_NF, _D_NMEM, _D_NT, _D_K, _D_NDEEP]] = (ns, ms, me, ne, nf, nmem, nt, K, nd)
        dims[_D_LINEAR] = spme.current_hold == "linear"
        dims[_D_NONLIN] = bool(spme._nonlinear)
        dims[_D_MAXH] = max(widths)
        dims[_D_HID:] = widths
        self.d = dims
        n_work = _W_FIXED + 10 * ns + nt + 10 + nmem + me + 2 * K * max(widths) + K
        self.w = np.zeros(n_work)
        self.w[_W_DTP] = self.w[_W_DTM] = np.nan
        self.ip_view, self.v_view = self.w[_W_IPREV:_W_IPREV + 1], self.w[_W_V:_W_V + 1]
        self.est = est

    def step(self, I_meas: float, dt: float):
        est = self.est
        spme = est.spme
        ip = spme._i_prev
        if ip is None:
            mode, prev = 0, 0.0
        elif ip is self.ip_view:
            mode, prev = 2, 0.0
        else:
            mode, prev = 1, float(ip[0])
        filt = est.filter
        out = step1(spme._X, spme._c, est.memory, filt.P, filt.offset_A, self.w, self.f, self.o, self.d,
                    I_meas, dt, mode, prev)
        spme._i_prev = self.ip_view
        spme._last_V = self.v_view
        return out

    def dry_run(self, I_meas: float, dt: float):
        """The kernel's step on copies of the current state (nothing changes): (V, V_SPMe, ΔV, spread, X, c, mem, P)."""
        est = self.est
        spme = est.spme
        X, c, mem, P = spme._X.copy(), spme._c.copy(), est.memory.copy(), est.filter.P.copy()
        w = self.w.copy()
        ip = spme._i_prev
        mode, prev = (0, 0.0) if ip is None else (1, float(ip[0]))
        out = step1(X, c, mem, P, est.filter.offset_A.copy(), w, self.f, self.o, self.d, float(I_meas), float(dt),
                    mode, prev)
        return out + (X, c, mem, P)


def build(est):
    """A :class:`OneCellKernel` for ``est`` (one cell, fast numpy path eligible), or ``None``.

    ``None`` when numba is not available, the model uses something the kernel does not cover,
    or the kernel's first steps (on copies of the state: compiles it) differ from the numpy
    path by more than ``CHECK_TOL_V``.
    """
    if not AVAILABLE or est.n_cells != 1 or not est.spme._sigma_const:
        return None
    from numba.core.errors import NumbaError

    try:
        k = OneCellKernel(est)
        return k if _agrees(est, k) else None
    except (ValueError, NumbaError):     # a layout the kernel does not cover / cannot compile
        return None


def _agrees(est, k) -> bool:
    """Kernel vs numpy path over a few steps (short, long/split, zero and linear hold) on copies."""
    spme = est.spme
    saved = (spme.get_state(), spme._last_V, est.memory.copy(), est.filter.P.copy(), est.filter.offset_A.copy(),
             est._last)
    try:
        ok = True
        for I, dt in ((1.3, 1.0), (-2.1, 0.37), (0.4, 12.5), (0.0, 1.0)):
            got = k.dry_run(I, dt)
            v_ref = est._step1(np.array([I]), dt)
            ok = ok and abs(got[0] - v_ref) <= CHECK_TOL_V and bool(np.allclose(got[4], spme._X, rtol=1e-9, atol=1e-12))
            ok = ok and bool(np.allclose(got[7], est.filter.P, rtol=1e-9, atol=1e-15))
            if est.memory.size:
                ok = ok and bool(np.allclose(got[6], est.memory, rtol=1e-9, atol=1e-12))
        return ok and math.isfinite(got[0])
    finally:
        st, last_v, mem, P, off, last = saved
        spme.set_state(st)
        spme._last_V = last_v
        est.memory, est.filter.P, est.filter.offset_A, est._last = mem, P, off, last


# ================================================================ packs (many cells, scalar dt)
# The elementwise and table-lookup parts of the batched numpy pack step, compiled; the dense
# products stay on BLAS (``FastSPMe._substep_pack`` / ``_state_matrix_pack``,
# ``FusedCorrector.step``) and the transcendental functions on numpy's SIMD ufuncs (arcsinh, log,
# tanh: numba has no vectorised libm here). Each kernel reproduces the numpy operations it
# replaces, operation by operation (``UniformLerp``'s lerp and clamping, ``numpy.interp``'s
# bracket and slope), so the pack path gives the numpy path's numbers to round-off.
# Table lookups are written out inside the loops: a jitted helper taking arrays costs reference
# counting per call (more than the lookup itself), so helpers here run over whole arrays.
if AVAILABLE:

    @_jit
    def _interp_many(xs, xp, fp, x0, inv_hb, bucket, out, subtract):
        """out ← ``numpy.interp(xs, xp, fp)`` (``subtract``: out −= it) on any increasing grid: the
        bracket from a bucket table (``bucket[b]`` = last grid index ≤ x₀ + b h), then bisection."""
        n = xp.size
        nb2 = bucket.size - 2
        for k in range(xs.size):
            x = xs[k]
            if x != x:
                v = x
            elif x >= xp[n - 1]:
                v = fp[n - 1]
            elif x < xp[0]:
                v = fp[0]
            else:
                b = min(max(int((x - x0) * inv_hb), 0), nb2)
                lo = bucket[b]
                hi = min(bucket[b + 1] + 1, n - 1)
                while lo > 0 and xp[lo] > x:          # guards against round-off in the bucket index
                    lo -= 1
                while hi < n - 1 and xp[hi] <= x:
                    hi += 1
                v = _bisect_lerp(x, xp, fp, lo, hi)
            if subtract:
                out[k] -= v
            else:
                out[k] = v

    @_jit
    def pack_faces(c, beta, gf, tde, de_ys, d_out):
        """``d_out`` = (D_e(c_f) − D_e(c₀)) h ∇c at the faces of ``c`` (n, 3·ne) (``_substep_pack``);
        ``tde`` = (x₀, 1/h, n − 1) of the uniform D_e table, ``de_ys`` its (value, slope) rows
        (``UniformLerp``: NaN → the lower end, as ``np.fmax``)."""
        x0, inv_h, top = tde[0], tde[1], tde[2]
        nf = beta.size
        for k in range(c.shape[0]):
            ck = c[k]
            dk = d_out[k]
            for m in range(nf):
                dc = ck[m + 1] - ck[m]
                t = (dc * beta[m] + ck[m] - x0) * inv_h       # face value c_k + β (c_{k+1} − c_k)
                if not t > 0.0:
                    t = 0.0
                if t > top:
                    t = top
                j = np.uint32(t)                            # t ≥ 0: no negative-index wraparound
                t -= j
                dk[m] = (de_ys[j, 1] * t + de_ys[j, 0]) * (dc * gf[m])

    @_jit
    def pack_advance(X, e, qa, qb, i0, i, same, M, e0, nonlin):
        """``_substep_pack`` without the products, in place: X ← e X + (current terms) and, when
        ``nonlin``, + ``M`` (the φ₁dt D_e(c) term, (n, me)) on the electrolyte modes from column
        ``e0``. ``same``: current terms qa i (zero-order hold) else qa i₀ + qb i."""
        n, ns = X.shape
        for k in range(n):
            row = X[k]
            b = i[k]
            if same:
                for j in range(ns):
                    row[j] = row[j] * e[j] + b * qa[j]
            else:
                a = i0[k]
                for j in range(ns):
                    row[j] = row[j] * e[j] + (a * qa[j] + b * qb[j])
            if nonlin:
                mk = M[k]
                for j in range(mk.size):
                    row[e0 + j] += mk[j]

    @_jit
    def pack_outputs(X, xs0, xs1, ns_surf, I, area, c, ne, ocx, ocn, ocp, ocb, toc, tg, gny, gns, gpy, gps,
                     tf, fnys, fpys, fpcn, fpcp, floor, Y, A, L, ocv, i_out, s2):
        """``_state_matrix_pack`` up to the transcendental functions: Y columns 0, 2–5; ``A``
        (2, n, ne) = f(c_e)·(j/g) at the [negative, positive] electrode nodes (arcsinh pending),
        ``L`` (2, n, ne) = max(c_e, floor) there (log pending), ``ocv``, ``i_out`` = I/area;
        ``s2`` (2, n) work (clamped surface stoichiometries).

        ``toc`` = (x₀, 1/h_bucket) of the OCP bucket table ``ocb``; ``tg``, ``tf`` = (x₀, 1/h,
        n − 1) of the uniform 1/g and f tables (f: negative then positive; ``fnys``, ``fpys``
        their (value, slope) rows)."""
        n = X.shape[0]
        for k in range(n):
            row = X[k]
            sn = 0.0
            sp = 0.0
            for j in range(ns_surf):         # the electrolyte rows of X_surf are zero
                sn += row[j] * xs0[j]
                sp += row[j] * xs1[j]
            Y[k, 0] = I[k]
            Y[k, 2] = sn
            Y[k, 3] = sp
            Y[k, 4] = row[0]
            Y[k, 5] = row[1]
            # np.minimum(np.maximum(s, 0), 1): NaN stays NaN
            s2[0, k] = sn if sn != sn else (0.0 if sn < 0.0 else (1.0 if sn > 1.0 else sn))
            s2[1, k] = sp if sp != sp else (0.0 if sp < 0.0 else (1.0 if sp > 1.0 else sp))
            i_out[k] = I[k] / area[k]
        _interp_many(s2[1], ocx, ocp, toc[0], toc[1], ocb, ocv, False)
        _interp_many(s2[0], ocx, ocn, toc[0], toc[1], ocb, ocv, True)
        gx0, gih, gtop = tg[0], tg[1], tg[2]
        for e in range(2):
            if e == 0:
                gy, gs, fpc, fys, c0 = gny, gns, fpcn, fnys, 0
            else:
                gy, gs, fpc, fys, c0 = gpy, gps, fpcp, fpys, 2 * ne
            fx0, fih, ftop = tf[3 * e], tf[3 * e + 1], tf[3 * e + 2]
            se = s2[e]
            Ae = A[e]
            Le = L[e]
            for k in range(n):
                t = (se[k] - gx0) * gih
                if not t > 0.0:
                    t = 0.0
                if t > gtop:
                    t = gtop
                j = np.uint32(t)
                t -= j
                r = (gs[j] * t + gy[j]) * (i_out[k] * fpc)      # j / g = 2 · j / (2 g)
                ck = c[k]
                ak = Ae[k]
                lk = Le[k]
                for m in range(ne):
                    v = ck[c0 + m]
                    t = (v - fx0) * fih
                    if not t > 0.0:
                        t = 0.0
                    if t > ftop:
                        t = ftop
                    j = np.uint32(t)
                    t -= j
                    ak[m] = (fys[j, 1] * t + fys[j, 0]) * r
                    lk[m] = floor if v < floor else v

    @_jit
    def pack_corrector_inputs(Y, q, a, memory, new, x):
        """``FusedCorrector.step`` up to the products, per cell: the memory update
        m ← a m + (1 − a) [c, |c|] (c = Y[:, 0]/q) into ``new`` and the first layer's float32
        input row ``x`` = [Y, new memory, 1]."""
        n, nv = Y.shape
        nt = a.size
        for k in range(n):
            cr = Y[k, 0] / q
            ac = abs(cr)
            xr = x[k]
            for j in range(nv):
                xr[j] = Y[k, j]
            mk = memory[k]
            nk = new[k]
            for j in range(nt):
                v = mk[j] * a[j] + cr * (1.0 - a[j])
                nk[j] = v
                xr[nv + j] = v
                v = mk[nt + j] * a[j] + ac * (1.0 - a[j])
                nk[nt + j] = v
                xr[nv + nt + j] = v
            xr[nv + 2 * nt] = 1.0


    @_jit
    def pack_ensemble_stats(out, mean, spread):
        """Ensemble mean and standard deviation (ddof 1) over the members of ``out`` (K, n)."""
        K, n = out.shape
        inv_k = 1.0 / K
        inv_k1 = 1.0 / max(K - 1, 1)
        for c in range(n):
            m = 0.0
            for j in range(K):
                m += np.float64(out[j, c]) * inv_k
            s = 0.0
            for j in range(K):
                d = np.float64(out[j, c]) - m
                s += d * d * inv_k1
            mean[c] = m
            spread[c] = math.sqrt(s) if K > 1 else 0.0 * m

    @_jit
    def pack_predict(P, u0, abs_i, sigma_q, qb_dt):
        """``SocKalmanFilter.predict_only`` for many cells, scalar dt: the [SOC, offset] block of
        ``P`` (n, D, D) in place; ``u0`` = dt / (3600 Q) per cell."""
        for c in range(P.shape[0]):
            u = u0[c]
            p01 = P[c, 0, 1]
            p11 = P[c, 1, 1]
            t = sigma_q * abs_i[c] * u
            P[c, 0, 0] += 2.0 * u * p01 + u * u * p11 + t * t
            P[c, 0, 1] = p01 + u * p11
            P[c, 1, 0] = P[c, 0, 1]
            P[c, 1, 1] = p11 + qb_dt


def _uniform_params(lut):
    """(x₀, 1/h, n − 1) of a uniform ``UniformLerp``."""
    return lut._x0, lut._inv_h, lut._top


def _bucket_table(xp, n_bucket=None):
    """(x₀, 1/h, bucket) with ``bucket[b]`` the last index of ``xp`` ≤ x₀ + b h (b = 0 … n_b)."""
    xp = np.asarray(xp, dtype=float)
    nb = int(n_bucket or 2 * xp.size)
    edges = np.linspace(xp[0], xp[-1], nb + 1)
    bucket = np.clip(np.searchsorted(xp, edges, side="right") - 1, 0, xp.size - 1).astype(np.int64)
    return np.array([xp[0], nb / (xp[-1] - xp[0])]), bucket


class PackKernels:
    """The compiled elementwise parts of a pack's step, bound to a :class:`FastSPMe` (n > 1).

    Built by :func:`build_pack`; ``None`` there keeps the numpy pack path."""

    def __init__(self, spme):
        ms = spme._lam_s.size
        if np.any(spme._X_surf[2 + ms:] != 0.0):
            raise ValueError("X_surf has electrolyte rows")
        gn, gp = spme._inv_g
        fn, fp = spme._lut_f
        if spme._same_f:
            fp = fn
        luts = [gn, gp, fn, fp] + ([spme._lut_De] if spme._nonlinear else [])
        if not all(lut.uniform for lut in luts):
            raise ValueError("a lookup table on a non-uniform grid")
        if not np.array_equal(gn.x_grid, gp.x_grid):
            raise ValueError("1/g tables on different grids")
        self.xs0 = np.ascontiguousarray(spme._X_surf[:, 0])
        self.xs1 = np.ascontiguousarray(spme._X_surf[:, 1])
        self.ns_surf = 2 + ms
        self.ocx = np.ascontiguousarray(spme._ocp_x)
        self.ocn = np.ascontiguousarray(spme._ocp_n_y)
        self.ocp = np.ascontiguousarray(spme._ocp_p_y)
        self.toc, self.ocb = _bucket_table(self.ocx)
        self.tg = np.array(_uniform_params(gn))
        self.gny, self.gns, self.gpy, self.gps = gn.y_grid, gn._slope, gp.y_grid, gp._slope
        self.tf = np.array(_uniform_params(fn) + _uniform_params(fp))
        self.fnys = np.ascontiguousarray(np.column_stack([fn.y_grid, fn._slope]))
        self.fpys = np.ascontiguousarray(np.column_stack([fp.y_grid, fp._slope]))
        if spme._nonlinear:
            de = spme._lut_De
            self.tde = np.array(_uniform_params(de))
            self.de_ys = np.ascontiguousarray(np.column_stack([de.y_grid, de._slope]))
            self.beta, self.gf = spme._beta_face, spme._g_face
        else:
            self.tde = np.zeros(3)
            self.de_ys = np.zeros((1, 2))
            self.beta = self.gf = np.zeros(1)
        self.nonlin = bool(spme._nonlinear)
        n, ne = spme.n_cells, spme._n_e
        self.A = np.empty((2, n, ne))
        self.L = np.empty((2, n, ne))
        self.s2 = np.empty((2, n))
        self.ocv = np.empty(n)

    def faces(self, c, d_out):
        pack_faces(c, self.beta, self.gf, self.tde, self.de_ys, d_out)

    def advance(self, X, e, qa, qb, i0, i, same, M, e0):
        pack_advance(X, e, qa, qb, i0, i, same, M, e0, self.nonlin)

    def outputs(self, spme, X, I, c, Y, i_out):
        """Fills Y's columns 0, 2–5, ``self.A``, ``self.L``, ``self.ocv`` and ``i_out``."""
        pack_outputs(X, self.xs0, self.xs1, self.ns_surf, I, spme.area_m2, c, spme._n_e, self.ocx, self.ocn,
                     self.ocp, self.ocb, self.toc, self.tg, self.gny, self.gns, self.gpy, self.gps, self.tf,
                     self.fnys, self.fpys, spme._fpc_n, spme._fpc_p, spme._ce_floor, Y, self.A,
                     self.L, self.ocv, i_out, self.s2)


def build_pack(spme):
    """:class:`PackKernels` for a pack ``spme`` (constant electrode conductivities, uniform lookup
    tables), or ``None`` (numba missing, or a layout the kernels do not cover: numpy path)."""
    if not AVAILABLE or spme.n_cells < 2 or not spme._sigma_const:
        return None
    from numba.core.errors import NumbaError

    try:
        return PackKernels(spme)
    except (ValueError, NumbaError):
        return None
