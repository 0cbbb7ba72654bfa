"""Insertion voltage: average voltage, the hull voltage profile V(x), and its PyBaMM OCP.

Average voltage between two lithiation states (Aydinol, Kohan, Ceder, Cho, Joannopoulos,
Phys. Rev. B 56, 1354 (1997)), for Li_{x1}H → Li_{x2}H with Δx = x2 − x1 > 0:

    V̄ = −[E(Li_{x2}H) − E(Li_{x1}H) − Δx μ_Li^metal] / (z e Δx)       [V vs Li/Li⁺]

The profile along Li_xH follows the convex hull: the hull energy per host formula unit
G(x) = max_f μ_f·(n_H + x e_Li) is convex and piecewise linear in x, so V(x) = (μ_Li^metal −
dG/dx)/(z e) is a decreasing staircase; each plateau is a two-phase (or multi-phase) region
whose Li chemical potential is that of the hull facet it crosses (Ceder et al., Nature 392,
694 (1998); pymatgen's ``InsertionElectrode``). Energies in eV, voltages in V.
"""
from __future__ import annotations

import math
from fractions import Fraction
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..units import faraday_C_mol
from .composition import formula_string, parse_formula
from .entries import Entry, as_entry

#: plateaus whose Li chemical potentials differ by less than this [eV] are one plateau
PLATEAU_TOL_EV = 1e-9


def _proportional_scale(comp: dict, host: dict, element: str) -> float | None:
    """s with comp_el = s·host_el for every element other than ``element``, else None."""
    other_h = {el: n for el, n in host.items() if el != element}
    other_c = {el: n for el, n in comp.items() if el != element}
    if set(other_h) != set(other_c) or not other_h:
        return None
    el0 = next(iter(other_h))
    s = other_c[el0] / other_h[el0]
    if all(abs(other_c[el] - s * n) <= 1e-9 * max(1.0, n) for el, n in other_h.items()):
        return s
    return None


def average_voltage(lithiated: Any, delithiated: Any, metal: Any, *, element: str = "Li", charge: int = 1) -> float:
    """V̄ = −[E(lithiated) − s E(delithiated) − ΔN μ^metal]/(z e ΔN) [V] (Aydinol et al. 1997).

    Each argument is an :class:`Entry` or ``(formula, total_energy_eV)``; s scales the
    delithiated formula to the same host content and ΔN = N_Li(lithiated) − s N_Li(delithiated)
    must be > 0. ``metal`` is the elemental reference (μ^metal = its energy per atom).
    """
    lith, delith, ref = (as_entry(a, i) for i, a in enumerate((lithiated, delithiated, metal)))
    if not ref.is_element or ref.elements[0] != element:
        raise InputError(f"metal = {ref.name!r} must be an elemental {element} entry")
    s = _proportional_scale(lith.composition, delith.composition, element)
    if s is None:
        raise InputError(f"lithiated {lith.formula!r} and delithiated {delith.formula!r} differ in more than {element}")
    dn = lith.composition.get(element, 0.0) - s * delith.composition.get(element, 0.0)
    if dn <= 1e-12:
        raise InputError(f"lithiated {lith.formula!r} must contain more {element} than delithiated {delith.formula!r} "
                         f"per host (ΔN = {dn:g})")
    return -(lith.energy_eV - s * delith.energy_eV - dn * ref.energy_per_atom_eV) / (charge * dn)


@dataclass
class VoltageProfile:
    """Staircase V(x) of M_x(host): plateau k spans x_breaks[k]…x_breaks[k+1] at voltages_V[k]."""

    host: str
    element: str
    charge: int
    x_breaks: np.ndarray
    voltages_V: np.ndarray
    phases: list = field(default_factory=list)

    def __post_init__(self):
        self.x_breaks = np.asarray(self.x_breaks, dtype=float)
        self.voltages_V = np.asarray(self.voltages_V, dtype=float)
        if self.x_breaks.ndim != 1 or len(self.x_breaks) != len(self.voltages_V) + 1 or len(self.voltages_V) < 1:
            raise InputError("VoltageProfile: x_breaks must have one more value than voltages_V (>= 1 plateau)")
        if np.any(np.diff(self.x_breaks) <= 0) or not np.all(np.isfinite(self.voltages_V)):
            raise InputError("VoltageProfile: x_breaks must increase and voltages_V must be finite")

    @property
    def x_max(self) -> float:
        return float(self.x_breaks[-1])

    def _check_x(self, x, name="x"):
        x = np.asarray(x, dtype=float)
        lo, hi = self.x_breaks[0], self.x_breaks[-1]
        if not np.all(np.isfinite(x)) or np.any(x < lo - 1e-12) or np.any(x > hi + 1e-12):
            raise InputError(f"{name} = {x!r} is out of range: must be within [{lo:g}, {hi:g}]")
        return x

    def voltage_at(self, x):
        """V(x) [V]; at a step the plateau that starts there (right-continuous)."""
        x = self._check_x(x)
        k = np.clip(np.searchsorted(self.x_breaks, x, side="right") - 1, 0, len(self.voltages_V) - 1)
        v = self.voltages_V[k]
        return float(v) if np.ndim(v) == 0 else v

    def average_voltage_V(self, x_start: float | None = None, x_end: float | None = None) -> float:
        """(1/Δx)∫V dx over [x_start, x_end] (default: the whole profile) [V]."""
        a = float(self._check_x(self.x_breaks[0] if x_start is None else x_start, "x_start"))
        b = float(self._check_x(self.x_max if x_end is None else x_end, "x_end"))
        if b <= a:
            raise InputError(f"x_end = {b:g} must be > x_start = {a:g}")
        lo = np.clip(self.x_breaks[:-1], a, b)
        hi = np.clip(self.x_breaks[1:], a, b)
        return float(np.sum((hi - lo) * self.voltages_V) / (b - a))

    def gravimetric_capacity_mAh_g(self) -> float:
        """Q = x_max z F / (3.6 M(M_{x_max} host)) [mAh/g of the lithiated compound]."""
        from ase.data import atomic_masses, atomic_numbers

        comp = parse_formula(self.host)
        mass = sum(n * atomic_masses[atomic_numbers[el]] for el, n in comp.items())
        mass += self.x_max * atomic_masses[atomic_numbers[self.element]]
        return self.x_max * self.charge * faraday_C_mol / (3.6 * mass)

    def stoichiometry(self, x):
        """θ = x / x_max: PyBaMM's electrode stoichiometry c_s/c_s,max."""
        return self._check_x(x) / self.x_max

    def ocp_table(self, *, step_width: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
        """(θ, V) points of the staircase with each step a linear ramp of width ``step_width`` in θ."""
        if not (0 < step_width < 0.5):
            raise InputError(f"step_width = {step_width!r} is out of range: must be > 0 and < 0.5")
        t = self.x_breaks / self.x_max
        half = min(0.5 * step_width, 0.25 * float(np.min(np.diff(t))))
        th, v = [t[0]], [self.voltages_V[0]]
        for k in range(1, len(self.voltages_V)):
            th += [t[k] - half, t[k] + half]
            v += [self.voltages_V[k - 1], self.voltages_V[k]]
        th.append(t[-1])
        v.append(self.voltages_V[-1])
        return np.array(th), np.array(v)

    def to_pybamm_ocp(self, *, step_width: float = 0.01, name: str | None = None):
        """A PyBaMM functional parameter ``ocp(sto) -> pybamm.Interpolant`` of stoichiometry θ.

        Use as ``parameter_values["Positive electrode OCP [V]"] = profile.to_pybamm_ocp()``.
        Steps are linear ramps of width ``step_width`` (θ units) so that solvers see a
        continuous function; outside [0, 1] PyBaMM extrapolates linearly (here: flat).
        """
        theta, volts = self.ocp_table(step_width=step_width)
        label = name or f"{self.element}x{self.host} hull OCP [V]"

        def ocp(sto):
            import pybamm

            return pybamm.Interpolant(theta, volts, sto, name=label, interpolator="linear")

        ocp.__doc__ = f"Open-circuit potential [V] of {self.element}_x{self.host} vs stoichiometry, from the convex hull."
        return ocp

    def to_dict(self) -> dict:
        return {"host": self.host, "element": self.element, "charge": self.charge,
                "x_breaks": self.x_breaks.tolist(), "voltages_V": self.voltages_V.tolist(),
                "phases": [list(p) for p in self.phases]}

    @classmethod
    def from_dict(cls, d: dict) -> "VoltageProfile":
        return cls(d["host"], d["element"], int(d["charge"]), d["x_breaks"], d["voltages_V"],
                   [tuple(p) for p in d.get("phases", [])])

    def to_dataframe(self):
        """Plateaus as a :class:`pandas.DataFrame` (x start, x end, voltage, phases)."""
        import pandas as pd

        return pd.DataFrame({"x start": self.x_breaks[:-1], "x end": self.x_breaks[1:],
                             "Voltage [V]": self.voltages_V, "phases": [" + ".join(p) for p in self.phases]})

    def plot(self, ax=None):
        from .plotting import plot_voltage_profile

        return plot_voltage_profile(self, ax=ax)


def insertion_voltage_profile(pd, host: Any, *, element: str = "Li", charge: int = 1,
                              x_max: float | None = None) -> VoltageProfile:
    """V(x) of M_x(host) for 0 ≤ x ≤ x_max from the convex hull of ``pd``.

    ``host`` is a formula (``"CoO2"``) or Entry giving the host per formula unit; x counts
    added ``element`` atoms per host formula unit. ``x_max`` defaults to the most lithiated
    stable phase on the M_x(host) line; past it conversion reactions may follow, which the
    profile then includes if ``x_max`` is given larger.
    """
    if element not in pd.elements:
        raise InputError(f"element = {element!r} is not in this phase diagram ({'-'.join(pd.elements)})")
    if not isinstance(charge, int) or charge < 1:
        raise InputError(f"charge = {charge!r} must be a positive integer")
    comp = host.composition if isinstance(host, Entry) else parse_formula(host)
    outside = [el for el in comp if el not in pd.elements]
    if outside:
        raise InputError(f"host = {formula_string(comp)!r} contains {', '.join(outside)}, not in the phase diagram")
    if all(el == element for el in comp):
        raise InputError(f"host = {formula_string(comp)!r} must contain elements other than {element}")
    j = pd.elements.index(element)
    n_h = np.array([comp.get(el, 0.0) for el in pd.elements])
    if x_max is None:
        xs = []
        for e in pd.stable_entries:
            s = _proportional_scale(e.composition, comp, element)
            if s is not None:
                xs.append(e.composition.get(element, 0.0) / s - comp.get(element, 0.0))
        xs = [x for x in xs if x > 1e-9]
        if not xs:
            raise InputError(f"no stable {element}-richer phase of host {formula_string(comp)!r} is on the hull; "
                             "give x_max")
        x_max = max(xs)
    x_max = float(x_max)
    if not (math.isfinite(x_max) and x_max > 0):
        raise InputError(f"x_max = {x_max!r} is out of range: must be finite and > 0")
    mu = pd.facet_chemical_potentials_eV
    a, b = mu @ n_h, mu[:, j]
    breaks, slopes = _upper_envelope(a, b, x_max)
    mu_metal = pd.reference_mu_eV[element]
    volts = (mu_metal - np.asarray(slopes)) / charge
    phases = []
    for lo, hi in zip(breaks[:-1], breaks[1:]):
        n = n_h.copy()
        n[j] += 0.5 * (lo + hi)
        dec = pd.decomposition(dict(zip(pd.elements, n)))
        phases.append(tuple(e.reduced_formula for e in dec.phases))
    return VoltageProfile(formula_string(comp), element, charge, np.array(breaks), volts, phases)


def _upper_envelope(a: np.ndarray, b: np.ndarray, x_max: float) -> tuple[list[float], list[float]]:
    """Breakpoints and slopes of max_f (a_f + b_f x) on [0, x_max] (slopes increase with x).

    Walks the envelope from x = 0: the current line is left for the steeper line it meets
    first. Each step raises the slope by > PLATEAU_TOL_EV, so the walk ends.
    """
    tied = np.flatnonzero(a >= a.max() - 1e-12)
    cur = tied[np.argmax(b[tied])]
    x = 0.0
    segments = []
    while True:
        steeper = np.flatnonzero(b > b[cur] + PLATEAU_TOL_EV)
        xc = np.maximum((a[cur] - a[steeper]) / (b[steeper] - b[cur]), x) if steeper.size else np.array([])
        x_next = float(xc.min()) if xc.size else math.inf
        segments.append([x, min(x_next, x_max), float(b[cur])])
        if x_next >= x_max - 1e-12:
            break
        cand = steeper[xc <= x_next + 1e-12]
        cur = cand[np.argmax(b[cand])]
        x = x_next
    segments = [s for s in segments if s[1] - s[0] > 1e-12]
    merged = [segments[0]]
    for s in segments[1:]:
        if abs(s[2] - merged[-1][2]) < PLATEAU_TOL_EV:
            merged[-1][1] = s[1]
        else:
            merged.append(s)
    return [_snap(merged[0][0])] + [_snap(s[1]) for s in merged], [s[2] for s in merged]


def _snap(x: float) -> float:
    """Round float noise off a breakpoint at a simple fraction (0.49999999999999 → 0.5)."""
    f = float(Fraction(x).limit_denominator(1000))
    return f if abs(f - x) < 1e-9 * max(1.0, abs(x)) else x
