"""PyBaMM parameter values → numpy tables for the fast SPMe (:mod:`.spme_fast`).

Every functional parameter of a ``pybamm.ParameterValues`` set (open-circuit potentials,
particle and electrolyte diffusivities, exchange-current densities with their Arrhenius
factors, electrolyte conductivity, transference number and thermodynamic factor, electrode
conductivity) is evaluated **once** through PyBaMM's own symbolic parameter class
(``pybamm.LithiumIonParameters``: the same clipping tolerances, OCP asymptotes and entropic
terms the PyBaMM models use) at the given temperature, on a grid of its concentration
argument. At run time a value is a ``numpy.interp`` on that table (or a constant when the
function does not vary on the grid), so one evaluation costs about a microsecond.

Exchange-current densities j0(c_e, c_s) are tabulated as a product f(c_e)·g(c_s); the
factorisation is checked on a 2-D grid and a set that does not factorise is refused
(:class:`~multiscale.errors.NotBuiltError`) rather than silently approximated.

Reference: Sulzer, Marquis, Timms, Robinson, Chapman, "Python Battery Mathematical
Modelling (PyBaMM)", J. Open Res. Softw. 9 (2021) 14; Chen et al., J. Electrochem. Soc.
167 (2020) 080534 (the default ``Chen2020`` set).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, NotBuiltError, check_range

_REL_CONST = 1e-12
_FACTOR_TOL = 1e-5
#: Arrays larger than this use the direct uniform-grid lookup of :class:`Table1D`.
_DIRECT_MIN = 256


@dataclass(frozen=True)
class Table1D:
    """``y(x)`` by linear interpolation on ``x_grid``; constant when ``constant`` is set."""

    x_grid: np.ndarray
    y_grid: np.ndarray
    constant: float | None

    def __post_init__(self):
        g = np.asarray(self.x_grid, dtype=float)
        d = np.diff(g)
        uniform = g.size > 2 and bool(np.all(np.abs(d - d[0]) <= 1e-9 * abs(d[0]))) and d[0] > 0
        object.__setattr__(self, "_uniform", uniform)
        if uniform:   # direct indexing (exactly np.interp's lerp and end clamping)
            y = np.asarray(self.y_grid, dtype=float)
            object.__setattr__(self, "_x0", float(g[0]))
            object.__setattr__(self, "_inv_h", 1.0 / float(d[0]))
            object.__setattr__(self, "_slope", np.append(np.diff(y), 0.0))

    def __call__(self, x):
        if self.constant is not None:
            return np.full(np.shape(x), self.constant) if np.ndim(x) else self.constant
        if self._uniform and isinstance(x, np.ndarray) and x.size > _DIRECT_MIN:
            return self._direct(x)
        return np.interp(x, self.x_grid, self.y_grid)

    def _direct(self, x):
        """y(x) on a uniform grid without a binary search: O(1) per point (large arrays)."""
        n = self.x_grid.size
        t = (x - self._x0) * self._inv_h
        np.clip(t, 0.0, n - 1.0, out=t)
        with np.errstate(invalid="ignore"):
            k = t.astype(np.intp)      # NaN → garbage index, clipped below; NaN stays in t
        np.minimum(k, n - 2, out=k)
        np.maximum(k, 0, out=k)
        t -= k
        out = self._slope.take(k)
        out *= t
        out += self.y_grid.take(k)
        return out


class UniformLerp:
    """``np.interp(x, x_grid, y_grid)`` on a uniform grid by direct indexing, into caller buffers.

    The per-step lookup of the fast SPMe for packs: ``(x − x₀)/h`` → index and fraction → lerp,
    with end clamping as ``np.interp`` (same values up to round-off), no binary search and no
    allocation when ``out``/``work``/``index`` (shape of ``x``; float, float, intp) are given.
    A non-uniform grid falls back to ``np.interp``.
    """

    def __init__(self, x_grid, y_grid):
        g = np.ascontiguousarray(x_grid, dtype=float)
        y = np.ascontiguousarray(y_grid, dtype=float)
        d = np.diff(g)
        self.x_grid, self.y_grid = g, y
        self.uniform = g.size > 2 and bool(np.all(np.abs(d - d[0]) <= 1e-9 * abs(d[0]))) and d[0] > 0
        if self.uniform:
            self._x0 = float(g[0])
            self._inv_h = 1.0 / float(d[0])
            self._top = g.size - 1.0
            self._slope = np.append(np.diff(y), 0.0)   # index n−1 (x at the top end): y[n−1] + 0

    def __call__(self, x, out=None, work=None, index=None):
        if not self.uniform:
            r = np.interp(x, self.x_grid, self.y_grid)
            if out is None:
                return r
            out[...] = r
            return out
        t = np.subtract(x, self._x0, out=work)
        t *= self._inv_h
        # clamp to the grid as np.interp does; fmax/fmin also map NaN to an end (no cast warning):
        # callers see NaN through their other terms
        np.fmax(t, 0.0, out=t)
        np.fmin(t, self._top, out=t)
        if index is None:
            k = t.astype(np.intp)
        else:
            k = index
            np.copyto(k, t, casting="unsafe")      # floor (t >= 0)
        t -= k
        out = np.take(self._slope, k, out=out, mode="clip")
        out *= t
        out += np.take(self.y_grid, k, out=t, mode="clip")
        return out


def _evaluate(pv, symbol) -> np.ndarray:
    import pybamm

    out = pv.process_symbol(symbol).evaluate()
    return np.asarray(out, dtype=float).reshape(-1) if not isinstance(out, pybamm.Symbol) else out


def _table(pv, make, grid: np.ndarray, name: str) -> Table1D:
    import pybamm

    values = _evaluate(pv, make(pybamm.Vector(grid)))
    if values.size == 1:
        values = np.full(grid.size, float(values[0]))
    if not np.all(np.isfinite(values)):
        raise InputError(f"parameter {name!r} is not finite on its grid [{grid[0]:g}, {grid[-1]:g}]")
    span = float(np.ptp(values))
    scale = max(float(np.max(np.abs(values))), 1e-300)
    constant = float(values[0]) if span <= _REL_CONST * scale else None
    return Table1D(grid, values, constant)


def _stoichiometry_grid() -> np.ndarray:
    inner = np.linspace(0.0, 1.0, 8001)
    ends = np.concatenate([np.geomspace(1e-9, 1e-3, 200), 1.0 - np.geomspace(1e-9, 1e-3, 200)])
    return np.unique(np.concatenate([inner, ends]))


@dataclass(frozen=True)
class ElectrodeTables:
    """Per-electrode constants [SI] and functions of stoichiometry or concentration."""

    thickness_m: float
    particle_radius_m: float
    c_max_mol_m3: float
    porosity: float
    active_fraction: float
    bruggeman_electrolyte: float
    electrode_transport_efficiency: float
    ocp_V: Table1D            # U(sto) at T [V]
    diffusivity_m2_s: Table1D  # D(sto) at T [m2/s]
    j0_ce: Table1D             # f(c_e), dimensionless, f(c_e_ref) = 1
    j0_cs: Table1D             # g(c_s) [A/m2] at c_e_ref
    sigma_S_m: Table1D         # σ(sto) at T [S/m]
    charge_transfer_electrons: float

    @property
    def surface_area_m2_m3(self) -> float:
        """a = 3 ε_s / R [1/m] (spherical particles)."""
        return 3.0 * self.active_fraction / self.particle_radius_m


@dataclass(frozen=True)
class SPMeTables:
    """All numbers the fast SPMe needs, evaluated at one temperature."""

    temperature_K: float
    negative: ElectrodeTables
    positive: ElectrodeTables
    separator_thickness_m: float
    separator_porosity: float
    separator_bruggeman: float
    electrode_area_m2: float
    c_e_init_mol_m3: float
    electrolyte_diffusivity_m2_s: Table1D
    electrolyte_conductivity_S_m: Table1D
    transference_number: Table1D
    chi: Table1D
    stoichiometry_limits: tuple[float, float, float, float]   # x_0, x_100, y_100, y_0
    nominal_capacity_Ah: float
    lower_voltage_V: float
    upper_voltage_V: float
    faraday_C_mol: float
    gas_constant_J_mol_K: float


def _electrode(pv, param, domain: str, T: float) -> ElectrodeTables:
    import pybamm

    dp = getattr(param, domain[0])
    prim = dp.prim
    Dom = domain.capitalize()
    c_max = float(pv[f"Maximum concentration in {domain} electrode [mol.m-3]"])
    sto = _stoichiometry_grid()
    ocp = _table(pv, lambda s: prim.U(s, T), sto, f"{Dom} electrode OCP [V]")
    diff = _table(pv, lambda s: prim.D(s * c_max, T), sto[::8], f"{Dom} particle diffusivity [m2.s-1]")
    sigma = _table(pv, lambda s: dp.sigma(s, T), sto[::8], f"{Dom} electrode conductivity [S.m-1]")
    c_e_ref = float(pv["Initial concentration in electrolyte [mol.m-3]"])
    cs_grid = sto[::2] * c_max
    ce_grid = np.linspace(0.0, 6.0 * c_e_ref, 24001)   # uniform (O(1) lookup), 0.25 mol/m³ for Chen2020
    g = _table(pv, lambda cs: prim.j0(pybamm.Scalar(c_e_ref), cs, T), cs_grid, f"{Dom} exchange-current density")
    ref_cs = 0.5 * c_max
    g_ref = float(_evaluate(pv, prim.j0(pybamm.Scalar(c_e_ref), pybamm.Scalar(ref_cs), T))[0])
    f_raw = _evaluate(pv, prim.j0(pybamm.Vector(ce_grid), pybamm.Scalar(ref_cs), T))
    f = Table1D(ce_grid, f_raw / g_ref, None)
    # check the product form j0(c_e, c_s) = f(c_e) g(c_s) on a coarse 2-D grid
    for ce in (0.3 * c_e_ref, 2.0 * c_e_ref):
        test = _evaluate(pv, prim.j0(pybamm.Scalar(ce), pybamm.Vector(cs_grid[::50]), T))
        pred = f(ce) * g(cs_grid[::50])
        if np.max(np.abs(test - pred)) > _FACTOR_TOL * max(np.max(np.abs(test)), 1e-30):
            raise NotBuiltError(
                f"{Dom} exchange-current density is not of the form f(c_e)*g(c_s); "
                "the fast SPMe supports only that (true of Chen2020, Marquis2019, Ecker2015 ...)"
            )
    b_s = float(pv[f"{Dom} electrode Bruggeman coefficient (electrode)"])
    eps = float(pv[f"{Dom} electrode porosity"])
    return ElectrodeTables(
        thickness_m=float(pv[f"{Dom} electrode thickness [m]"]),
        particle_radius_m=float(pv[f"{Dom} particle radius [m]"]),
        c_max_mol_m3=c_max,
        porosity=eps,
        active_fraction=float(pv[f"{Dom} electrode active material volume fraction"]),
        bruggeman_electrolyte=float(pv[f"{Dom} electrode Bruggeman coefficient (electrolyte)"]),
        electrode_transport_efficiency=(1.0 - eps) ** b_s,
        ocp_V=ocp,
        diffusivity_m2_s=diff,
        j0_ce=f,
        j0_cs=g,
        sigma_S_m=sigma,
        charge_transfer_electrons=1.0,
    )


_CACHE: dict = {}


def _fingerprint(pv) -> tuple:
    """Hashable identity of a parameter set's values (functions by their code object)."""
    items = []
    for k, v in sorted(pv.items(), key=lambda kv: kv[0]):
        if callable(v):
            code = getattr(v, "__code__", None)
            items.append((k, getattr(v, "__qualname__", type(v).__name__), id(code) if code else id(v)))
        else:
            items.append((k, repr(v)))
    return tuple(items)


def build_tables(parameter_values=None, temperature_K: float = 298.15) -> SPMeTables:
    """Evaluate a PyBaMM parameter set at ``temperature_K`` into :class:`SPMeTables`.

    ``parameter_values``: a ``pybamm.ParameterValues`` (default ``"Chen2020"``).
    The electrolyte functions are tabulated for c_e in [0, 6·c_e,init] mol/m³ (PyBaMM's own
    lower clipping tolerances apply); stoichiometry functions on [0, 1]. Results are cached
    per (parameter values, temperature) within the process (the tables are immutable).
    """
    os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
    import pybamm

    T = check_range("temperature_K", temperature_K, low=200.0, high=400.0)
    pv = pybamm.ParameterValues("Chen2020") if parameter_values is None else parameter_values
    if not isinstance(pv, pybamm.ParameterValues):
        raise InputError(f"parameter_values = {type(pv).__name__} is not a pybamm.ParameterValues")
    key = (_fingerprint(pv), T)
    hit = _CACHE.get(key)
    if hit is None:
        if len(_CACHE) > 16:
            _CACHE.clear()
        hit = _CACHE[key] = _build(pv, T)
    return hit


def _build(pv, T: float) -> SPMeTables:
    import pybamm
    param = pybamm.LithiumIonParameters()
    c0 = float(pv["Initial concentration in electrolyte [mol.m-3]"])
    ce = np.linspace(0.0, 6.0 * c0, 6001)
    limits = pybamm.lithium_ion.get_min_max_stoichiometries(pv)
    return SPMeTables(
        temperature_K=T,
        negative=_electrode(pv, param, "negative", T),
        positive=_electrode(pv, param, "positive", T),
        separator_thickness_m=float(pv["Separator thickness [m]"]),
        separator_porosity=float(pv["Separator porosity"]),
        separator_bruggeman=float(pv["Separator Bruggeman coefficient (electrolyte)"]),
        electrode_area_m2=float(pv["Electrode height [m]"]) * float(pv["Electrode width [m]"])
        * float(pv["Number of electrodes connected in parallel to make a cell"]),
        c_e_init_mol_m3=c0,
        electrolyte_diffusivity_m2_s=_table(pv, lambda c: param.D_e(c, T), ce, "Electrolyte diffusivity"),
        electrolyte_conductivity_S_m=_table(pv, lambda c: param.kappa_e(c, T), ce, "Electrolyte conductivity"),
        transference_number=_table(pv, lambda c: param.t_plus(c, T), ce, "Cation transference number"),
        chi=_table(pv, lambda c: param.chi(c, T), ce, "Thermodynamic factor"),
        stoichiometry_limits=tuple(float(v) for v in limits),
        nominal_capacity_Ah=float(pv["Nominal cell capacity [A.h]"]),
        lower_voltage_V=float(pv["Lower voltage cut-off [V]"]),
        upper_voltage_V=float(pv["Upper voltage cut-off [V]"]),
        faraday_C_mol=float(pv.evaluate(param.F)),
        gas_constant_J_mol_K=float(pv.evaluate(param.R)),
    )
