"""Position-resolved diffusion D∥(z), D⊥(z) by the slab survival-probability method.

Liu, Harder & Berne, J. Phys. Chem. B 108, 6595 (2004). The axis is cut into layers (bins);
for every time origin t₀ and atom i in layer b, χ_i(t₀, τ) = 1 while the atom is found in b
at every saved frame from t₀ to t₀+τ. Then

    P_b(τ) = ⟨Σ_i χ_i⟩ / ⟨N_b(t₀)⟩                       (survival probability)
    ⟨Δr∥²(τ)⟩_b = ⟨Σ_i χ_i |r∥,i(t₀+τ) − r∥,i(t₀)|²⟩ / ⟨N_b(t₀)⟩,
    D∥ = lim ⟨Δr∥²(τ)⟩_b / (4 τ P_b(τ)),

taken here as ¼ of the τ → 0 slope of the survivors' MSD ⟨Δr∥²⟩_b/P_b, from a fit
a + bτ + cτ^{3/2} over the lags where P_b ≥ ``min_survival``. The intercept a drops a ballistic
offset; cτ^{3/2} is the survivor selection: where D varies inside the layer, the atoms lost
through an absorbing face by time τ (a fraction ∝ √τ) are those near it, so the survivors'
mean D drifts away from the layer average by O(√τ) and their MSD bends by O(τ^{3/2}); only
the slope at τ → 0 is the population (layer) average. D⊥ comes from the decay of
P_b(τ): for diffusion in a layer of width L with absorbing faces and a uniform start,

    P(t) = Σ_{n odd} 8/(n²π²) exp(−n²π² D⊥ t / L²)      (→ 8/π² exp(−π²D⊥t/L²)),

and with a reflecting face (a layer at a wall that no atom ever crosses) the same with L → 2L.
Survival is checked only at saved frames, so atoms that leave and come back between frames
count as survivors; the estimator corrects this with the continuity correction for discretely
monitored Brownian motion (Broadie, Glasserman & Kou, Math. Finance 7, 325 (1997)): each
absorbing face moves out by β√(2D⊥Δt), β = −ζ(½)/√(2π) = 0.5826. D⊥ is the weighted
least-squares fit (weights √survivors) of the slowest mode, ln P = ln A − π²D⊥t/W², over lags
with ``min_survival_perp`` ≤ P ≤ 0.5 (free amplitude A; W the corrected effective width).

Errors: time origins are split into ``n_blocks`` contiguous blocks, the estimator is applied
in each, and the statistical error is the standard error of the block values (from five
blocks it is itself uncertain by ~±35 %). The systematic error is the spread between two
estimates of the same quantity that rest on different assumptions, from the pooled data:
D∥ — the fit above over the whole window vs over its shorter half; D⊥ — the survival-decay
estimate vs the τ → 0 slope (a + bτ + cτ^{3/2}, ½ b) of the survivors' perpendicular MSD
⟨Δz²⟩_b/P_b over the shortest lags (P_b ≥ (2 + ``min_survival``)/3, at least 4), which does
not assume a homogeneous layer. "… error" is the total, statistical and systematic added in
quadrature; both parts are also reported ("… statistical error", "… systematic error").

Limitations: the survival decay treats each layer as homogeneous. Its slowest mode weights D
by the square of the mode's gradient, i.e. towards the absorbing faces: symmetric for two
absorbing faces (unbiased to first order for D linear across the layer), but in a layer with
one reflecting face (at a wall) towards the open face, where D is largest next to a wall that
slows the atoms. On the synthetic benchmark (D doubles over the 3 Å next to the wall) D⊥ of
the wall layers is 12–16 % above the layer average (the exact slowest eigenvalue of that
profile gives +11.8 %), with statistical errors of 3–4 %; the survivors' perpendicular MSD
gives +2 % there, so the systematic error (10–16 %) brings the total to |z| ≈ 1.0–1.2 (it is 0.5–4 %
in the homogeneous layers, total errors 2–4 %). D∥ with the τ^{3/2} term is within ±2 % of
the layer average in the wall layers (previously −6 to −7 % with a straight-line slope, z ≈
−9) and within 1.6 % in the others; the curvature term costs ~1.5× the statistical error of a
straight-line fit in bulk layers (0.2–1 % of D). The perpendicular MSD estimate has its own
truncation error (±1.5 % in bulk layers at this frame spacing), which enters the D⊥
systematic error as well.

Bins that cannot give an estimate (no atoms, too few survivors for a fit, both faces
reflecting for D⊥) are returned with D = 0 and ``"no data" = True`` — the frame is NaN-free
and the gap is explicit.
"""
from __future__ import annotations

import numpy as np
from scipy.special import zeta

from ..errors import InputError, check_finite_array, check_range
from ..units import angstrom_m, diffusivity_A2_ps_to_m2_s
from .readers import as_cell_matrix, iter_chunks, select_atoms

BGK_BETA = float(-zeta(0.5) / np.sqrt(2 * np.pi))     # 0.5826, Broadie–Glasserman–Kou constant
_N_TERMS = 401                      # odd terms of the survival series
MAX_SURVIVAL_PERP = 0.5             # D⊥ fit window starts at P = 0.5: higher modes < 0.3 % there


def survival_slab(t_ps, d_A2_ps: float, width_A: float, *, reflecting: bool = False,
                  frame_dt_ps: float = 0.0, n_absorbing: int = 2) -> np.ndarray:
    """P(t) for a uniform start in a layer of ``width_A`` (absorbing faces, or one reflecting).

    ``frame_dt_ps`` > 0 applies the discrete-monitoring correction: every absorbing face moves
    out by β√(2DΔt). ``reflecting=True`` doubles the width (image of the reflecting face).
    """
    shift = BGK_BETA * np.sqrt(2 * d_A2_ps * frame_dt_ps)
    width = width_A + (1 if reflecting else n_absorbing) * shift
    if reflecting:
        width = 2 * width
    n = 2 * np.arange(_N_TERMS) + 1
    t = np.atleast_1d(np.asarray(t_ps, dtype=float))
    return (8 / (np.pi**2 * n[None] ** 2) * np.exp(-np.outer(t, n**2) * np.pi**2 * d_A2_ps / width**2)).sum(axis=1)


def _d_from_rate(rate_per_ps: float, width_A: float, n_reflecting: int, frame_dt_ps: float) -> float:
    """Solve k = π² D / W(D)² for D [Å²/ps]; W = effective width of the layer's slowest mode.

    Two absorbing faces: W = L + 2 s; one reflecting face: W = 2 (L + s); s = β√(2DΔt).
    A fixed-point iteration (s ≪ L, contraction factor ~ s/L).
    """
    d = rate_per_ps * (width_A * (2 if n_reflecting else 1)) ** 2 / np.pi**2
    for _ in range(100):
        s = BGK_BETA * np.sqrt(2 * d * frame_dt_ps)
        w = 2 * (width_A + s) if n_reflecting else width_A + 2 * s
        d_new = rate_per_ps * w**2 / np.pi**2
        if abs(d_new - d) <= 1e-12 * d_new:
            break
        d = d_new
    return float(d_new)


def _run_lengths(bins: np.ndarray) -> np.ndarray:
    """run[t, i] = number of consecutive later frames atom i stays in its bin at t."""
    run = np.zeros(bins.shape, dtype=np.int32)
    same = bins[1:] == bins[:-1]
    for t in range(bins.shape[0] - 2, -1, -1):
        run[t] = np.where(same[t], run[t + 1] + 1, 0)
    return run


def diffusion_profile(positions, time_ps, cell, *, axis: int = 2, bin_edges=None, species=None,
                      symbols=None, n_bins: int = 10, max_lag_ps: float | None = None, n_blocks: int = 5,
                      min_survival: float = 0.7, min_survival_perp: float = 0.05, min_samples: int = 50,
                      discrete_correction: bool = True):
    """D∥(z) and D⊥(z) with errors by the slab survival-probability method (see module doc).

    Parameters
    ----------
    positions : (n_frames, n_atoms, 3) in Å, unwrapped, or wrapped with ``cell`` given.
    time_ps : (n_frames,) evenly spaced frame times in ps.
    cell : lengths (3,), matrix (3, 3) or (n_frames, 3, 3) in Å, or None for unwrapped input
        without periodic wrapping of the layer coordinate.
    axis : the layer normal (0, 1, 2).
    bin_edges : layer edges along ``axis`` in Å; default ``n_bins`` equal layers spanning the
        occupied range.
    species : atoms to include (indices, boolean mask, or symbols with ``symbols`` given).
    max_lag_ps : longest lag; default half a time block.

    Returns
    -------
    pandas.DataFrame with "z [m]" (layer centres), "D_parallel [m2.s-1]", "D_parallel error
    [m2.s-1]", "D_perpendicular [m2.s-1]", "D_perpendicular error [m2.s-1]" (errors: total,
    statistical and systematic in quadrature), "D_parallel statistical error [m2.s-1]",
    "D_parallel systematic error [m2.s-1]", the same two for D_perpendicular, "Residence
    samples [-]" and the flag "no data" (True where an estimate could not be made; D = 0 there).
    The systematic error is 0 where the survival window holds fewer than 8 lags.
    """
    import pandas as pd

    pos = check_finite_array("positions", positions)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise InputError(f"positions has shape {pos.shape}: expected (n_frames, n_atoms, 3) in Å")
    t = check_finite_array("time_ps", time_ps)
    if t.shape != (pos.shape[0],):
        raise InputError(f"time_ps has shape {t.shape}: expected ({pos.shape[0]},)")
    dts = np.diff(t)
    if t.size < 4 or not np.all(dts > 0) or not np.allclose(dts, dts[0], rtol=1e-6):
        raise InputError("time_ps must have >= 4 strictly increasing, evenly spaced frame times")
    dt = float(dts[0])
    if axis not in (0, 1, 2):
        raise InputError(f"axis = {axis!r} is out of range: must be 0, 1 or 2")
    if int(n_blocks) < 2:
        raise InputError(f"n_blocks = {n_blocks!r} is out of range: must be >= 2")
    check_range("min_survival", min_survival, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    idx = select_atoms(None if symbols is None else np.asarray(symbols), pos.shape[1], species)
    pos = pos[:, idx]
    if cell is not None:
        c = as_cell_matrix(cell)
        c0 = c if c.ndim == 2 else c[0]
        pos = np.concatenate([ch.positions for ch in iter_chunks(pos, cell=cell, unwrap=True)])
        wrap_length = float(np.linalg.norm(c0[axis])) if np.allclose(c0, np.diag(np.diag(c0))) else None
        z = pos[..., axis] % wrap_length if wrap_length else pos[..., axis]
    else:
        wrap_length = None
        z = pos[..., axis]
    if bin_edges is None:
        bin_edges = np.linspace(z.min(), z.max() + 1e-9, int(n_bins) + 1)
    edges = check_finite_array("bin_edges", bin_edges)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
        raise InputError("bin_edges must be a strictly increasing 1-D array with >= 2 entries")
    nb = edges.size - 1
    b = np.digitize(z, edges) - 1
    b[(b < 0) | (b >= nb)] = -1
    run = _run_lengths(b)

    T = pos.shape[0]
    T_blk = T // int(n_blocks)
    if T_blk < 3:
        raise InputError(f"the trajectory is too short for a diffusion profile: {T} frames in n_blocks = "
                         f"{n_blocks} blocks; need at least {3 * int(n_blocks)} frames (3 per block)")
    max_lag = int(round(max_lag_ps / dt)) if max_lag_ps is not None else max(T_blk // 2, 3)
    if not 2 <= max_lag < T_blk:
        raise InputError(f"max_lag_ps = {max_lag * dt:g} is out of range: need between {2 * dt:g} and "
                         f"{(T_blk - 1) * dt:g} ps (one time block) at this trajectory length")
    n_orig = T_blk - max_lag                       # origins per block, each with max_lag frames ahead
    par = [k for k in range(3) if k != axis]
    # accumulators [block, bin, lag]
    n0 = np.zeros((n_blocks, nb))
    surv = np.zeros((n_blocks, nb, max_lag + 1))
    msd = np.zeros((n_blocks, nb, max_lag + 1))
    msd_perp = np.zeros((n_blocks, nb, max_lag + 1))
    blocks_idx = []
    for blk in range(n_blocks):
        o0 = blk * T_blk
        bo, ro = b[o0:o0 + n_orig], run[o0:o0 + n_orig]
        valid = bo >= 0
        n0[blk] = np.bincount(bo[valid], minlength=nb)
        # survivors at every lag at once: surv[lag] = #(origin, atom) with run length >= lag
        key = bo[valid] * (max_lag + 1) + np.minimum(ro[valid], max_lag)
        h = np.bincount(key, minlength=nb * (max_lag + 1)).reshape(nb, max_lag + 1)
        surv[blk] = np.cumsum(h[:, ::-1], axis=1)[:, ::-1]
        blocks_idx.append((o0, bo, ro, valid))
    # D∥ needs the survivors' displacements only while P >= min_survival (pooled, 10 % margin)
    p_all = surv.sum(0) / np.maximum(n0.sum(0), 1)[:, None]
    above = np.flatnonzero((p_all >= 0.9 * min_survival).any(axis=0))
    par_max = int(min(max(above.max() if above.size else 0, 3), max_lag))
    for o0, bo, ro, valid in blocks_idx:
        blk = o0 // T_blk
        t_i, a_i = np.nonzero(valid & (ro >= 1))
        for lag in range(1, par_max + 1):
            keep = ro[t_i, a_i] >= lag     # survivors shrink with the lag
            t_i, a_i = t_i[keep], a_i[keep]
            if t_i.size == 0:
                break
            d = pos[o0 + t_i + lag, a_i] - pos[o0 + t_i, a_i]
            bins_i = bo[t_i, a_i]
            msd[blk, :, lag] = np.bincount(bins_i, weights=np.einsum("ij,ij->i", d[:, par], d[:, par]),
                                           minlength=nb)
            msd_perp[blk, :, lag] = np.bincount(bins_i, weights=d[:, axis] ** 2, minlength=nb)
    lags_ps = np.arange(max_lag + 1) * dt
    lo_face_reflecting = [bool(z.min() >= edges[k]) for k in range(nb)]
    hi_face_reflecting = [bool(z.max() < edges[k + 1]) for k in range(nb)]
    if wrap_length and edges[0] <= 1e-9 * wrap_length and edges[-1] >= wrap_length * (1 - 1e-9):
        # layers spanning the whole periodic box: the outer faces are the same periodic plane,
        # open (not reflecting) as soon as an atom crosses it (last layer ↔ first layer)
        crossed = np.any(((b[:-1] == 0) & (b[1:] == nb - 1)) | ((b[:-1] == nb - 1) & (b[1:] == 0)))
        if crossed:
            lo_face_reflecting[0] = hi_face_reflecting[nb - 1] = False

    rows = []
    for k in range(nb):
        width = edges[k + 1] - edges[k]
        refl = lo_face_reflecting[k] + hi_face_reflecting[k]
        args = (lags_ps, width, refl, dt, min_survival, min_survival_perp)
        kw = dict(discrete_correction=discrete_correction, par_max=par_max)
        est = _estimate(n0.sum(0)[k], surv.sum(0)[k], msd.sum(0)[k], msd_perp.sum(0)[k], *args,
                        min_samples=min_samples * n_blocks, **kw)
        blocks = [_estimate(n0[j, k], surv[j, k], msd[j, k], msd_perp[j, k], *args, min_samples=min_samples, **kw)
                  for j in range(n_blocks)]
        row = {"z [m]": 0.5 * (edges[k] + edges[k + 1]) * angstrom_m}
        extra = {}
        ok = True
        # the systematic error: the spread between two estimates of the same quantity that rest on
        # different assumptions (D∥: short vs full survival window; D⊥: survival decay vs survivors' MSD)
        for name, key, alt in (("D_parallel", "par", "par_short"), ("D_perpendicular", "perp", "perp_msd")):
            vals = [bl[key] for bl in blocks]
            if est[key] is None or any(v is None for v in vals):
                ok = False
                row[f"{name} [m2.s-1]"] = row[f"{name} error [m2.s-1]"] = 0.0
                extra[f"{name} statistical error [m2.s-1]"] = extra[f"{name} systematic error [m2.s-1]"] = 0.0
                continue
            stat = float(np.std(np.asarray(vals, dtype=float), ddof=1) / np.sqrt(n_blocks))
            sys_ = 0.0 if est[alt] is None else abs(est[key] - est[alt])
            row[f"{name} [m2.s-1]"] = float(diffusivity_A2_ps_to_m2_s(est[key]))
            row[f"{name} error [m2.s-1]"] = float(diffusivity_A2_ps_to_m2_s(np.hypot(stat, sys_)))
            extra[f"{name} statistical error [m2.s-1]"] = float(diffusivity_A2_ps_to_m2_s(stat))
            extra[f"{name} systematic error [m2.s-1]"] = float(diffusivity_A2_ps_to_m2_s(sys_))
        row.update(extra)
        row["Residence samples [-]"] = int(n0[:, k].sum())
        row["no data"] = not ok
        rows.append(row)
    return pd.DataFrame(rows)


def _short_lag_slope(lags_ps, y) -> float:
    """d y/dτ at τ → 0 from a fit y = a + bτ + cτ^{3/2} (a + bτ with fewer than 4 points).

    a absorbs a ballistic offset; cτ^{3/2} the leading survivor-selection term (see module doc).
    """
    cols = [np.ones_like(lags_ps), lags_ps] + ([lags_ps**1.5] if lags_ps.size >= 4 else [])
    return float(np.linalg.lstsq(np.column_stack(cols), y, rcond=None)[0][1])


def _estimate(n0, surv, msd, msd_perp, lags_ps, width, n_reflecting, dt, min_survival, min_surv_perp, *,
              min_samples, discrete_correction, par_max):
    """Estimates for one layer in Å²/ps, None where the data do not allow them.

    "par": D∥ over the survival window (P ≥ ``min_survival``); "par_short": the same over its
    shorter half; "perp": D⊥ from the survival decay; "perp_msd": D⊥ from the survivors'
    perpendicular MSD over the lags with P ≥ (2 + ``min_survival``)/3 (at least 4); the last two
    need ≥ 8 lags in the D∥ window, else None.
    """
    out = dict.fromkeys(("par", "par_short", "perp", "perp_msd"))
    if n0 < min_samples:
        return out
    p = surv / n0
    p[0] = 1.0
    use = (p >= min_survival) & (surv >= min_samples)
    use[0] = False
    use[par_max + 1:] = False          # survivors' displacements were accumulated up to par_max
    idx = np.flatnonzero(use)
    if idx.size >= 3:
        x = lags_ps[idx]
        out["par"] = _short_lag_slope(x, msd[idx] / surv[idx]) / 4.0
        if idx.size >= 8:
            half = idx[: idx.size // 2]
            out["par_short"] = _short_lag_slope(lags_ps[half], msd[half] / surv[half]) / 4.0
            # perpendicular: the survivors' Δz is what survival restricts, so only the shortest lags
            # (1 − P at most a third of the D∥ window's), at least 4 of them
            short = idx[: max(int(np.sum(p[idx] >= (2 + min_survival) / 3)), 4)]
            out["perp_msd"] = _short_lag_slope(lags_ps[short], msd_perp[short] / surv[short]) / 2.0
    fit = (p >= min_surv_perp) & (p <= MAX_SURVIVAL_PERP) & (surv >= min_samples)
    fit[0] = False
    if n_reflecting < 2 and fit.sum() >= 3:
        # slowest mode only: ln P = ln A − k t with a free amplitude A (it absorbs the start-up,
        # where the higher modes and the discrete monitoring change P), then k = π²D/W(D)²
        k = -np.polyfit(lags_ps[fit], np.log(p[fit]), 1, w=np.sqrt(surv[fit]))[0]   # σ(ln P) ≈ 1/√survivors
        if k > 0:
            out["perp"] = _d_from_rate(k, width, n_reflecting, dt if discrete_correction else 0.0)
    return out


def plot_diffusion_profile(df, *, ax=None):
    """Plot D∥(z) and D⊥(z) with error bars from a :func:`diffusion_profile` frame.

    Layers flagged ``"no data"`` are left out (not drawn as zeros). Returns the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    ok = ~df["no data"].to_numpy(dtype=bool)
    for col, marker in (("D_parallel", "o"), ("D_perpendicular", "s")):
        ax.errorbar(df["z [m]"][ok], df[f"{col} [m2.s-1]"][ok], yerr=df[f"{col} error [m2.s-1]"][ok],
                    label=col, capsize=2, marker=marker, linestyle="none")
    ax.set_xlabel("z [m]")
    ax.set_ylabel("D [m2.s-1]")
    ax.legend()
    return ax
