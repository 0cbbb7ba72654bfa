"""1D Poisson: analytic profiles, exactness for piecewise-linear ρ, boundary conditions, errors."""
import numpy as np
import pytest

from multiscale.continuum import gouy_chapman_potential_V, solve_poisson
from multiscale.errors import InputError
from multiscale.units import (avogadro_per_mol, boltzmann_J_K, elementary_charge_C,
                              vacuum_permittivity_F_m)

EPS_R = 78.5


def _gc_case(n):
    lam = 0.9619830e-9
    x = 10 * lam * np.linspace(0.0, 1.0, n) ** 2          # graded, non-uniform grid
    phi = gouy_chapman_potential_V(x, 0.1, 100.0, relative_permittivity=EPS_R)
    u = elementary_charge_C * phi / (boltzmann_J_K * 298.15)
    rho = -2.0 * elementary_charge_C * 100.0 * avogadro_per_mol * np.sinh(u)
    return x, phi, rho


@pytest.mark.parametrize("boundary", ["dirichlet", "neumann"])
def test_gouy_chapman_charge_gives_gouy_chapman_potential(boundary):
    errs = []
    for n in (200, 400):
        x, phi, rho = _gc_case(n)
        right = phi[-1] if boundary == "dirichlet" else -np.gradient(phi, x)[-1]
        r = solve_poisson(x, rho, relative_permittivity=EPS_R, boundary=boundary, left_value=phi[0],
                          right_value=right)
        errs.append(np.max(np.abs(r.potential_V - phi)) / 0.1)
    assert errs[1] < 1e-4
    assert errs[0] / errs[1] > 3.5                          # second order on a non-uniform grid


def test_exact_for_piecewise_linear_charge(rng):
    x = np.sort(rng.uniform(0, 1e-8, 50))
    a, b = 3e6, -2e15                                        # ρ = a + b x  → φ cubic
    rho = a + b * x
    eps = 2.0 * vacuum_permittivity_F_m
    x0 = x[0]
    exact = -(a * (x - x0) ** 2 / 2 + b * (x ** 3 - x0 ** 3) / 6 - b * x0 ** 2 * (x - x0) / 2) / eps
    exact += 0.3                                             # φ(x₀) = 0.3 V, E(x₀) = 0
    r = solve_poisson(x, rho, relative_permittivity=2.0, left_value=0.3, right_value=exact[-1])
    np.testing.assert_allclose(r.potential_V, exact, rtol=0, atol=1e-12 * np.abs(exact).max())
    # Gauss: field jump equals the enclosed charge / ε
    q = np.trapezoid(rho, x)
    assert r.field_V_m[-1] - r.field_V_m[0] == pytest.approx(q / eps, rel=1e-12)


def test_field_boundary_sets_end_field():
    x = np.linspace(0, 5e-9, 101)
    rho = np.full_like(x, 1e6)
    r = solve_poisson(x, rho, boundary="field", left_value=0.1, right_value=2e7, relative_permittivity=10)
    assert r.potential_V[0] == 0.1
    assert r.field_V_m[-1] == pytest.approx(2e7, rel=1e-12)
    np.testing.assert_allclose(-np.gradient(r.potential_V, x)[1:-1], r.field_V_m[1:-1], rtol=1e-6)


def test_periodic_cosine_and_zero_mean():
    period = 10e-9
    x = np.arange(200) * period / 200
    rho = np.cos(2 * np.pi * x / period)
    r = solve_poisson(x, rho, boundary="periodic")
    exact = rho / (vacuum_permittivity_F_m * (2 * np.pi / period) ** 2)
    assert np.max(np.abs(r.potential_V - exact)) < 1e-4 * np.abs(exact).max()
    assert abs(np.mean(r.potential_V)) < 1e-10 * np.abs(exact).max()


def test_periodic_rejects_net_charge():
    x = np.arange(100) * 1e-10
    with pytest.raises(InputError, match="net charge"):
        solve_poisson(x, np.ones(100), boundary="periodic")


def test_bad_input_names_argument():
    with pytest.raises(InputError, match="x_m"):
        solve_poisson([0.0, 2.0, 1.0], [0, 0, 0])
    with pytest.raises(InputError, match="boundary"):
        solve_poisson([0.0, 1.0], [0, 0], boundary="robin")
    with pytest.raises(InputError, match="period_m"):
        solve_poisson([0.0, 1.0, 2.0], [0, 0, 0], boundary="field", period_m=3.0)
    with pytest.raises(InputError, match="charge_density_C_m3"):
        solve_poisson([0.0, 1.0], [0.0, np.nan])


def test_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    x = np.linspace(0, 1e-9, 11)
    ax = solve_poisson(x, np.zeros(11), left_value=1.0).plot()
    ax.figure.savefig(tmp_path / "p.png")
