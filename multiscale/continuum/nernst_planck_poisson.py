"""Poisson coupling of :class:`~multiscale.continuum.nernst_planck.NernstPlanck1D`: Newton on the
backward-Euler Nernst–Planck–Poisson equations (all species and ψ = eφ/kT together, sparse LU).

Poisson rows (vertex-centred finite volumes, ε uniform):

    ε V_T [(ψ_{i+1} − ψ_i)/h_i − (ψ_i − ψ_{i−1})/h_{i−1}] + F Σ_k z_k c_{k,i} V_i = 0,

with ψ imposed at the walls (φ_left, φ_right), or a Stern layer in series, the wall half-cell
getting C_S V_T (ψ_wall − ψ_0) for the electrode charge. Nernst–Planck rows as in
:mod:`.nernst_planck`. For a steady state with blocking walls the Nernst–Planck Jacobian is
singular (its null space fixes the amount of each species); one row per species is then
replaced by the amount constraint Σ_i V_i c_{k,i} = M_k.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import splu

from ..errors import ConvergenceError
from ..units import faraday_C_mol, vacuum_permittivity_F_m
from .nernst_planck import bernoulli, bernoulli_prime


def _assemble(model, c, psi, c_old, dt, amounts):
    """Residual and sparse Jacobian of the coupled system at (c, ψ)."""
    m, n = c.shape
    h, vol, vt = model._h, model._vol, model._vt
    eps = model._eps
    rows, cols, vals = [], [], []
    res = np.zeros((m + 1) * n)
    idx = np.arange(n)
    ip = m * n + idx                                             # ψ unknowns
    inv_dt = 0.0 if not np.isfinite(dt) else 1.0 / dt
    replace = {}
    for k in range(m):
        z = model._z[k]
        g = model._d_face[k] / h
        dlt = z * np.diff(psi)
        bp, bm = bernoulli(dlt), bernoulli(-dlt)
        flux = g * (bp * c[k, :-1] - bm * c[k, 1:])
        dj_dd = g * (bernoulli_prime(dlt) * c[k, :-1] + bernoulli_prime(-dlt) * c[k, 1:])
        a_l, b_l, a_r, b_r = model._wall_coefficients(k)
        r = vol * (c[k] - c_old[k]) * inv_dt
        r[:-1] += flux
        r[1:] -= flux
        r[0] -= a_l + b_l * c[k, 0]
        r[-1] -= a_r + b_r * c[k, -1]
        ic = k * n + idx
        diag = vol * inv_dt
        diag[:-1] += g * bp
        diag[1:] += g * bm
        diag[0] -= b_l
        diag[-1] -= b_r
        # ψ-derivatives: row i gets +J_{i+½}, row i+1 gets −J_{i+½}; ∂Δ/∂ψ_{i+1} = z = −∂Δ/∂ψ_i
        rows += [ic[:-1], ic[:-1], ic[1:], ic[1:]]
        cols += [ip[1:], ip[:-1], ip[1:], ip[:-1]]
        vals += [dj_dd * z, -dj_dd * z, -dj_dd * z, dj_dd * z]
        # c-derivatives: ∂J/∂c_i = g B(Δ), ∂J/∂c_{i+1} = −g B(−Δ) (and the storage term on the diagonal)
        rows += [ic, ic[:-1], ic[1:]]
        cols += [ic, ic[1:], ic[:-1]]
        vals += [diag, -g * bm, -g * bp]
        if amounts is not None and b_l == 0.0 and b_r == 0.0:
            j = int(np.argmax(c_old[k] * vol))
            replace[k * n + j] = (ic, vol, float(vol @ c[k]) - amounts[k])
        res[ic] = r
    # Poisson
    a = eps * vt / h
    p = faraday_C_mol * (model._z @ c) * vol
    p[:-1] += a * np.diff(psi)
    p[1:] -= a * np.diff(psi)
    pdiag = np.zeros(n)
    pdiag[:-1] -= a
    pdiag[1:] -= a
    rows += [ip, ip[:-1], ip[1:]]
    cols += [ip, ip[1:], ip[:-1]]
    vals += [pdiag, a, a]
    for k in range(m):
        rows.append(ip)
        cols.append(k * n + idx)
        vals.append(faraday_C_mol * model._z[k] * vol)
    psi_l, psi_r = (v / vt for v in model.boundary_potential_V)
    res[m * n:] = p
    r_all = np.concatenate(rows)
    c_all = np.concatenate(cols)
    v_all = np.concatenate(vals)
    if model.stern_capacitance_F_m2 is None:
        # Dirichlet rows: ψ_0 = ψ_L, ψ_end = ψ_R (scaled like the other Poisson rows)
        keep = ~np.isin(r_all, [ip[0], ip[-1]])
        r_all, c_all, v_all = r_all[keep], c_all[keep], v_all[keep]
        scale = a[0]
        r_all = np.concatenate((r_all, [ip[0], ip[-1]]))
        c_all = np.concatenate((c_all, [ip[0], ip[-1]]))
        v_all = np.concatenate((v_all, [scale, scale]))
        res[ip[0]] = scale * (psi[0] - psi_l)
        res[ip[-1]] = scale * (psi[-1] - psi_r)
    else:
        cs = model.stern_capacitance_F_m2 * vt
        res[ip[0]] += cs * (psi_l - psi[0])
        res[ip[-1]] += cs * (psi_r - psi[-1])
        r_all = np.concatenate((r_all, [ip[0], ip[-1]]))
        c_all = np.concatenate((c_all, [ip[0], ip[-1]]))
        v_all = np.concatenate((v_all, [-cs, -cs]))
    if replace:
        keep = ~np.isin(r_all, list(replace))
        r_all, c_all, v_all = r_all[keep], c_all[keep], v_all[keep]
        for row, (ic, vol_k, value) in replace.items():
            r_all = np.concatenate((r_all, np.full(n, row)))
            c_all = np.concatenate((c_all, ic))
            v_all = np.concatenate((v_all, vol_k))
            res[row] = value
    jac = coo_matrix((v_all, (r_all, c_all)), shape=(res.size, res.size)).tocsc()
    return res, jac


def _newton(model, c, psi, c_old, dt, amounts):
    m, n = c.shape
    c_scale = max(float(np.abs(c_old).max()), 1e-30)
    for it in range(model.max_newton_iterations):
        res, jac = _assemble(model, c, psi, c_old, dt, amounts)
        try:
            delta = -splu(jac).solve(res)
        except RuntimeError as exc:
            raise ConvergenceError(f"Nernst–Planck–Poisson Jacobian is singular ({exc}); check the boundary "
                                   "conditions and that every species has a nonzero amount") from None
        dc = delta[:m * n].reshape(m, n)
        dpsi = delta[m * n:]
        # limit the potential update to 2 kT/e per iteration (exponential sensitivity of the SG fluxes)
        step = min(1.0, 2.0 / max(float(np.abs(dpsi).max()), 1e-300))
        c = c + step * dc
        psi = psi + step * dpsi
        if step == 1.0 and float(np.abs(dc).max()) < model.newton_tolerance * c_scale and \
                float(np.abs(dpsi).max()) < model.newton_tolerance:
            return c, psi
    raise ConvergenceError(f"Nernst–Planck–Poisson Newton did not converge in {model.max_newton_iterations} "
                           f"iterations (last |Δψ| = {np.abs(dpsi).max():.3g}, |Δc|/c = "
                           f"{np.abs(dc).max() / c_scale:.3g}); reduce dt_s or refine x_m near the walls")


def equilibrium_potential(model, c, psi0):
    """ψ from Poisson for the given concentrations (the initial potential of a run)."""
    n = c.shape[1]
    vt = model._vt
    from .poisson import solve_poisson

    rho = faraday_C_mol * (model._z @ c)
    if model.stern_capacitance_F_m2 is None:
        r = solve_poisson(model.x_m, rho, relative_permittivity=model._eps / vacuum_permittivity_F_m,
                          boundary="dirichlet", left_value=model.boundary_potential_V[0],
                          right_value=model.boundary_potential_V[1])
        return r.potential_V / vt
    # Stern layers: one Newton solve of the (linear) Poisson rows with c frozen
    psi = np.zeros(n) if psi0 is None else psi0
    _, psi = _poisson_only(model, c, psi)
    return psi


def _poisson_only(model, c, psi):
    m, n = c.shape
    res, jac = _assemble(model, c, psi, c, np.inf, None)
    jp = jac[m * n:, m * n:]
    dpsi = -splu(jp.tocsc()).solve(res[m * n:])
    return c, psi + dpsi


def coupled_step(model, c, psi, dt):
    """One backward-Euler step of the coupled system."""
    return _newton(model, c.copy(), psi.copy(), c, dt, None)


def coupled_steady_state(model, c, *, rtol=1e-12, max_steps=200):
    """Pseudo-transient continuation (dt doubling) with amount constraints, then dt = ∞."""
    psi = equilibrium_potential(model, c, None)
    amounts = c @ model._vol
    d_min = float(model._d_face.min())
    dt = 0.1 * float(model._h.min()) ** 2 / float(model._d_face.max())
    t_long = 10.0 * (model.x_m[-1] - model.x_m[0]) ** 2 / d_min
    for _ in range(max_steps):
        try:
            c_new, psi_new = _newton(model, c.copy(), psi.copy(), c, dt, amounts)
        except ConvergenceError:
            dt *= 0.25
            continue
        c, psi = c_new, psi_new
        if dt > t_long:
            break
        dt *= 2.0
    else:
        raise ConvergenceError(f"Nernst–Planck–Poisson steady state not reached in {max_steps} pseudo-time steps")
    c, psi = _newton(model, c, psi, c, np.inf, amounts)
    return c, psi
