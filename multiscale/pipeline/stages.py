"""The stages of the chain, in order. Each returns a JSON-serialisable dict; derived parameters go
under ``"parameters"`` (value, unit, interval95, provenance) and, when they map onto PyBaMM, under
``"derived"`` (:class:`multiscale.battery.export.DerivedParameter` as JSON) for the export stage.

A stage whose layer is not built raises :class:`multiscale.errors.NotBuiltError`; stages after it fall back to a
documented base-set or literature value and say so in the provenance.
"""
from __future__ import annotations

import json

import numpy as np

from .runner import Stage, StageContext


def _param(value, unit, interval95=None, provenance=""):
    out = {"value": float(value), "unit": unit, "provenance": provenance}
    if interval95 is not None:
        out["interval95"] = [float(interval95[0]), float(interval95[1])]
    return out


# ----------------------------------------------------------------------------------------------
def stage_md(ctx: StageContext) -> dict:
    from .atomistic_stage import run_md

    return run_md(ctx)


def stage_analysis(ctx: StageContext) -> dict:
    """Interface analysis of the MD stage's frames, plus the shipped bulk D_e(c, T)."""
    from .atomistic_stage import run_analysis
    from .transport_stage import bulk_transport

    out = run_analysis(ctx)
    bulk = bulk_transport(ctx.config, ctx.figures_dir)
    out.setdefault("parameters", {}).update(bulk.get("parameters", {}))
    out["derived"] = out.get("derived", []) + bulk.get("derived", [])
    out["bulk_transport"] = {k: v for k, v in bulk.items() if k not in ("parameters", "derived")}
    return out


def stage_reactions(ctx: StageContext) -> dict:
    from .atomistic_stage import run_reactions

    return run_reactions(ctx)


# ----------------------------------------------------------------------------------------------
def stage_continuum(ctx: StageContext) -> dict:
    """PB (Stern + Bikerman) capacitance curve with a delta-method band over the Stern capacitance;
    Nernst–Planck through the atomistic D(z), φ(z) when the analysis stage produced them."""
    import pybamm

    from ..uq import delta_method, interval
    from .continuum_stage import (capacitance_curve, contact_resistance_Ohm, effective_diffusivity_interval,
                                  interface_transport, plot_capacitance, resistance_interval)

    cfg, el, itf = ctx.config, ctx.config["electrolyte"], ctx.config["interface"]
    n = 11 if cfg["run"]["fast"] else 41
    w = itf["potential_window_V"]
    potentials = np.linspace(-w, w, n)
    c_h = itf["stern_capacitance_F_m2"]
    std_h = itf["stern_capacitance_rel_std"] * c_h

    def curve_of(theta):
        return capacitance_curve(concentration_mol_m3=el["concentration_mol_m3"], temperature_K=el["temperature_K"],
                                 relative_permittivity=el["relative_permittivity"],
                                 stern_capacitance_F_m2=float(np.ravel(theta)[0]),
                                 packing_fraction=itf["packing_fraction"], potentials_V=potentials)["capacitance_F_m2"]

    c, c_std = delta_method(curve_of, np.array([c_h]), np.array([[std_h**2]]), method="finite-difference")
    c, c_std = np.asarray(c), np.asarray(c_std)
    low, high = interval(c, c_std, 0.95)
    plot_capacitance({"potential_V": potentials, "capacitance_F_m2": c}, ctx.figures_dir / "capacitance_curve.png",
                     band=(low, high))
    i0 = int(np.argmin(np.abs(potentials)))
    prov = (f"live: Stern + Bikerman Poisson–Boltzmann (ν = {itf['packing_fraction']}), C_H = {c_h} F/m² ± "
            f"{100 * itf['stern_capacitance_rel_std']:.0f} % (literature range of Helmholtz capacitances, "
            f"Bard & Faulkner ch. 13), delta method")
    out = {
        "capacitance_curve": {"potential_V": potentials.tolist(), "capacitance_F_m2": c.tolist(),
                              "low": low.tolist(), "high": high.tolist()},
        "parameters": {"Double-layer capacitance at pzc": _param(c[i0], "F.m-2", (low[i0], high[i0]), prov)},
        "derived": [{"pybamm_name": f"{side} electrode double-layer capacity [F.m-2]", "value": float(c[i0]),
                     "unit": "F.m-2", "interval95": [float(low[i0]), float(high[i0])], "provenance": prov}
                    for side in ("Negative", "Positive")],
    }
    profile = ctx.results.get("analysis", {}).get("interface_profile")
    if profile:
        tr = interface_transport(profile["z_m"], profile["diffusivity_m2_s"], profile["potential_V"],
                                 temperature_K=el["temperature_K"], concentration_mol_m3=el["concentration_mol_m3"])
        stand_in = ("the solvent's D∥(z) stands in for Li⁺'s (one Li⁺ per cell gives no layer statistics); "
                    "interval: delta method over the layers' D∥ with their block errors")
        out["parameters"]["Interfacial effective Li+ diffusivity"] = _param(
            tr["effective_diffusivity_m2_s"], "m2.s-1", effective_diffusivity_interval(profile),
            f"live: Nernst–Planck with the ML-MD D(z) and φ(z), D_eff = L / ∫dz/D(z); {stand_in}")
        r_iv = resistance_interval(profile, temperature_K=el["temperature_K"],
                                   concentration_mol_m3=el["concentration_mol_m3"])
        r_prov = (f"live: Li⁺ current across the interfacial layer ({1e9 * (profile['z_m'][-1] - profile['z_m'][0]):.2f} nm), "
                  "R = ∫ RT / (F² D(z) c_b) dz at the bulk concentration (the mean-field c(z) in the molecular φ(z) "
                  "is not the ion's potential of mean force; see continuum_stage.interface_transport); " + stand_in)
        out["parameters"]["Interfacial Li+ resistance, area-specific"] = _param(
            tr["area_specific_resistance_Ohm_m2"], "Ohm.m2", r_iv, r_prov)
        base = pybamm.ParameterValues(cfg["cell"]["parameter_set"])
        out["derived"].append({
            "pybamm_name": "Contact resistance [Ohm]", "unit": "Ohm",
            "value": contact_resistance_Ohm(tr["area_specific_resistance_Ohm_m2"], base),
            "interval95": None if r_iv is None else [contact_resistance_Ohm(r, base) for r in r_iv],
            "provenance": (r_prov + f"; as PyBaMM's lumped series resistance over the negative particles' surface "
                           f"(a L A of base set {cfg['cell']['parameter_set']}); the positive electrode has no "
                           "atomistic model and adds nothing")})
        out["interface_transport"] = {k: np.asarray(v).tolist() for k, v in tr.items()}
    else:
        analysis = ctx.results.get("analysis")
        why = (analysis or {}).get("note") or ("the analysis stage did not run" if analysis is None
                                               else "the analysis stage produced no D(z), φ(z) profile")
        out["note"] = f"Nernst–Planck with atomistic D(z), φ(z) skipped: {why}"
    return out


# ----------------------------------------------------------------------------------------------
def stage_thermo(ctx: StageContext) -> dict:
    """Li_xC₆ OCP from the convex hull of the shipped Li–graphite energies, with a Monte Carlo interval;
    compared with the base set's graphite OCP. Exported into the cell when ``cell.negative_ocp = "hull"``."""
    from ..resources import data_path
    from ..thermo.screening import read_candidates_table
    from .thermo_stage import (ENERGY_ERROR_EV_PER_ATOM, HULL_DATASET, THETA_PROBES, base_ocp, hull_ocp,
                               hull_ocp_interval, plot_ocp)

    cfg = ctx.config
    entries = read_candidates_table(data_path(HULL_DATASET, "energies.csv"))
    prof = hull_ocp(entries)
    mc = hull_ocp_interval(entries, n_draws=100 if cfg["run"]["fast"] else 400, seed=cfg["run"]["seed"])
    theta_tab, v_tab = prof.ocp_table(step_width=0.05)
    base_name = cfg["cell"]["parameter_set"]
    theta = np.linspace(0.02, 0.98, 97)
    v_hull = np.interp(theta, theta_tab, v_tab)
    v_base = base_ocp(base_name, theta)
    gap = float(np.mean(v_hull - v_base))
    mid = [prof.voltage_at(t) for t in THETA_PROBES]
    band = {"theta": list(THETA_PROBES), "mid": mid,
            "err": [[m - lo for m, lo in zip(mid, mc["low"][:2])], [hi - m for m, hi in zip(mid, mc["high"][:2])]]}
    plot_ocp(theta, v_hull, v_base, base_name, ctx.figures_dir / "negative_ocp.png", band=band)
    prov = (f"live: convex hull of shipped CHGNet energies (data/{HULL_DATASET}: graphite, LiC12, LiC6, Li), "
            f"interval: Monte Carlo over a {1e3 * ENERGY_ERROR_EV_PER_ATOM:.0f} meV/atom energy error per phase "
            f"({mc['n_draws']} draws; independent per phase, an upper bound: errors of similar phases are correlated)")
    params = {f"Li_xC6 hull OCP at θ = {t}": {"value": float(m), "unit": "V", "provenance": prov,
                                                "interval95": [float(lo), float(hi)]}
              for t, m, lo, hi in zip(THETA_PROBES, mid, mc["low"], mc["high"])}
    params["Li_xC6 hull OCP mean over θ ∈ [0, 1]"] = {
        "value": prof.average_voltage_V(), "unit": "V", "provenance": prov,
        "interval95": [float(mc["low"][-1]), float(mc["high"][-1])]}
    params[f"Hull OCP minus {base_name} graphite OCP (mean over θ ∈ [0.02, 0.98])"] = {
        "value": gap, "unit": "V", "provenance": f"live: hull profile vs base set {base_name}; a GGA-trained "
        "potential without dispersion over-binds Li in graphite"}
    out = {"voltage_profile": prof.to_dict(), "ocp_table": {"theta": theta_tab.tolist(), "V": v_tab.tolist()},
           "parameters": params, "used_in_cell": cfg["cell"]["negative_ocp"] == "hull"}
    if out["used_in_cell"]:
        out["derived"] = [{"pybamm_name": "Negative electrode OCP [V]", "unit": "V",
                           "value": {"x": theta_tab.tolist(), "y": v_tab.tolist()}, "provenance": prov}]
    else:
        out["note"] = (f"the cell keeps the base set's graphite OCP (cell.negative_ocp = 'base'): the hull OCP is "
                       f"{gap:+.2f} V from it on average; set cell.negative_ocp = 'hull' to use it")
    return out


# ----------------------------------------------------------------------------------------------
def stage_export(ctx: StageContext) -> dict:
    """Derived parameters → PyBaMM ParameterValues, BPX JSON and a parameter-set module."""
    from ..battery.export import DerivedParameter, export_parameters, write_bpx, write_parameter_set_module

    derived = []
    for res in ctx.results.values():
        for item in res.get("derived", []):
            item = dict(item)
            if item.get("interval95") is not None:
                item["interval95"] = tuple(item["interval95"])
            derived.append(DerivedParameter(**item))
    base = ctx.config["cell"]["parameter_set"]
    export = export_parameters(derived, base_set=base)
    write_bpx(export, ctx.out_dir / "parameters.bpx.json", title="multiscale run")
    write_parameter_set_module(export, ctx.out_dir / "multiscale_parameters.py", name="multiscale_parameters")
    return {"base_set": base, "replaced": export.replaced,
            "bpx_file": "parameters.bpx.json", "parameter_set_module": "multiscale_parameters.py"}


def stage_cell(ctx: StageContext) -> dict:
    """DFN, SPMe and the hybrid SPMe on a drive-like profile with the exported parameters."""
    import warnings

    import pybamm

    from .cell_stage import plot_cell, run_cell

    with warnings.catch_warnings():
        # The BPX file carries no thermal data; PyBaMM says it defaults them (isothermal runs).
        warnings.filterwarnings("ignore", message=".*not found in BPX file.*")
        pv = pybamm.ParameterValues.create_from_bpx(str(ctx.out_dir / "parameters.bpx.json"))
    cfg = ctx.config["cell"]
    duration = 300.0 if ctx.config["run"]["fast"] else cfg["profile_duration_s"]
    res = run_cell(pv, duration_s=duration, initial_soc=cfg["initial_soc"],
                   temperature_K=ctx.config["electrolyte"]["temperature_K"], seed=ctx.config["run"]["seed"])
    plot_cell(res, ctx.figures_dir / "cell_voltage.png")
    np.savez_compressed(ctx.out_dir / "cell_voltage.npz", **{k: np.asarray(v) for k, v in res.items()})
    dfn = res["DFN"]
    out = {"duration_s": duration, "parameters": {}}
    for name in ("SPMe", "hybrid"):
        if name in res:
            err = res[name] - dfn
            ok = np.isfinite(err)
            how = (f"live: drive-like profile, {duration:.0f} s, exported parameters" if name == "SPMe" else
                   f"live: drive-like profile, {duration:.0f} s; the hybrid runs on the base set its corrector "
                   "was trained on (models/hybrid_chen2020), the DFN on the exported parameters, so the "
                   "difference includes every parameter the export replaced")
            out["parameters"][f"{name} vs DFN voltage RMSE"] = _param(
                1e3 * np.sqrt(np.mean(err[ok] ** 2)), "mV", None, how)
            out[f"{name}_completed_fraction"] = float(ok.mean())
    if "hybrid" in res and "hybrid_spread" in res:
        # the corrector ensemble's band: how wide, and how often the DFN falls inside it
        h, s = res["hybrid"], res["hybrid_spread"]
        ok = np.isfinite(h) & np.isfinite(s) & np.isfinite(dfn)
        out["parameters"]["hybrid voltage 95 % band half-width (profile mean)"] = _param(
            1e3 * 1.96 * float(np.mean(s[ok])), "mV", None,
            "live: corrector ensemble spread σ, band ±1.96σ around the hybrid voltage")
        out["parameters"]["DFN inside the hybrid 95 % band (fraction of samples)"] = _param(
            float(np.mean(np.abs(h[ok] - dfn[ok]) <= 1.96 * s[ok])), "1", None,
            "live: empirical coverage of the ensemble band on this profile (an ensemble spread is not a "
            "calibrated interval; this says how far from calibrated it is)")
    if "hybrid" not in res:
        out["note"] = "hybrid SPMe not available (model not built or not shipped)"
    return out


STAGES: list[Stage] = [
    Stage("md", "ML-MD of the default interface at several fields", stage_md),
    Stage("analysis", "RDF, D(z), φ(z) from the trajectories", stage_analysis),
    Stage("reactions", "charge-transfer coefficient α from E_a(φ)", stage_reactions),
    Stage("continuum", "PB capacitance with interval, Nernst–Planck with D(z), φ(z)", stage_continuum),
    Stage("thermo", "negative-electrode OCP from the Li–graphite convex hull", stage_thermo),
    Stage("export", "derived parameters → PyBaMM (BPX)", stage_export),
    Stage("cell", "PyBaMM DFN, SPMe and hybrid SPMe on a drive-like profile", stage_cell),
]


def describe() -> str:
    return json.dumps([{"name": s.name, "description": s.description} for s in STAGES], indent=2)
