"""Thermodynamics stage of ``multiscale run``: the negative electrode's OCP from the Li–graphite hull.

The hull is computed here from the shipped total energies of graphite, LiC₁₂, LiC₆ and Li metal
(``data/li_graphite_chgnet``, made by ``multiscale screen --prototypes li-graphite --calculator
chgnet``); its Li_xC₆ insertion profile is a staircase V(θ), θ = x = c_s/c_s,max, which maps
onto PyBaMM's "Negative electrode OCP [V]".

Interval: the calculator's energy error, taken as CHGNet's test MAE on Materials Project
energies (30 meV/atom, Deng et al., Nat. Mach. Intell. 5, 1031 (2023)) and applied as an
independent Gaussian error per phase (σ = 30 meV/atom × atoms in the cell), propagated by Monte
Carlo through the hull (phases may leave or join it in a draw).

Whether the cell models use it is the config's ``cell.negative_ocp``: ``"base"`` (default) keeps
the base set's measured graphite OCP and only reports the hull's, because a GGA-trained
potential without dispersion puts graphite intercalation a few tenths of a volt too high (the
stage measures the gap against the base set); ``"hull"`` exports it into the cell.
"""
from __future__ import annotations

import numpy as np

HULL_DATASET = "li_graphite_chgnet"
#: CHGNet's energy MAE on its Materials Project test set [eV/atom] (Deng et al. 2023)
ENERGY_ERROR_EV_PER_ATOM = 0.030
#: stoichiometries at which the OCP and its interval are reported (inside each plateau of the
#: stage II/stage I staircase)
THETA_PROBES = (0.25, 0.75)


def hull_ocp(entries, *, host: str = "C6"):
    """Insertion voltage profile of ``host`` from entries (a :class:`~multiscale.thermo.VoltageProfile`)."""
    from ..thermo.screening import screen

    return screen(entries, open_element="Li", host=host, x_max=1.0).voltage_profile


def hull_ocp_interval(entries, *, n_draws: int = 400, seed: int = 0, level: float = 0.95) -> dict:
    """Monte Carlo of the OCP at :data:`THETA_PROBES` and of the mean OCP over θ ∈ [0, 1]."""
    from ..thermo.entries import Entry
    from ..uq import sample_interval

    rng = np.random.default_rng(seed)
    n_atoms = np.array([sum(e.composition.values()) for e in entries])
    draws = []
    for _ in range(n_draws):
        noisy = [Entry(dict(e.composition), e.energy_eV + rng.normal(0.0, ENERGY_ERROR_EV_PER_ATOM * n), e.name)
                 for e, n in zip(entries, n_atoms)]
        try:
            prof = hull_ocp(noisy)
        except Exception:  # noqa: BLE001 - a draw where LiC6 leaves the hull has no profile up to x = 1
            continue
        draws.append([*(prof.voltage_at(t) for t in THETA_PROBES), prof.average_voltage_V()])
    draws = np.asarray(draws)
    low, high = sample_interval(draws, level)
    return {"n_draws": int(len(draws)), "n_requested": int(n_draws), "low": np.asarray(low).tolist(),
            "high": np.asarray(high).tolist()}


def base_ocp(parameter_set: str, theta: np.ndarray) -> np.ndarray:
    """The base set's negative-electrode OCP [V] at stoichiometries ``theta``."""
    import pybamm

    pv = pybamm.ParameterValues(parameter_set)
    fn = pv["Negative electrode OCP [V]"]
    return np.array([float(pv.evaluate(fn(pybamm.Scalar(float(t))))) for t in theta])


def plot_ocp(theta, hull_v, base_v, base_name, path, band=None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(theta, hull_v, label="convex hull (CHGNet energies)")
    if band is not None:
        ax.errorbar(band["theta"], band["mid"], yerr=band["err"], fmt="o", capsize=3, color="C0",
                    label="hull 95 % interval (energy MAE)")
    ax.plot(theta, base_v, "--", label=f"base set {base_name}")
    ax.set_xlabel("stoichiometry θ = x in Li$_x$C$_6$")
    ax.set_ylabel("Negative electrode OCP [V vs Li]")
    ax.set_ylim(-0.05, 1.0)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
