"""Derived quantities → PyBaMM: ``ParameterValues`` in memory, a BPX JSON file, a parameter-set module.

A :class:`DerivedParameter` names the PyBaMM parameter it replaces (``"Negative electrode
charge transfer coefficient"``, ``"Electrolyte diffusivity [m2.s-1]"`` ...), its value (a
number, or a table over concentration / stoichiometry with an Arrhenius activation energy),
its unit, its 95 % interval and its provenance. Everything not replaced comes from a named
base set (Chen2020 by default), and every export lists what it replaced.

BPX (Battery Parameter eXchange, https://bpxstandard.com) conventions used here, matching
``pybamm.parameters.bpx``:

- exchange current ``j0 = F k_norm sqrt((c_e/c_e0)(c_s/c_max)(1 − c_s/c_max))``; PyBaMM's
  ``j0 = k sqrt(c_e c_s (c_max − c_s))`` so ``k_norm = k c_max sqrt(c_e0) / F``;
- solid conductivities are effective (Bruggeman exponent 0 for the electrode);
- transport efficiency ``ε^b`` with the base set's Bruggeman exponent ``b``;
- temperature dependence as ``X(T) = X_ref exp(E_a/R (1/T_ref − 1/T))``.

Parameters BPX has no field for (charge-transfer coefficients, double-layer capacities, the
lumped contact resistance) travel in its ``User-defined`` section, which PyBaMM copies into
``ParameterValues`` unchanged. A model sees the contact resistance only with the option
``{"contact resistance": "true"}``; the cell stage of ``multiscale run`` sets it.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from ..io import atomic_write_json, atomic_write_text
from ..units import faraday_C_mol, gas_constant_J_mol_K


@dataclass
class DerivedParameter:
    """One derived number (or table) mapped onto a PyBaMM parameter.

    ``value`` is a float, or for a function of one variable a dict ``{"x": [...], "y": [...]}``
    (x = electrolyte concentration [mol.m-3] for electrolyte transport, stoichiometry for OCPs);
    ``activation_energy_J_mol`` adds an Arrhenius temperature dependence around
    ``reference_temperature_K``.
    """

    pybamm_name: str
    value: float | dict
    unit: str
    interval95: tuple[float, float] | None = None
    provenance: str = ""
    activation_energy_J_mol: float = 0.0
    reference_temperature_K: float = 298.15

    def __post_init__(self):
        if isinstance(self.value, dict):
            x = np.asarray(self.value.get("x", []), dtype=float)
            y = np.asarray(self.value.get("y", []), dtype=float)
            if x.ndim != 1 or x.size < 2 or x.shape != y.shape:
                raise InputError(f"{self.pybamm_name}: a table needs 1D 'x' and 'y' of equal length >= 2")
            if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
                raise InputError(f"{self.pybamm_name}: table contains non-finite values")
            if np.any(np.diff(x) <= 0):
                raise InputError(f"{self.pybamm_name}: table 'x' must be strictly increasing")
        else:
            v = float(self.value)
            if not math.isfinite(v):
                raise InputError(f"{self.pybamm_name} = {self.value!r} is not finite")
            self.value = v
        if not math.isfinite(self.activation_energy_J_mol):
            raise InputError(f"{self.pybamm_name}: activation_energy_J_mol must be finite")

    def to_json(self) -> dict:
        return asdict(self)


# Parameters this module knows how to place; anything else is rejected so a typo cannot pass.
_EXPORTABLE = {
    "Electrolyte diffusivity [m2.s-1]",
    "Electrolyte conductivity [S.m-1]",
    "Cation transference number",
    "Negative electrode charge transfer coefficient",
    "Positive electrode charge transfer coefficient",
    "Negative electrode double-layer capacity [F.m-2]",
    "Positive electrode double-layer capacity [F.m-2]",
    "Negative electrode OCP [V]",
    "Positive electrode OCP [V]",
    "Negative particle diffusivity [m2.s-1]",
    "Positive particle diffusivity [m2.s-1]",
    "Contact resistance [Ohm]",
}


@dataclass
class Export:
    """Result of :func:`export_parameters`."""

    parameter_values: Any  # pybamm.ParameterValues
    base_set: str
    replaced: list[str] = field(default_factory=list)
    derived: list[DerivedParameter] = field(default_factory=list)

    def metadata(self) -> dict:
        return {"base_set": self.base_set, "replaced": self.replaced,
                "derived": [d.to_json() for d in self.derived]}


def _check_derived(derived: Sequence[DerivedParameter]) -> list[DerivedParameter]:
    seen = set()
    for d in derived:
        if not isinstance(d, DerivedParameter):
            raise InputError(f"derived parameters must be DerivedParameter objects, got {type(d).__name__}")
        if d.pybamm_name not in _EXPORTABLE:
            raise InputError(f"{d.pybamm_name!r} is not an exportable parameter; allowed: {sorted(_EXPORTABLE)}")
        if d.pybamm_name in seen:
            raise InputError(f"{d.pybamm_name!r} is given twice")
        seen.add(d.pybamm_name)
    return list(derived)


def _arrhenius(Ea, T_ref, T):
    import pybamm

    return pybamm.exp(Ea / gas_constant_J_mol_K * (1.0 / T_ref - 1.0 / T))


def _pybamm_function(d: DerivedParameter):
    """A PyBaMM functional parameter for a table (linear interpolant) with Arrhenius scaling."""
    import pybamm

    x = np.asarray(d.value["x"], dtype=float)
    y = np.asarray(d.value["y"], dtype=float)
    name = d.pybamm_name
    Ea, T_ref = d.activation_energy_J_mol, d.reference_temperature_K
    if name.endswith("OCP [V]"):
        def ocp(sto):
            return pybamm.Interpolant(x, y, sto, name=name, interpolator="linear")
        return ocp
    if name.startswith("Electrolyte"):
        def electrolyte(c_e, T):
            return pybamm.Interpolant(x, y, c_e, name=name, interpolator="linear") * _arrhenius(Ea, T_ref, T)
        return electrolyte
    if "particle diffusivity" in name:
        def particle(sto, T):
            return pybamm.Interpolant(x, y, sto, name=name, interpolator="linear") * _arrhenius(Ea, T_ref, T)
        return particle
    raise InputError(f"{name!r} cannot take a table value")


def _pybamm_constant(d: DerivedParameter):
    """A float, or a function with Arrhenius scaling when an activation energy is given."""
    name, v, Ea, T_ref = d.pybamm_name, d.value, d.activation_energy_J_mol, d.reference_temperature_K
    if Ea == 0.0 or not (name.startswith("Electrolyte") or "particle diffusivity" in name):
        return v
    if name.startswith("Electrolyte"):
        return lambda c_e, T: v * _arrhenius(Ea, T_ref, T)
    return lambda sto, T: v * _arrhenius(Ea, T_ref, T)


def export_parameters(derived: Sequence[DerivedParameter] = (), *, base_set: str = "Chen2020") -> Export:
    """Derived parameters on top of ``base_set`` → :class:`Export` with a ``pybamm.ParameterValues``."""
    import pybamm

    derived = _check_derived(derived)
    try:
        pv = pybamm.ParameterValues(base_set)
    except Exception as exc:  # PyBaMM raises ValueError/KeyError for unknown sets
        raise InputError(f"base_set = {base_set!r} is not a PyBaMM parameter set ({exc})") from None
    updates = {d.pybamm_name: (_pybamm_function(d) if isinstance(d.value, dict) else _pybamm_constant(d))
               for d in derived}
    pv.update(updates)
    return Export(parameter_values=pv, base_set=base_set, replaced=sorted(updates), derived=derived)


# ----------------------------------------------------------------------------------------------
# BPX
# ----------------------------------------------------------------------------------------------
def _evaluate(pv, name: str, *args) -> np.ndarray:
    """Evaluate a (functional) parameter of ``pv`` numerically at numpy arguments."""
    import pybamm

    value = pv[name]
    n = max([np.size(a) for a in args if np.ndim(a)] or [1])
    if not callable(value):
        return np.full(n, float(value))
    symbols = [pybamm.Vector(np.atleast_1d(np.asarray(a, dtype=float))) if np.ndim(a) else pybamm.Scalar(float(a))
               for a in args]
    expr = pv.process_symbol(value(*symbols))
    out = np.asarray(expr.evaluate(), dtype=float).ravel()
    # a function that ignores its array argument (D_e(c, T) = D·Arrhenius(T)) evaluates to one
    # number: spread it over the grid, as the tables that BPX holds need one value per point
    return np.full(n, out[0]) if out.size == 1 else out


def _table(x, y) -> dict:
    return {"x": [float(v) for v in x], "y": [float(v) for v in y]}


def _activation_energy(pv, name, args_at_T) -> float:
    """E_a from the Arrhenius slope of a parameter between T_ref ± 10 K (0 if T-independent)."""
    T_ref = float(pv["Reference temperature [K]"])
    lo = float(_evaluate(pv, name, *args_at_T(T_ref - 10.0))[0])
    hi = float(_evaluate(pv, name, *args_at_T(T_ref + 10.0))[0])
    if lo <= 0 or hi <= 0:
        return 0.0
    Ea = gas_constant_J_mol_K * math.log(hi / lo) / (1.0 / (T_ref - 10.0) - 1.0 / (T_ref + 10.0))
    return 0.0 if abs(Ea) < 1e-6 else Ea


def to_bpx(export: Export, *, title: str = "multiscale export", n_table: int = 101) -> dict:
    """The exported parameters as a BPX 1.x object (a dict), validated by the ``bpx`` package.

    Functional parameters are tabulated: OCPs on ``n_table`` stoichiometries, electrolyte
    transport on concentrations 0–4 mol/L, with activation energies from the Arrhenius slope.
    """
    import bpx

    pv = export.parameter_values
    T_ref = float(pv["Reference temperature [K]"])
    c_e0 = float(pv["Initial concentration in electrolyte [mol.m-3]"])
    F = faraday_C_mol

    def electrode(prefix: str, particle: str) -> dict:
        c_max = float(pv[f"Maximum concentration in {prefix.lower()} electrode [mol.m-3]"])
        eps = float(pv[f"{prefix} electrode porosity"])
        eps_s = float(pv[f"{prefix} electrode active material volume fraction"])
        radius = float(pv[f"{particle} particle radius [m]"])
        b_e = float(pv[f"{prefix} electrode Bruggeman coefficient (electrolyte)"])
        b_s = float(pv[f"{prefix} electrode Bruggeman coefficient (electrode)"])
        sto = np.linspace(0.0, 1.0, n_table)
        sto_inner = np.clip(sto, 1e-4, 1 - 1e-4)  # OCP functions diverge at the ends
        ocp = _evaluate(pv, f"{prefix} electrode OCP [V]", sto_inner)
        D_name = f"{particle} particle diffusivity [m2.s-1]"
        D_s = float(_evaluate(pv, D_name, 0.5, T_ref)[0])
        Ea_D = _activation_energy(pv, D_name, lambda T: (0.5, T))
        j0_name = f"{prefix} electrode exchange-current density [A.m-2]"
        cs = 0.5 * c_max
        j0 = float(_evaluate(pv, j0_name, c_e0, cs, c_max, T_ref)[0])
        k = j0 / math.sqrt(c_e0 * cs * (c_max - cs))
        Ea_k = _activation_energy(pv, j0_name, lambda T: (c_e0, cs, c_max, T))
        return {
            "Thickness [m]": float(pv[f"{prefix} electrode thickness [m]"]),
            "Porosity": eps,
            "Transport efficiency": eps**b_e,
            "Conductivity [S.m-1]": float(pv[f"{prefix} electrode conductivity [S.m-1]"]) * eps_s**b_s,
            "Particle radius [m]": radius,
            "Surface area per unit volume [m-1]": 3.0 * eps_s / radius,
            "Maximum concentration [mol.m-3]": c_max,
            "Minimum stoichiometry": 0.0,  # replaced below from the cell's voltage window
            "Maximum stoichiometry": 1.0,
            "Diffusivity [m2.s-1]": D_s,
            "Diffusivity activation energy [J.mol-1]": Ea_D,
            "OCP [V]": _table(sto, ocp),
            "Entropic change coefficient [V.K-1]": 0.0,
            "Reaction rate constant [mol.m-2.s-1]": k * c_max * math.sqrt(c_e0) / F,
            "Reaction rate constant activation energy [J.mol-1]": Ea_k,
        }

    neg, pos = electrode("Negative", "Negative"), electrode("Positive", "Positive")
    # Stoichiometry window of the voltage limits (PyBaMM's electrode SOH).
    import pybamm

    x0, x100, y100, y0 = pybamm.lithium_ion.get_min_max_stoichiometries(pv)
    neg["Minimum stoichiometry"], neg["Maximum stoichiometry"] = float(x0), float(x100)
    pos["Minimum stoichiometry"], pos["Maximum stoichiometry"] = float(y100), float(y0)

    c_grid = np.linspace(50.0, 4000.0, 80)
    D_e = _evaluate(pv, "Electrolyte diffusivity [m2.s-1]", c_grid, T_ref)
    sigma_e = _evaluate(pv, "Electrolyte conductivity [S.m-1]", c_grid, T_ref)
    Ea_De = _activation_energy(pv, "Electrolyte diffusivity [m2.s-1]", lambda T: (c_e0, T))
    Ea_se = _activation_energy(pv, "Electrolyte conductivity [S.m-1]", lambda T: (c_e0, T))
    area = float(pv["Electrode height [m]"]) * float(pv["Electrode width [m]"])
    user_defined = {name: float(pv[name]) for name in (
        "Negative electrode charge transfer coefficient", "Positive electrode charge transfer coefficient",
        "Negative electrode double-layer capacity [F.m-2]", "Positive electrode double-layer capacity [F.m-2]",
        "Open-circuit voltage at 0% SOC [V]", "Open-circuit voltage at 100% SOC [V]",
    )}
    if "Contact resistance [Ohm]" in pv.keys():  # not in every base set; 0 Ω where absent
        user_defined["Contact resistance [Ohm]"] = float(pv["Contact resistance [Ohm]"])
    obj = {
        "Header": {
            "BPX": "1.0.0",
            "Title": title,
            "Description": (f"Exported by multiscale from base set {export.base_set}; replaced: "
                            + (", ".join(export.replaced) or "nothing")),
            "Model": "DFN",
        },
        "Parameterisation": {
            "Cell": {
                "Electrode area [m2]": area,
                "External surface area [m2]": float(pv["Cell cooling surface area [m2]"]),
                "Volume [m3]": float(pv["Cell volume [m3]"]),
                "Number of electrode pairs connected in parallel to make a cell":
                    int(pv["Number of electrodes connected in parallel to make a cell"]),
                "Lower voltage cut-off [V]": float(pv["Lower voltage cut-off [V]"]),
                "Upper voltage cut-off [V]": float(pv["Upper voltage cut-off [V]"]),
                "Nominal cell capacity [A.h]": float(pv["Nominal cell capacity [A.h]"]),
                "Reference temperature [K]": T_ref,
            },
            "Electrolyte": {
                "Initial concentration [mol.m-3]": c_e0,
                "Cation transference number": float(pv["Cation transference number"]),
                "Diffusivity [m2.s-1]": _table(c_grid, D_e),
                "Diffusivity activation energy [J.mol-1]": Ea_De,
                "Conductivity [S.m-1]": _table(c_grid, sigma_e),
                "Conductivity activation energy [J.mol-1]": Ea_se,
            },
            "Negative electrode": neg,
            "Positive electrode": pos,
            "Separator": {
                "Thickness [m]": float(pv["Separator thickness [m]"]),
                "Porosity": float(pv["Separator porosity"]),
                "Transport efficiency": float(pv["Separator porosity"])
                ** float(pv["Separator Bruggeman coefficient (electrolyte)"]),
            },
            "User-defined": user_defined,
        },
        "State": {
            "Initial conditions": {
                "Initial temperature [K]": float(pv["Initial temperature [K]"]),
                "Initial electrolyte concentration [mol.m-3]": c_e0,
            },
            "Thermal environment": {"Ambient temperature [K]": float(pv["Ambient temperature [K]"])},
        },
    }
    obj = _drop_unknown_fields(obj)
    bpx.parse_bpx_obj(json.loads(json.dumps(obj)))  # raises if the schema rejects it
    return obj


def _drop_unknown_fields(obj: dict) -> dict:
    """Remove fields this installed ``bpx`` version does not know (schemas differ slightly)."""
    from bpx import schema

    known_electrolyte = {f.alias for f in schema.Electrolyte.model_fields.values()}
    obj["Parameterisation"]["Electrolyte"] = {k: v for k, v in obj["Parameterisation"]["Electrolyte"].items()
                                              if k in known_electrolyte}
    return obj


def load_derived(source: str | Path) -> tuple[list[DerivedParameter], str]:
    """Derived parameters from a ``multiscale run`` output folder (its ``summary.json``) or a JSON
    file ``{"base_set": "Chen2020", "derived": [{"pybamm_name": ..., "value": ..., ...}, ...]}``."""
    from ..errors import DataFileError

    path = Path(source)
    if path.is_dir():
        path = path / "summary.json"
    if not path.is_file():
        raise DataFileError(f"source {str(source)!r} is neither a run folder with summary.json nor a JSON file")
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"source {str(path)!r} is not valid JSON: {exc}") from None
    if "export" in obj:  # a run summary: the export stage's metadata
        obj = obj["export"]
    if not isinstance(obj, dict) or "derived" not in obj:
        raise InputError(f"source {str(path)!r} has no 'derived' list of parameters")
    derived = []
    for i, item in enumerate(obj["derived"]):
        try:
            item = dict(item)
            if item.get("interval95") is not None:
                item["interval95"] = tuple(item["interval95"])
            derived.append(DerivedParameter(**item))
        except TypeError as exc:
            raise InputError(f"derived[{i}] in {str(path)!r} is malformed: {exc}") from None
    return derived, str(obj.get("base_set", "Chen2020"))


def write_bpx(export: Export, path: str | Path, **kwargs) -> Path:
    """Write :func:`to_bpx` atomically to ``path``; the metadata (intervals, provenance) goes to
    ``path.with_suffix('.meta.json')``."""
    path = Path(path)
    atomic_write_json(path, to_bpx(export, **kwargs))
    atomic_write_json(path.with_suffix(".meta.json"), export.metadata())
    return path


_MODULE_TEMPLATE = '''"""PyBaMM parameter set generated by multiscale (base set {base_set}).

Replaced parameters: {replaced}.
Register it in your own package's pyproject.toml:

    [project.entry-points."pybamm_parameter_sets"]
    {name} = "{module}:get_parameter_values"

then ``pybamm.ParameterValues("{name}")``.
"""
import pybamm

BPX = {bpx}


def get_parameter_values():
    """Parameter dictionary for PyBaMM (built through PyBaMM's own BPX reader)."""
    values = pybamm.ParameterValues.create_from_bpx_obj(BPX)
    return {{key: value for key, value in values.items()}}
'''


def write_parameter_set_module(export: Export, path: str | Path, *, name: str = "multiscale_export") -> Path:
    """Write a Python module exposing ``get_parameter_values()`` for the ``pybamm_parameter_sets`` entry point."""
    path = Path(path)
    if not name.isidentifier():
        raise InputError(f"name = {name!r} must be a Python identifier")
    text = _MODULE_TEMPLATE.format(base_set=export.base_set, replaced=", ".join(export.replaced) or "none",
                                   name=name, module=path.stem,
                                   bpx=json.dumps(to_bpx(export, title=name), indent=1))
    return atomic_write_text(path, text)
