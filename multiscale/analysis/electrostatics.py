"""Charge density ρ(z) from per-atom charges, and the electrostatic potential φ(z) from it.

Per-atom charges q_i [e] (from the ML potential's charge head, stored by the trajectory writer
as ``calc.results["charges"]``, or fixed charges per element) are histogrammed along the
interface normal and averaged over frames:

    ρ(z_k) = e ⟨Σ_i q_i 1[z_i ∈ bin k]⟩_frames / (A Δz)     [C/m³],  A = |a × b| the cell area.

φ(z) solves the 1-D Poisson equation d²φ/dz² = −ρ/(ε₀ ε_r) through
:func:`multiscale.continuum.poisson.solve_poisson`; with explicit atoms ε_r = 1. The boundary
condition is stated in the results (``meta["boundary"]``): by default φ(z₀) = 0 and a
field-free far end, E(z_end) = 0 (the cell, electrode charge included, is neutral, so the
field vanishes beyond the last layer). The potential drop across the interface is
Δφ = φ(z_end) − φ(z₀). Sign convention: E = −dφ/dz, positive along +z.
Reference: Spohr, Electrochim. Acta 49, 23 (2003) for the method applied to metal/water.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError, check_range
from ..units import angstrom_m, elementary_charge_C
from .base import AnalysisBase, Results


class ChargeDensity(AnalysisBase):
    """Streamed ρ(z) and φ(z) along ``axis``.

    Parameters
    ----------
    bin_edges : edges along ``axis`` in Å (required: the profile must cover the same range in
        every frame).
    fixed_charges : per-element charges in e (``{"Na": 1, "Cl": -1}``) or an (n_atoms,) array;
        default: charges stored in the trajectory (``calc.results["charges"]``).
    boundary, left_value, right_value, relative_permittivity : passed to ``solve_poisson``.
    """

    def __init__(self, bin_edges, *, axis: int = 2, fixed_charges=None, boundary: str = "field",
                 left_value: float = 0.0, right_value: float = 0.0, relative_permittivity: float = 1.0,
                 chunk_size: int = 256, progress: bool = False):
        super().__init__(chunk_size=chunk_size, progress=progress)
        edges = np.asarray(bin_edges, dtype=float)
        if edges.ndim != 1 or edges.size < 3 or not np.all(np.diff(edges) > 0) or not np.all(np.isfinite(edges)):
            raise InputError("bin_edges must be a finite, strictly increasing 1-D array with >= 3 entries (Å)")
        if axis not in (0, 1, 2):
            raise InputError(f"axis = {axis!r} is out of range: must be 0, 1 or 2")
        self.edges, self.axis, self.fixed_charges = edges, axis, fixed_charges
        self.boundary, self.left_value, self.right_value = boundary, float(left_value), float(right_value)
        self.relative_permittivity = check_range("relative_permittivity", relative_permittivity, low=0.0,
                                                 low_inclusive=False)

    def _charges(self, chunk) -> np.ndarray:
        q = self.fixed_charges
        if q is None:
            if chunk.charges is None:
                raise InputError("the trajectory carries no per-atom charges: give fixed_charges "
                                 "(a dict element -> e or an (n_atoms,) array)")
            return chunk.charges
        if isinstance(q, dict):
            if chunk.symbols is None:
                raise InputError("fixed_charges by element needs symbols in the trajectory")
            missing = sorted(set(chunk.symbols.tolist()) - set(q))
            if missing:
                raise InputError(f"fixed_charges has no charge for element(s) {missing}")
            return np.broadcast_to(np.array([q[s] for s in chunk.symbols], dtype=float), chunk.positions.shape[:2])
        arr = np.asarray(q, dtype=float)
        if arr.shape != (chunk.n_atoms,):
            raise InputError(f"fixed_charges has shape {arr.shape}: expected ({chunk.n_atoms},)")
        return np.broadcast_to(arr, chunk.positions.shape[:2])

    def _prepare(self, first) -> None:
        self.hist_ = np.zeros(self.edges.size - 1)
        self.area_sum_ = 0.0
        self.outside_ = 0

    def _single_frame(self, chunk) -> None:
        cells = chunk.require_cell("the charge density (it needs the cross-section area)")
        q = self._charges(chunk)
        z = chunk.positions[..., self.axis]
        h, _ = np.histogram(z.ravel(), bins=self.edges, weights=np.asarray(q).ravel())
        self.hist_ += h
        self.outside_ += int(np.sum((z < self.edges[0]) | (z > self.edges[-1])))
        others = [i for i in range(3) if i != self.axis]
        self.area_sum_ += float(np.sum(np.linalg.norm(np.cross(cells[:, others[0]], cells[:, others[1]]), axis=1)))

    def _conclude(self) -> Results:
        area_m2 = self.area_sum_ / self.n_frames_ * angstrom_m**2
        dz_m = np.diff(self.edges) * angstrom_m
        rho = self.hist_ / self.n_frames_ * elementary_charge_C / (area_m2 * dz_m)
        z_m = 0.5 * (self.edges[1:] + self.edges[:-1]) * angstrom_m
        return potential_from_density(z_m, rho, boundary=self.boundary, left_value=self.left_value,
                                      right_value=self.right_value, relative_permittivity=self.relative_permittivity,
                                      meta={"n_frames": self.n_frames_, "atoms_outside_bins": self.outside_})


def potential_from_density(z_m, charge_density_C_m3, *, boundary: str = "field", left_value: float = 0.0,
                           right_value: float = 0.0, relative_permittivity: float = 1.0, meta=None) -> Results:
    """φ(z) [V] and E(z) [V/m] from ρ(z) [C/m³] by d²φ/dz² = −ρ/(ε₀ε_r) (``solve_poisson``).

    ``boundary``: "dirichlet" (φ(z₀) = left_value, φ(z_end) = right_value [V]), "field"/"neumann"
    (φ(z₀) = left_value [V], E(z_end) = right_value [V/m]) or "periodic" (zero net charge).
    Returns Results with "z", "charge density", "potential", "field" and
    ``meta["potential_drop_V"]`` = φ(z_end) − φ(z₀).
    """
    from ..continuum.poisson import solve_poisson

    r = solve_poisson(np.asarray(z_m, dtype=float), np.asarray(charge_density_C_m3, dtype=float),
                      relative_permittivity=relative_permittivity, boundary=boundary, left_value=left_value,
                      right_value=right_value)
    res = Results(title="Charge density and potential")
    res.add("z", r.x_m, "m")
    res.add("charge density", r.charge_density_C_m3, "C.m-3", axis="z")
    res.add("potential", r.potential_V, "V", axis="z")
    res.add("field", r.field_V_m, "V.m-1", axis="z")
    res.meta.update(meta or {})
    res.meta.update(boundary=f"{r.boundary}: left_value={left_value:g}, right_value={right_value:g} "
                             f"(dirichlet: V, V; field: V at z0, V/m at z_end)",
                    relative_permittivity=relative_permittivity,
                    potential_drop_V=float(r.potential_V[-1] - r.potential_V[0]),
                    net_charge_C_m2=float(np.trapezoid(r.charge_density_C_m3, r.x_m)))
    return res
