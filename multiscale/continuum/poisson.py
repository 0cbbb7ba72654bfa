"""One-dimensional Poisson equation: charge density ρ(x) → potential φ(x) and field E(x).

Solves

    d²φ/dx² = −ρ(x) / (ε₀ ε_r),        E = −dφ/dx,        dE/dx = ρ / (ε₀ ε_r)   (Gauss)

on any strictly increasing grid. ρ is taken piecewise linear between the grid points and the
two integrations are done exactly on each interval, so the result is exact for piecewise-linear
charge densities and second-order accurate otherwise (no matrix, O(n)):

    E_{i+1} = E_i + h (ρ_i + ρ_{i+1}) / (2ε)
    φ_{i+1} = φ_i − h E_i − h² (2ρ_i + ρ_{i+1}) / (6ε)

The free constant E(x₀) is fixed by the boundary condition:

* ``"dirichlet"``: φ(x₀) = ``left_value``, φ(x_end) = ``right_value`` [V];
* ``"neumann"`` / ``"field"``: φ(x₀) = ``left_value`` [V] and E(x_end) = −dφ/dx = ``right_value``
  [V/m];
* ``"periodic"``: the grid samples one period (without the duplicated end point); the net
  charge per period must vanish (otherwise no periodic solution exists and
  :class:`~multiscale.errors.InputError` is raised), φ is periodic and its period average is
  set to zero. Used by the trajectory analysis for ρ(z) of a periodic slab.

Reference: J. D. Jackson, *Classical Electrodynamics*, 3rd ed. (1999), §1.7; for slab
electrostatics from MD, e.g. Sprik & Cheng, *J. Chem. Phys.* 141, 044107 (2014).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, check_finite_array, check_range
from ..units import vacuum_permittivity_F_m

BOUNDARIES = ("dirichlet", "neumann", "field", "periodic")
#: relative tolerance on the net charge per period for periodic boundaries
PERIODIC_NET_CHARGE_RTOL = 1e-8


def check_grid(name: str, x) -> np.ndarray:
    """Return ``x`` as a float array of ≥ 2 finite, strictly increasing points or raise."""
    x = check_finite_array(name, x)
    if x.ndim != 1 or x.size < 2:
        raise InputError(f"{name} must be a 1D array of at least 2 points, got shape {x.shape}")
    dx = np.diff(x)
    if np.any(dx <= 0):
        i = int(np.flatnonzero(dx <= 0)[0])
        raise InputError(f"{name} must be strictly increasing (monotonic grid); "
                         f"{name}[{i}] = {x[i]!r} >= {name}[{i + 1}] = {x[i + 1]!r}")
    return x


@dataclass
class PoissonResult:
    """Solution of the 1D Poisson equation on the grid ``x_m``.

    Attributes: ``x_m`` [m], ``potential_V`` [V], ``field_V_m`` (E = −dφ/dx) [V/m],
    ``charge_density_C_m3`` [C/m³], ``boundary`` (the boundary condition used).
    """

    x_m: np.ndarray
    potential_V: np.ndarray
    field_V_m: np.ndarray
    charge_density_C_m3: np.ndarray
    boundary: str

    def plot(self, ax=None):
        """Plot ρ(x) and φ(x) (two y axes); returns the matplotlib axes of φ."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        x_nm = self.x_m * 1e9
        ax.plot(x_nm, self.potential_V, color="C0", label="φ")
        ax.set_xlabel("x [nm]")
        ax.set_ylabel("Potential φ [V]", color="C0")
        ax2 = ax.twinx()
        ax2.plot(x_nm, self.charge_density_C_m3, color="C1", lw=0.8, label="ρ")
        ax2.set_ylabel("Charge density ρ [C/m³]", color="C1")
        ax.set_title(f"Poisson ({self.boundary})")
        return ax


def _integrate(h, rho_left, rho_right, eps, e0, phi0):
    """Exact double integration of a piecewise-linear ρ from (φ₀, E₀); returns φ, E."""
    de = h * (rho_left + rho_right) / (2.0 * eps)
    e = np.concatenate(([e0], e0 + np.cumsum(de)))
    dphi = -h * e[:-1] - h * h * (2.0 * rho_left + rho_right) / (6.0 * eps)
    phi = np.concatenate(([phi0], phi0 + np.cumsum(dphi)))
    return phi, e


def solve_poisson(x_m, charge_density_C_m3, *, relative_permittivity=1.0, boundary="dirichlet",
                  left_value=0.0, right_value=0.0, period_m=None) -> PoissonResult:
    """Solve d²φ/dx² = −ρ/(ε₀ε_r) on the grid ``x_m`` (see the module docstring).

    Parameters
    ----------
    x_m : strictly increasing grid [m] (any spacing).
    charge_density_C_m3 : ρ on the grid [C/m³].
    relative_permittivity : ε_r (> 0), uniform.
    boundary : ``"dirichlet"``, ``"neumann"`` (alias ``"field"``) or ``"periodic"``.
    left_value, right_value : Dirichlet: φ(x₀), φ(x_end) [V]. Neumann: φ(x₀) [V] and the field
        E(x_end) = −dφ/dx [V/m]. Ignored for periodic.
    period_m : periodic only: the period. Default for a uniform grid of n points with spacing h:
        n·h (the grid holds one period without the repeated end point). Required for a
        non-uniform periodic grid; giving it with a non-periodic boundary is an error.

    Returns
    -------
    PoissonResult with φ [V], E [V/m] on the grid.
    """
    x = check_grid("x_m", x_m)
    rho = check_finite_array("charge_density_C_m3", charge_density_C_m3)
    if rho.shape != x.shape:
        raise InputError(f"charge_density_C_m3 has shape {rho.shape}, must match x_m {x.shape}")
    eps_r = check_range("relative_permittivity", relative_permittivity, low=0.0, low_inclusive=False)
    if boundary not in BOUNDARIES:
        raise InputError(f"boundary = {boundary!r} is not one of {', '.join(BOUNDARIES)}")
    eps = eps_r * vacuum_permittivity_F_m
    left = check_range("left_value", left_value)
    right = check_range("right_value", right_value)

    if boundary != "periodic":
        if period_m is not None:
            raise InputError(f"period_m = {period_m!r} was given with boundary = {boundary!r}: a field or "
                             "Dirichlet boundary cannot be used on a periodic grid; use boundary='periodic'")
        h = np.diff(x)
        phi, e = _integrate(h, rho[:-1], rho[1:], eps, 0.0, left)
        length = x[-1] - x[0]
        if boundary == "dirichlet":
            # φ_end is linear in E₀ with slope −L.
            e0 = (phi[-1] - right) / length
        else:
            # E_end = E₀ + Q/ε.
            e0 = right - e[-1]
        return PoissonResult(x, phi - e0 * (x - x[0]), e + e0, rho, boundary)

    h = np.diff(x)
    if period_m is None:
        if x.size > 2 and not np.allclose(h, h[0], rtol=1e-9, atol=0.0):
            raise InputError("period_m is required with boundary='periodic' on a non-uniform grid x_m")
        period = x[-1] - x[0] + h[0]
    else:
        period = check_range("period_m", period_m, low=x[-1] - x[0], low_inclusive=False)
    h_full = np.append(h, period - (x[-1] - x[0]))
    rho_right = np.append(rho[1:], rho[0])
    net = float(np.sum(h_full * (rho + rho_right) / 2.0))
    scale = float(np.sum(h_full * (np.abs(rho) + np.abs(rho_right)) / 2.0))
    if abs(net) > PERIODIC_NET_CHARGE_RTOL * max(scale, np.finfo(float).tiny):
        raise InputError(f"charge_density_C_m3 has net charge {net:.6g} C/m² per period (of {scale:.6g} C/m² "
                         "absolute): a periodic boundary requires zero net charge")
    # Remove the round-off residue of the net charge so that E is exactly periodic.
    rho = rho - net / period
    rho_right = np.append(rho[1:], rho[0])
    phi, e = _integrate(h_full, rho, rho_right, eps, 0.0, 0.0)
    e0 = phi[-1] / period                      # so that φ(x₀ + period) = φ(x₀)
    xs = np.append(x, x[0] + period)
    phi = phi - e0 * (xs - x[0])
    e = e + e0
    mean = float(np.sum(h_full * (phi[:-1] + phi[1:]) / 2.0)) / period
    return PoissonResult(x, phi[:-1] - mean, e[:-1], rho + net / period, "periodic")
