"""Coverage of nominal 95 % intervals for each quantity the uncertainty layer is wired into.

For every quantity a synthetic "experiment" with a known truth is repeated (seeded): noisy
data are generated, the package's estimator is run, and its 95 % interval is checked against
the truth. Target: coverage 93–97 % for each wired quantity. Also checks delta method vs Monte
Carlo (equal for linear maps, within 5 % for a mildly non-linear one: the Stern/PB capacitance)
and times the delta method against Monte Carlo (10 000 draws) on the same quantity.

    python benchmarks/bench_uq_coverage.py --json [--quick]   (full run ~4-6 min on one core, most of it
    in the 400 self-consistent adsorption-model experiments; --quick uses a quarter of the repeats)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.signal import lfilter  # noqa: E402

from multiscale.uq import (LaplacePosterior, LeastSquaresPosterior, coverage_experiment, delta_method,  # noqa: E402
                           interval, monte_carlo)

torch.set_num_threads(1)
LEVEL = 0.95
TARGET = (0.93, 0.97)


# --- α from E_a(φ) --------------------------------------------------------------------------
PHI_V = np.linspace(-0.3, 0.3, 7)
ALPHA_TRUE, EA0_TRUE, EA_NOISE_EV = 0.5, 0.6, 0.01


def _barriers(rng):
    return EA0_TRUE - ALPHA_TRUE * PHI_V + rng.normal(0.0, EA_NOISE_EV, PHI_V.size)


def alpha_uq(rng, level):
    """E_a(φ) = E_a(0) − αeφ fitted by least squares; Student-t interval on α (dof n − 2)."""
    post = LeastSquaresPosterior.from_curve_fit(lambda x, ea0, a: ea0 - a * x, PHI_V, _barriers(rng), p0=[0.5, 0.3])
    low, high = post.interval(level)
    return low[1], high[1]


def alpha_kinetics(rng, level):
    """The kinetics layer's own fit (multiscale.kinetics.fit_transfer_coefficient): f.alpha_ci95."""
    from multiscale.kinetics import fit_transfer_coefficient

    f = fit_transfer_coefficient(PHI_V, _barriers(rng))
    return f.alpha_ci95


# --- C_A: constitutive (Stern + diffuse layer) parameters → PB interface model → capacitance ---
CONC_MOL_M3 = np.array([1.0, 3.0, 10.0, 30.0, 100.0, 300.0])
C_H_TRUE, EPS_TRUE, C_NOISE = 0.20, 78.5, 0.003
PHI_EVAL_V, C_EVAL_MOL_M3 = 0.1, 100.0


def _pzc_capacitance(c, c_h, eps_r):
    from multiscale.continuum.double_layer_analytic import (gouy_chapman_capacitance_F_m2,
                                                             stern_series_capacitance_F_m2)

    return np.array([stern_series_capacitance_F_m2(gouy_chapman_capacitance_F_m2(0.0, ci, relative_permittivity=eps_r),
                                                   c_h) for ci in np.atleast_1d(c)])


def capacitance_of_theta(theta):
    """C_A [F/m²] at φ = 0.1 V, 0.1 M from a numerical Poisson–Boltzmann + Stern solve."""
    from multiscale.continuum.poisson_boltzmann import PoissonBoltzmann

    pb = PoissonBoltzmann(C_EVAL_MOL_M3, stern_capacitance_F_m2=theta[0], relative_permittivity=theta[1])
    return float(pb.differential_capacitance([PHI_EVAL_V])[0])


def _fit_stern(rng):
    data = _pzc_capacitance(CONC_MOL_M3, C_H_TRUE, EPS_TRUE) + rng.normal(0.0, C_NOISE, CONC_MOL_M3.size)
    return LeastSquaresPosterior.from_curve_fit(_pzc_capacitance, CONC_MOL_M3, data, p0=[0.1, 60.0],
                                                names=["C_H [F.m-2]", "eps_r"], method="trf",
                                                bounds=([1e-3, 1.0], [10.0, 500.0]))


def capacitance(rng, level):
    """Parsons–Zobel-type fit of (C_H, ε_r) → delta method through PB+Stern → t interval on C_A."""
    post = _fit_stern(rng)
    value, std = delta_method(capacitance_of_theta, post.mean, post.cov, method="finite-difference")
    return interval(value, std, level, dof=post.dof)


# --- the seed's example: Stark fit of adsorption energies → Frumkin ⇄ dipole ⇄ GCS loop → C_A -----
FIELDS_V_PER_A = np.linspace(-0.5, 0.5, 7)
STARK_TRUE = np.array([-0.12, 0.02, 0.05])  # E_ads(0) [eV], μ [e·Å], α_pol [e·Å²/V]
STARK_NOISE_EV = 0.002
E_ADS_EVAL_V, C_ADS_MOL_M3 = 0.1, 10.0


def adsorption_capacitance_of_theta(theta):
    """Total differential capacitance [F/m²] of the self-consistent adsorption interface model."""
    from multiscale.continuum.adsorption import AdsorptionInterface, StarkAdsorptionModel
    from multiscale.continuum.poisson_boltzmann import PoissonBoltzmann

    model = StarkAdsorptionModel(theta[0], theta[1], theta[2], interaction_eV=0.1)
    interface = AdsorptionInterface(model, site_area_A2=10.0,
                                    double_layer=PoissonBoltzmann(100.0, stern_capacitance_F_m2=0.2))
    return float(interface.solve([E_ADS_EVAL_V], C_ADS_MOL_M3).capacitance_F_m2[0])


def adsorption_capacitance(rng, level):
    """fit_stark on noisy E_ads(F) → N(θ̂, Σ) → delta method through the interface model → t interval."""
    from multiscale.kinetics import fit_stark

    e0, mu, a = STARK_TRUE
    energy = e0 - mu * FIELDS_V_PER_A - 0.5 * a * FIELDS_V_PER_A**2 + rng.normal(0, STARK_NOISE_EV, FIELDS_V_PER_A.size)
    fit = fit_stark(FIELDS_V_PER_A, energy)
    theta = np.array([fit.energy0_eV, fit.dipole_eA, fit.polarizability_eA2_per_V])
    value, std = delta_method(adsorption_capacitance_of_theta, theta, fit.cov, method="finite-difference")
    return interval(value, std, level, dof=FIELDS_V_PER_A.size - 3)


# --- last-layer Laplace prediction of a torch model -----------------------------------------
def _feature_net():
    torch.manual_seed(11)
    net = torch.nn.Sequential(torch.nn.Linear(1, 12), torch.nn.Tanh(), torch.nn.Linear(12, 1)).double()
    with torch.no_grad():  # the "true" last layer defines the ground-truth function
        net[2].weight.copy_(torch.linspace(-1.0, 1.0, 12)[None, :])
        net[2].bias.fill_(0.3)
    return net


NET = _feature_net()
X_TRAIN = torch.linspace(-2.0, 2.0, 60, dtype=torch.float64)[:, None]
X_STAR = torch.tensor([[0.7]], dtype=torch.float64)
with torch.no_grad():
    Y_CLEAN = NET(X_TRAIN).numpy().ravel()
    Y_STAR = float(NET(X_STAR))
LAPLACE_NOISE = 0.1


def laplace(rng, level):
    """Last-layer Laplace (GGN, λ = 1e-6, σ known) on a well-specified network; interval on f(x*)."""
    y = Y_CLEAN + rng.normal(0.0, LAPLACE_NOISE, Y_CLEAN.size)
    post = LaplacePosterior(NET, prior_precision=1e-6, noise_std=LAPLACE_NOISE, refit=True).fit(X_TRAIN, y)
    mean, std = post.predict(X_STAR)
    return interval(mean[0], std[0], level)


# --- free energies: TI with correlated samples, MBAR ---------------------------------------
K0, K1, RHO, N_TI = 1.0, 4.0, 0.8, 2000
LAMBDAS = np.linspace(0.0, 1.0, 11)


def _ar1(rng, n, rho):
    e = rng.normal(size=n + 200)
    return lfilter([np.sqrt(1 - rho**2)], [1.0, -rho], e)[200:]


def ti(rng, level):
    """Harmonic K0 → K1 (β = 1), AR(1)-correlated samples; pymbar statistical inefficiency."""
    from multiscale.atomistic.free_energy import thermodynamic_integration

    samples = [0.5 * (K1 - K0) * (_ar1(rng, N_TI, RHO) / np.sqrt((1 - lam) * K0 + lam * K1)) ** 2 for lam in LAMBDAS]
    df, err = thermodynamic_integration(LAMBDAS, samples, method="simpson")
    return interval(df, err, level)


KS_MBAR, N_MBAR = np.array([1.0, 2.0, 4.0]), 300


def mbar_df(rng, level):
    """Δf(state 0 → 2) of three harmonic oscillators from pooled samples."""
    from multiscale.atomistic.free_energy import mbar

    x = np.concatenate([rng.normal(0.0, 1.0 / np.sqrt(k), N_MBAR) for k in KS_MBAR])
    r = mbar(0.5 * KS_MBAR[:, None] * x[None, :] ** 2, [N_MBAR] * 3)
    return interval(*r.between(0, 2), level)


def f_harmonic(k):
    return -0.5 * np.log(2 * np.pi / k)


# --- ensemble spread (informational: a posterior type, not a wired quantity) -----------------
X_ENS, X_ENS_STAR, M_ENS = np.linspace(-1.0, 1.0, 30), 0.7, 10


def ensemble(rng, level):
    """10 bootstrap-trained straight-line members; interval mean ± t_{M−1}·s·√(1 + 1/M) at x*."""
    from multiscale.uq import EnsemblePosterior

    y = 1.0 + 2.0 * X_ENS + rng.normal(0.0, 0.2, X_ENS.size)
    members = []
    for _ in range(M_ENS):
        i = rng.integers(0, X_ENS.size, X_ENS.size)
        members.append(np.polyval(np.polyfit(X_ENS[i], y[i], 1), X_ENS_STAR))
    low, high = EnsemblePosterior(np.array(members)).predictive_interval(level)
    return low[0], high[0]


# --------------------------------------------------------------------------------------------
def _quantities():
    q = {
        "alpha_from_Ea_phi (uq least squares)": (alpha_uq, ALPHA_TRUE, 1000),
        "C_A Stern+PB at 0.1 V (delta method)": (capacitance, capacitance_of_theta([C_H_TRUE, EPS_TRUE]), 600),
        "f(x*) last-layer Laplace": (laplace, Y_STAR, 600),
        "dF thermodynamic integration": (ti, 0.5 * np.log(K1 / K0), 300),
        "dF MBAR": (mbar_df, f_harmonic(KS_MBAR[2]) - f_harmonic(KS_MBAR[0]), 300),
    }
    try:
        import multiscale.continuum.adsorption  # noqa: F401
        from multiscale.kinetics import fit_stark  # noqa: F401

        q["C_A adsorption interface model (seed example)"] = (
            adsorption_capacitance, adsorption_capacitance_of_theta(STARK_TRUE), 400)
    except ImportError:
        pass
    try:
        import multiscale.kinetics as kin

        if hasattr(kin, "fit_transfer_coefficient"):
            q["alpha_from_Ea_phi (kinetics.fit_transfer_coefficient)"] = (alpha_kinetics, ALPHA_TRUE, 1000)
    except ImportError:
        pass
    return q


def delta_vs_mc(seed=0):
    """Linear map: std ratio; non-linear PB capacitance: std ratio and timing."""
    a = np.array([[1.0, -2.0], [0.5, 3.0]])
    mean, cov = np.array([1.0, 2.0]), np.array([[0.04, 0.01], [0.01, 0.09]])
    _, s_lin = delta_method(lambda t: a @ t, mean, cov)
    mc_lin = monte_carlo(lambda t: t @ a.T, mean, cov, n_samples=200_000, seed=seed, vectorized=True)
    post = _fit_stern(np.random.default_rng(seed))
    t0 = time.perf_counter()
    _, s_c = delta_method(capacitance_of_theta, post.mean, post.cov, method="finite-difference")
    t_delta = time.perf_counter() - t0
    t0 = time.perf_counter()
    mc_c = monte_carlo(capacitance_of_theta, post.mean, post.cov, n_samples=2000, seed=seed)
    t_mc = (time.perf_counter() - t0) * 10_000 / 2000  # scaled to 10 000 draws
    return {
        "linear_std_ratio_max_dev": float(np.max(np.abs(s_lin / mc_lin.std - 1))),
        "capacitance_std_ratio": float(s_c / mc_c.std),
        "capacitance_rel_std": float(s_c / capacitance_of_theta(post.mean)),
        "delta_method_speedup_vs_mc10k": float(t_mc / t_delta),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--quick", action="store_true", help="a quarter of the repeats")
    args = parser.parse_args(argv)
    out = {"benchmark": "uq_coverage", "nominal": LEVEL, "target_coverage": list(TARGET), "quantities": {}}
    all_ok = True
    for name, (exp, truth, reps) in _quantities().items():
        t0 = time.perf_counter()
        res = coverage_experiment(exp, truth, n_repeats=reps // 4 if args.quick else reps, seed=2026, level=LEVEL)
        ok = res.within(*TARGET)
        all_ok &= ok
        out["quantities"][name] = dict(res.to_dict(), truth=float(truth), pass_=ok,
                                       seconds=round(time.perf_counter() - t0, 2))
        if not args.json:
            print(f"{name:58s} coverage {res.fraction:.3f} ± {res.standard_error:.3f}  {'PASS' if ok else 'FAIL'}",
                  file=sys.stderr)
    res = coverage_experiment(ensemble, 1.0 + 2.0 * X_ENS_STAR, n_repeats=250 if args.quick else 1000, seed=2026)
    out["informational"] = {"ensemble spread (10 bootstrap members)": dict(
        res.to_dict(), note="bootstrap spread underestimates the sampling variance by ~(n-p)/n; not a target")}
    dm = delta_vs_mc()
    dm["pass_linear_equal"] = dm["linear_std_ratio_max_dev"] < 0.01
    dm["pass_nonlinear_within_5pct"] = abs(dm["capacitance_std_ratio"] - 1) < 0.05
    out["delta_vs_monte_carlo"] = dm
    out["pass"] = bool(all_ok and dm["pass_linear_equal"] and dm["pass_nonlinear_within_5pct"])
    for v in out["quantities"].values():
        v["pass"] = v.pop("pass_")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
