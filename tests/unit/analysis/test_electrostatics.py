"""ρ(z) → φ(z): Gouy–Chapman round trip, capacitor drop, streamed point charges."""
import numpy as np
import pytest

from multiscale.analysis import ChargeDensity, potential_from_density
from multiscale.errors import InputError
from multiscale.units import (avogadro_per_mol, boltzmann_J_K, elementary_charge_C, thermal_voltage_V,
                              vacuum_permittivity_F_m)

T, EPS_R, C0 = 298.15, 78.5, 100.0      # K, -, mol/m³ (0.1 M)


def _gc(x_m, phi0_V):
    n0 = C0 * avogadro_per_mol
    lam = np.sqrt(EPS_R * vacuum_permittivity_F_m * boltzmann_J_K * T / (2 * elementary_charge_C**2 * n0))
    vt = thermal_voltage_V(T)
    phi = 4 * vt * np.arctanh(np.tanh(phi0_V / (4 * vt)) * np.exp(-x_m / lam))
    rho = -2 * elementary_charge_C * n0 * np.sinh(phi / vt)
    return phi, rho, lam


def test_gouy_chapman_density_gives_gouy_chapman_potential():
    x = np.linspace(0, 12e-9, 2401)
    phi, rho, lam = _gc(x, 0.1)
    assert lam == pytest.approx(0.962e-9, rel=2e-3)
    res = potential_from_density(x, rho, boundary="field", left_value=0.1, right_value=0.0, relative_permittivity=EPS_R)
    assert np.allclose(res["potential"], phi, atol=2e-4)
    assert res.meta["potential_drop_V"] == pytest.approx(-0.1, abs=2e-4)
    assert "field" in res.meta["boundary"] or "neumann" in res.meta["boundary"]


def test_sampled_point_charges_give_gouy_chapman(rng):
    # ions drawn from the GC densities n± = n0 exp(∓φ/kT) in a 12 nm column: a synthetic trajectory
    area_A2, length_A, n_frames = 100.0 * 100.0, 120.0, 200
    x_fine = np.linspace(0, length_A * 1e-10, 4001)
    phi, _, _ = _gc(x_fine, 0.1)
    vt = thermal_voltage_V(T)
    n0_A3 = C0 * avogadro_per_mol * 1e-30
    frames, charges = [], []
    for dens, q in ((np.exp(-phi / vt), 1.0), (np.exp(phi / vt), -1.0)):
        cdf = np.cumsum(dens)
        cdf /= cdf[-1]
        mean_n = n0_A3 * area_A2 * length_A * np.trapezoid(dens, x_fine) / x_fine[-1]
        n = int(round(mean_n))
        z = np.interp(rng.random((n_frames, n)), cdf, x_fine * 1e10)
        frames.append(z)
        charges.append(np.full(n, q))
    z = np.concatenate(frames, axis=1)
    pos = np.zeros(z.shape + (3,))
    pos[..., 2] = z
    q = np.concatenate(charges)
    edges = np.linspace(0, length_A, 241)
    exact, _, _ = _gc(0.5 * (edges[1:] + edges[:-1]) * 1e-10, 0.1)
    # the grid is the bin centres: φ is pinned to the exact value at the first centre (0.25 Å)
    cd = ChargeDensity(edges, fixed_charges=q, boundary="field", left_value=exact[0],
                       relative_permittivity=EPS_R, chunk_size=64)
    res = cd.run(pos, cell=[100.0, 100.0, length_A]).results
    # ρ(z): the sampled histogram matches the bin-averaged GC density (charge per bin, in e)
    _, rho_fine, _ = _gc(x_fine, 0.1)
    cum = np.concatenate([[0], np.cumsum(0.5 * (rho_fine[1:] + rho_fine[:-1]) * np.diff(x_fine))])
    rho_bins = np.diff(np.interp(edges * 1e-10, x_fine, cum)) / (np.diff(edges) * 1e-10)
    assert np.trapezoid(res["charge density"], res["z"]) == pytest.approx(np.trapezoid(rho_bins, res["z"]), rel=0.03)
    assert np.max(np.abs(res["charge density"] - rho_bins)) < 0.15 * np.abs(rho_bins).max()
    # φ(z): the same solver on the exact bin-averaged density; and GC itself within 10 mV
    ref = potential_from_density(res["z"], rho_bins, boundary="field", left_value=exact[0], relative_permittivity=EPS_R)
    assert np.max(np.abs(res["potential"] - ref["potential"])) < 0.012   # finite-sample net charge
    assert np.max(np.abs(res["potential"] - exact)) < 0.012


def test_capacitor_drop_sign():
    # +σ sheet at 2 Å, −σ sheet at 8 Å: φ drops by σd/ε0 from left to right of the +σ side
    pos = np.zeros((1, 2, 3))
    pos[0, :, 2] = [2.05, 8.05]
    res = ChargeDensity(np.linspace(0, 10, 101), fixed_charges=np.array([1.0, -1.0])).run(pos, cell=[10.0, 10.0, 10.0]).results
    sigma = elementary_charge_C / 100e-20
    assert res.meta["potential_drop_V"] == pytest.approx(-sigma * 6e-10 / vacuum_permittivity_F_m, rel=1e-6)


def test_missing_charges_and_bad_edges():
    with pytest.raises(InputError, match="no per-atom charges"):
        ChargeDensity(np.linspace(0, 5, 6)).run(np.ones((2, 2, 3)), cell=[5.0] * 3)
    with pytest.raises(InputError, match="bin_edges"):
        ChargeDensity([0.0, 1.0])
    with pytest.raises(InputError, match="cell"):
        ChargeDensity(np.linspace(0, 5, 6), fixed_charges=np.ones(2)).run(np.ones((2, 2, 3)))
