"""Bulk electrolyte transport for ``multiscale run``: the salt diffusivity D_e(c, T) from the shipped
bulk ML-MD (``multiscale potential transport``, data/mlmd_bulk_transport), mapped onto PyBaMM's
``Electrolyte diffusivity [m2.s-1]`` when ``electrolyte.diffusivity = "ml-md"``.

Bulk statistics need tens of picoseconds per state point, beyond the run's budget, so this part
is shipped only; the summary says so and names the model whose weights made it (a different
model's data are refused).
"""
from __future__ import annotations

import math

import numpy as np


def bulk_transport(config: dict, figures_dir) -> dict:
    """``parameters`` (D_e per concentration at T_ref, E_a) and, when selected, ``derived``."""
    from ..atomistic.electrolyte_transport import plot_diffusivity, shipped_diffusivity

    result, source = shipped_diffusivity()
    if result is None:
        return {"note": f"D_e from the base set: {source}"}
    tab = result["electrolyte_diffusivity"]
    t_ref = tab["reference_temperature_K"]
    c = np.asarray(tab["concentration_mol_m3"], dtype=float)
    d = np.asarray(tab["diffusivity_m2_s"], dtype=float)
    err = np.asarray(tab["diffusivity_error_m2_s"], dtype=float)
    states = [s for s in result["states"] if "D_salt_m2_s" in s]
    untrusted = float(np.mean([s["untrusted_fraction"] for s in states]))
    length_ps = sum(s["analysed_ps"] for s in states)
    method = (f"{source}: {len(states)} state points, {length_ps:.0f} ps analysed in all, "
              f"{100 * untrusted:.0f} % of frames above the σ_F trust level; {result['method']}")
    params = {}
    for ci, di, ei in zip(c, d, err):
        params[f"Salt diffusivity D_e at {ci / 1000:.2f} mol/L, {t_ref:.0f} K (bulk ML-MD)"] = {
            "value": float(di), "unit": "m2.s-1", "interval95": [float(max(di - 1.96 * ei, 0.0)), float(di + 1.96 * ei)],
            "provenance": f"shipped: {method}"}
    ea, ea_err = tab["activation_energy_J_mol"], tab["activation_energy_error_J_mol"]
    ea_ok = math.isfinite(ea) and ea > 0
    if math.isfinite(ea):
        params["Activation energy of D_e (bulk ML-MD)"] = {
            "value": ea / 1000, "unit": "kJ.mol-1", "interval95": [(ea - 1.96 * ea_err) / 1000, (ea + 1.96 * ea_err) / 1000],
            "provenance": f"shipped: Arrhenius fit over {sorted({s['temperature_K'] for s in states})} K, "
                          f"error-weighted mean over concentrations; {source}"}
    plot_diffusivity(result, figures_dir / "bulk_diffusivity.png")
    out = {"parameters": params, "source": source}
    if config["electrolyte"]["diffusivity"] != "ml-md":
        out["note"] = ("the cell keeps the base set's D_e (electrolyte.diffusivity = 'base'); the bulk ML-MD "
                       "values are reported")
        return out
    target = config["electrolyte"]["concentration_mol_m3"]
    k = int(np.argmin(np.abs(c - target)))
    prov = (f"shipped: {method}; table in c at {t_ref:.0f} K"
            + (f", Arrhenius E_a = {ea / 1000:.1f} kJ/mol" if ea_ok else
               ", no temperature dependence (the fitted E_a is not positive or not defined)")
            + f"; interval95 at {c[k] / 1000:.2f} mol/L")
    value = {"x": c.tolist(), "y": d.tolist()} if c.size >= 2 else float(d[0])
    out["derived"] = [{"pybamm_name": "Electrolyte diffusivity [m2.s-1]", "value": value, "unit": "m2.s-1",
                       "interval95": [float(max(d[k] - 1.96 * err[k], 0.0)), float(d[k] + 1.96 * err[k])],
                       "provenance": prov, "activation_energy_J_mol": float(ea) if ea_ok else 0.0,
                       "reference_temperature_K": float(t_ref)}]
    return out
