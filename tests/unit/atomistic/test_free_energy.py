"""TI and MBAR on harmonic oscillators, whose free energies are analytic: f = −½ ln(2π/(βK))."""
import numpy as np
import pytest

import multiscale.atomistic.free_energy as fe
from multiscale.atomistic.free_energy import mbar, quadrature_weights, thermodynamic_integration
from multiscale.errors import ConvergenceError, InputError

BETA = 1.0 / 0.025  # 1/eV at kT = 25 meV


def f_harmonic(k, beta=BETA):
    """Dimensionless free energy of a 1-D harmonic oscillator U = ½Kx²."""
    return -0.5 * np.log(2 * np.pi / (beta * k))


def _ar1(rng, n, rho):
    """Unit-variance AR(1) series: statistical inefficiency g = (1 + ρ)/(1 − ρ)."""
    e = rng.normal(size=n)
    x = np.empty(n)
    x[0] = e[0]
    for t in range(1, n):
        x[t] = rho * x[t - 1] + np.sqrt(1 - rho**2) * e[t]
    return x


def test_quadrature_weights_exact_on_polynomials():
    lam = np.linspace(0, 1, 7)
    assert quadrature_weights(lam, "trapezoid") @ (2 * lam + 1) == pytest.approx(2.0)
    assert quadrature_weights(lam, "simpson") @ (4 * lam**3) == pytest.approx(1.0)
    assert quadrature_weights(np.array([0.0, 0.3, 1.0]), "trapezoid").sum() == pytest.approx(1.0)


def test_ti_harmonic_spring_change(rng):
    k0, k1 = 2.0, 8.0  # eV/Å²; U(λ) = ½[(1−λ)K0 + λK1]x², ∂U/∂λ = ½(K1 − K0)x²
    lam = np.linspace(0, 1, 21)
    samples = [0.5 * (k1 - k0) * rng.normal(0, 1 / np.sqrt(BETA * ((1 - l) * k0 + l * k1)), 4000) ** 2 for l in lam]
    exact = np.log(k1 / k0) / (2 * BETA)  # eV
    dF, err = thermodynamic_integration(lam, samples, method="simpson")
    assert err > 0
    assert abs(dF - exact) < 4 * err
    dF_t, err_t = thermodynamic_integration(lam, np.array(samples), method="trapezoid", correlated=False)
    assert abs(dF_t - exact) < 4 * err_t + 2e-4  # trapezoid adds a small quadrature bias


def test_ti_error_accounts_for_correlation(rng):
    rho = 0.9  # g = 19
    lam = np.array([0.0, 0.5, 1.0])
    samples = [1.0 + 0.1 * _ar1(rng, 20_000, rho) for _ in lam]
    _, err_iid = thermodynamic_integration(lam, samples, correlated=False)
    _, err = thermodynamic_integration(lam, samples, correlated=True)
    assert err / err_iid == pytest.approx(np.sqrt(19.0), rel=0.25)


def test_ti_bad_input():
    with pytest.raises(InputError, match="strictly increasing"):
        thermodynamic_integration([0.0, 0.5, 0.5], [[1, 2], [1, 2], [1, 2]])
    with pytest.raises(InputError, match="windows"):
        thermodynamic_integration([0.0, 1.0], [[1.0, 2.0]])
    with pytest.raises(InputError, match="method"):
        thermodynamic_integration([0.0, 1.0], [[1.0, 2.0], [1.0, 2.0]], method="gauss")
    with pytest.raises(InputError, match="non-finite"):
        thermodynamic_integration([0.0, 1.0], [[1.0, np.nan], [1.0, 2.0]])
    with pytest.raises(InputError, match="need >= 2"):
        thermodynamic_integration([0.0, 1.0], [[1.0], [1.0, 2.0]])


def _harmonic_u_kn(rng, ks, n):
    x = np.concatenate([rng.normal(0, 1 / np.sqrt(BETA * k), n) for k in ks])
    return BETA * 0.5 * np.asarray(ks)[:, None] * x[None, :] ** 2


def test_mbar_harmonic_oscillators_match_analytic(rng):
    ks = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    r = mbar(_harmonic_u_kn(rng, ks, 1000), [1000] * 5)
    exact = f_harmonic(ks) - f_harmonic(ks[0])
    np.testing.assert_allclose(r.delta_f[0], r.f_k)
    z = (r.f_k[1:] - exact[1:]) / r.delta_f_error[0, 1:]
    assert np.all(np.abs(z) < 4), z
    assert r.residual < 1e-6 and 0 < r.overlap <= 1
    d, e = r.between(1, 3)
    assert d == pytest.approx(exact[3] - exact[1], abs=4 * e)
    import matplotlib

    matplotlib.use("Agg")
    assert r.plot().get_ylabel() == "f_k − f_0 [kT]"


def test_mbar_with_unsampled_state(rng):
    ks = np.array([1.0, 2.0, 1.5])  # state 2 is only evaluated, never sampled
    u = _harmonic_u_kn(rng, ks[:2], 2000)
    u = np.vstack([u, BETA * 0.5 * ks[2] * (u[0] / (BETA * 0.5 * ks[0]))])
    r = mbar(u, [2000, 2000, 0])
    assert abs(r.f_k[2] - (f_harmonic(1.5) - f_harmonic(1.0))) < 4 * r.delta_f_error[0, 2]


def test_mbar_raises_when_solution_is_not_self_consistent(rng, monkeypatch):
    """pymbar issue #544: a solver that stops early and says nothing. Simulate it."""
    import pymbar

    class QuietlyUnconverged(pymbar.MBAR):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.f_k = self.f_k + np.array([0.0, 0.05, -0.05])

    monkeypatch.setattr(pymbar, "MBAR", QuietlyUnconverged)
    with pytest.raises(ConvergenceError, match="did not converge"):
        mbar(_harmonic_u_kn(rng, [1.0, 2.0, 4.0], 300), [300] * 3)


def test_mbar_residual_zero_at_solution_and_bad_input(rng):
    u = _harmonic_u_kn(rng, [1.0, 3.0], 400)
    r = mbar(u, [400, 400])
    assert fe.mbar_residual(u, np.array([400, 400]), r.f_k) < 1e-8
    assert fe.mbar_residual(u, np.array([400, 400]), r.f_k + np.array([0.0, 0.1])) > 1e-3
    with pytest.raises(InputError, match="sum\\(n_k\\)"):
        mbar(u, [400, 300])
    with pytest.raises(InputError, match="non-negative integers"):
        mbar(u, [400.5, 399.5])
    with pytest.raises(InputError, match="2-D"):
        mbar(u[0], [800])
    with pytest.raises(InputError, match="non-finite"):
        mbar(np.where(u > 1e9, 0, np.nan), [400, 400])
