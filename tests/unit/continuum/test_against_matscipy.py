"""Comparison with an established code on the same input: matscipy.electrochemistry
(analytic Poisson–Boltzmann distribution; its PNP solver in a slow test)."""
import numpy as np
import pytest

from multiscale.continuum import NernstPlanck1D, PoissonBoltzmann, Species, debye_length_m, grahame_charge_C_m2
from multiscale.units import faraday_C_mol, vacuum_permittivity_F_m

pbd = pytest.importorskip("matscipy.electrochemistry.poisson_boltzmann_distribution")


def test_numerical_pb_profile_matches_matscipy_gouy_chapman():
    c = np.array([100.0, 100.0])
    z = np.array([1, -1])
    pb = PoissonBoltzmann(100.0, relative_permittivity=79.0)
    for u in (0.05, 0.15):
        r = pb.solve(u)
        near = r.x_m < 5 * debye_length_m(100.0, relative_permittivity=79.0)
        ref = pbd.potential(r.x_m[near], c, z, u, T=298.15, relative_permittivity=79.0)
        np.testing.assert_allclose(r.potential_V[near], ref, rtol=0, atol=1e-6 * u)
        cref = pbd.concentration(r.x_m[near], c, z, u, T=298.15, relative_permittivity=79.0)
        np.testing.assert_allclose(r.concentration_mol_m3[:, near], cref, rtol=1e-5)


@pytest.mark.slow
def test_pnp_cell_against_matscipy_solver():
    """Blocking cell, ±0.05 V, 0.1 M, 20 λ_D: both PNP solvers against Grahame at the mid-plane state;
    ours (graded mesh, 401 points) must be at least as accurate as matscipy (uniform, 101 points)."""
    import warnings

    from matscipy.electrochemistry.poisson_nernst_planck_solver import PoissonNernstPlanckSystem

    c0, v = 100.0, 0.05
    lam = debye_length_m(c0)
    length = 20 * lam
    eps = 78.5 * vacuum_permittivity_F_m
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pnp = PoissonNernstPlanckSystem(c=np.array([c0, c0]), z=np.array([1, -1]), L=length, delta_u=2 * v,
                                        relative_permittivity=78.5, N=100, T=298.15, e=1e-8)
        pnp.use_standard_cell_bc()
        pnp.solve()
    x, phi = pnp.grid, pnp.potential
    sigma_ms = -eps * (-3 * phi[0] + 4 * phi[1] - phi[2]) / (x[2] - x[0])
    s = np.linspace(0, 1, 401)
    xs = length * (s - 0.97 * np.sin(2 * np.pi * s) / (2 * np.pi))
    model = NernstPlanck1D(xs, [Species("+", 1, 1e-9), Species("-", -1, 1e-9)], relative_permittivity=78.5,
                           boundary_potential_V=(v, -v))
    ss = model.steady_state({"+": c0, "-": c0})
    half = xs <= length / 2
    sigma_ours = -faraday_C_mol * (ss["+"] - ss["-"])[half] @ model._vol[half]
    exact = grahame_charge_C_m2(v, ss["+"][200])
    assert abs(sigma_ours / exact - 1) < 1e-3
    assert abs(sigma_ours / exact - 1) <= abs(sigma_ms / exact - 1)
