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
    """Steady Li⁺ profile c(z) in the atomistic φ(z) with the atomistic D(z), the effective
    interfacial diffusivity D_eff = L / ∫ dz / D(z) (resistances in series), and the layer's
    area-specific resistance to a Li⁺ current at the bulk concentration c_b,
    R = ∫ RT / (F² D(z) c_b) dz = L RT / (F² D_eff c_b) [Ω·m²].

    R is the series resistance of the Li⁺ partial conductivity κ₊ = F² D c / RT: at the electrode
    only the cation crosses (the reaction consumes it; the anion is blocked). It takes c_b, not the
    Nernst–Planck c(z): that profile is a mean-field Boltzmann factor in the molecular φ(z)
    (vacuum permittivity, the solvent's dipole layer included, no solvation free energy), which is
    not the ion's potential of mean force. In the default run its 0.8 V drop depletes Li⁺ by ~e⁻³⁰
    and would give ~20 Ω·m², a resistance no cell shows; c(z) is reported, not used for R.
    """
    from ..continuum import NernstPlanck1D, Species

    z_m = np.asarray(z_m, dtype=float)
    d = np.asarray(diffusivity_m2_s, dtype=float)
    phi = np.asarray(potential_V, dtype=float)
    np_ = NernstPlanck1D(z_m, species=[Species("Li+", 1, d)], temperature_K=temperature_K, potential_V=phi)
    c0 = np.full(z_m.shape, concentration_mol_m3)
    c = np.asarray(np_.steady_state({"Li+": c0})["Li+"])
    length = z_m[-1] - z_m[0]
    d_eff = length / np.trapezoid(1.0 / d, z_m)
    return {"z_m": z_m, "concentration_mol_m3": c, "effective_diffusivity_m2_s": float(d_eff),
            "area_specific_resistance_Ohm_m2": layer_resistance_Ohm_m2(length, d_eff, concentration_mol_m3,
                                                                       temperature_K)}


def layer_resistance_Ohm_m2(length_m: float, diffusivity_m2_s, concentration_mol_m3: float,
                            temperature_K: float):
    """R = L RT / (F² D c) [Ω·m²]: a layer of thickness L where Li⁺ (concentration c) diffuses with D."""
    from ..units import faraday_C_mol, gas_constant_J_mol_K

    rt_f2 = gas_constant_J_mol_K * temperature_K / faraday_C_mol**2
    return length_m * rt_f2 / (np.asarray(diffusivity_m2_s, dtype=float) * concentration_mol_m3)


def _series_interval(profile: dict, weight, level: float = 0.95):
    """Delta-method interval of I = ∫ w(z) / D(z) dz over the layer values of D (independent, with
    their block errors), D interpolated between layers onto ``profile["z_m"]``; None when the
    profile carries no layer errors."""
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
    w = np.broadcast_to(np.asarray(weight, dtype=float), z.shape)

    def integral(dl):
        return np.trapezoid(w / np.interp(z, zl, dl * scale), z) * scale

    value, std = delta_method(integral, d / scale, np.diag((err / scale) ** 2))
    return interval(value / scale, std / scale, level)


def effective_diffusivity_interval(profile: dict, level: float = 0.95):
    """Interval of D_eff = L / ∫dz/D(z) by the delta method over the layer values of D (independent,
    with their block errors); None when the profile carries no layer errors."""
    iv = _series_interval(profile, 1.0, level)
    if iv is None:
        return None
    z = np.asarray(profile["z_m"], dtype=float)
    length = z[-1] - z[0]
    return [float(length / iv[1]), float(length / iv[0])] if iv[0] > 0 else [float(length / iv[1]), float("inf")]


def resistance_interval(profile: dict, *, temperature_K: float, concentration_mol_m3: float,
                        level: float = 0.95):
    """Interval of R = L RT / (F² D_eff c_b) [Ω·m²] from the interval of D_eff (R is monotone in it);
    None without layer errors."""
    iv = effective_diffusivity_interval(profile, level)
    if iv is None:
        return None
    z = np.asarray(profile["z_m"], dtype=float)
    r = layer_resistance_Ohm_m2(z[-1] - z[0], np.array(iv[::-1]), concentration_mol_m3, temperature_K)
    return [float(r[0]), float(r[1])]


def contact_resistance_Ohm(area_specific_Ohm_m2: float, parameter_values) -> float:
    """The interfacial layer of the negative electrode as PyBaMM's lumped "Contact resistance [Ohm]".

    All of the current crosses the particle surface, A_int = a L A N (a = 3 ε_s / R, the
    spherical-particle surface per volume that PyBaMM uses; L the electrode thickness; A the
    electrode area; N the electrode pairs in parallel), so a layer of area-specific resistance R
    adds R / A_int in series, under the same uniform-current assumption as the lumped term.
    """
    pv = parameter_values
    a = 3.0 * float(pv["Negative electrode active material volume fraction"]) / float(pv["Negative particle radius [m]"])
    area = (a * float(pv["Negative electrode thickness [m]"]) * float(pv["Electrode height [m]"])
            * float(pv["Electrode width [m]"]) * float(pv["Number of electrodes connected in parallel to make a cell"]))
    return float(area_specific_Ohm_m2) / area


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
