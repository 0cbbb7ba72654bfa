"""Continuum stage of ``multiscale run``: the double-layer capacitance curve and Nernst–Planck
transport through the interface with the atomistic D(z) and φ(z)."""
from __future__ import annotations

import numpy as np


def capacitance_curve(*, concentration_mol_m3: float, temperature_K: float, relative_permittivity: float,
                      stern_capacitance_F_m2: float, packing_fraction: float, potentials_V) -> dict:
    """Differential capacitance C(φ) of the Stern + Bikerman double layer [F/m²]."""
    from ..continuum import PoissonBoltzmann

    pb = PoissonBoltzmann(concentration_mol_m3, valence=1, temperature_K=temperature_K,
                          relative_permittivity=relative_permittivity,
                          stern_capacitance_F_m2=stern_capacitance_F_m2, packing_fraction=packing_fraction)
    potentials_V = np.asarray(potentials_V, dtype=float)
    c = np.asarray(pb.differential_capacitance(potentials_V), dtype=float)
    return {"potential_V": potentials_V, "capacitance_F_m2": c}


def interface_transport(z_m, diffusivity_m2_s, potential_V, *, temperature_K: float,
                        concentration_mol_m3: float) -> dict:
    """Steady Li⁺ profile in the atomistic φ(z) with the atomistic D(z), and the effective
    interfacial diffusivity D_eff = L / ∫ dz / D(z) (resistances in series)."""
    from ..continuum import NernstPlanck1D, Species

    z_m = np.asarray(z_m, dtype=float)
    d = np.asarray(diffusivity_m2_s, dtype=float)
    phi = np.asarray(potential_V, dtype=float)
    np_ = NernstPlanck1D(z_m, species=[Species("Li+", 1, d)], temperature_K=temperature_K, potential_V=phi)
    c0 = np.full(z_m.shape, concentration_mol_m3)
    ss = np_.steady_state({"Li+": c0})
    length = z_m[-1] - z_m[0]
    d_eff = length / np.trapezoid(1.0 / d, z_m)
    return {"z_m": z_m, "concentration_mol_m3": np.asarray(ss["Li+"]), "effective_diffusivity_m2_s": float(d_eff)}


def effective_diffusivity_interval(profile: dict, level: float = 0.95):
    """Interval of D_eff = L / ∫dz/D(z) by the delta method over the layer values of D (independent,
    with their block errors); None when the profile carries no layer errors."""
    from ..uq import delta_method, interval

    if len(profile.get("layer_diffusivity_error_m2_s", ())) < 2:
        return None
    z = np.asarray(profile["z_m"], dtype=float)
    zl = np.asarray(profile["layer_z_m"], dtype=float)
    d = np.asarray(profile["layer_diffusivity_m2_s"], dtype=float)
    err = np.asarray(profile["layer_diffusivity_error_m2_s"], dtype=float)
    if not (np.all(np.isfinite(err)) and np.all(d > 0)):
        return None
    scale = float(np.mean(d))      # work in units of the mean D: well-conditioned finite differences

    def d_eff(dl):
        return (z[-1] - z[0]) / np.trapezoid(1.0 / np.interp(z, zl, dl * scale), z) / scale

    value, std = delta_method(d_eff, d / scale, np.diag((err / scale) ** 2))
    low, high = interval(value * scale, std * scale, level)
    return [float(low), float(high)]


def plot_capacitance(curve: dict, path, band=None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    phi, c = curve["potential_V"], curve["capacitance_F_m2"] * 100.0
    ax.plot(phi, c, label="Stern + Bikerman PB")
    if band is not None:
        ax.fill_between(phi, band[0] * 100.0, band[1] * 100.0, alpha=0.3, label="95 % interval")
    ax.set_xlabel("Electrode potential vs pzc [V]")
    ax.set_ylabel("Differential capacitance [µF/cm²]")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
