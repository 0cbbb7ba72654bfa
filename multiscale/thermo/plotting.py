"""Hull plots (matplotlib imported lazily).

Binary systems: formation energy per atom against the fraction of the second element, with
the hull as a line. Ternary systems: the Gibbs triangle with the hull's tie lines and stable
(filled) / unstable (open, coloured by ΔE_hull) compounds. Four or more elements: ΔE_hull
of every entry (a hull-distance plot), since the hull itself cannot be drawn flat.
"""
from __future__ import annotations

import numpy as np


def _triangle_xy(x: np.ndarray) -> np.ndarray:
    """Atomic fractions (n, 3) → 2D points of an equilateral Gibbs triangle."""
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    return x @ corners


def plot_phase_diagram(pd, ax=None, *, label_stable: bool = True, max_e_above_hull_eV: float = 0.5):
    """Draw ``pd`` on ``ax`` (a new figure if None) and return the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.5))
    d = len(pd.elements)
    x, ef, eh, stable = pd._x, pd._ef, pd._e_above, pd._stable_mask
    if d == 2:
        order = np.argsort(x[stable, 1])
        xs, es = x[stable, 1][order], ef[stable][order]
        ax.plot(xs, es, "-", color="k", lw=1.2, label="hull")
        ax.scatter(x[~stable, 1], ef[~stable], c=np.minimum(eh[~stable], max_e_above_hull_eV), cmap="viridis",
                   marker="o", s=18, label="unstable")
        ax.scatter(xs, es, color="k", s=30, zorder=3, label="stable")
        if label_stable:
            for e, xi, yi in zip([pd.entries[i] for i in np.flatnonzero(stable)], x[stable, 1], ef[stable]):
                ax.annotate(e.reduced_formula, (xi, yi), textcoords="offset points", xytext=(0, -12),
                            ha="center", fontsize=8)
        ax.set_xlabel(f"x in {pd.elements[0]}$_{{1-x}}${pd.elements[1]}$_x$")
        ax.set_ylabel("Formation energy [eV/atom]")
        ax.legend(fontsize=8)
    elif d == 3:
        p = _triangle_xy(x)
        for f in pd._facets:
            loop = np.append(f, f[0])
            ax.plot(p[loop, 0], p[loop, 1], "-", color="0.3", lw=0.8)
        sc = ax.scatter(p[~stable, 0], p[~stable, 1], c=np.minimum(eh[~stable], max_e_above_hull_eV),
                        cmap="viridis", s=16, marker="o", vmin=0.0, vmax=max_e_above_hull_eV)
        ax.scatter(p[stable, 0], p[stable, 1], color="k", s=30, zorder=3)
        if (~stable).any():
            plt.colorbar(sc, ax=ax, label="E above hull [eV/atom]")
        if label_stable:
            for i in np.flatnonzero(stable):
                ax.annotate(pd.entries[i].reduced_formula, p[i], textcoords="offset points", xytext=(3, 3),
                            fontsize=8)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title("-".join(pd.elements))
    else:
        order = np.argsort(eh)
        ax.bar(np.arange(len(order)), eh[order], color=np.where(stable[order], "k", "tab:blue"))
        ax.set_xlabel("entry (sorted)")
        ax.set_ylabel("E above hull [eV/atom]")
        ax.set_title("-".join(pd.elements))
    return ax


def plot_voltage_profile(profile, ax=None):
    """Step plot of V(x) with the plateau phases annotated; returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.0))
    xb, v = profile.x_breaks, profile.voltages_V
    ax.plot(np.repeat(xb, 2)[1:-1], np.repeat(v, 2), color="k")
    for k, phases in enumerate(profile.phases):
        ax.annotate(" + ".join(phases), (0.5 * (xb[k] + xb[k + 1]), v[k]), textcoords="offset points",
                    xytext=(0, 4), ha="center", fontsize=7)
    ax.axhline(profile.average_voltage_V(), ls="--", color="tab:red", lw=0.8,
               label=f"average {profile.average_voltage_V():.3f} V")
    ax.set_xlabel(f"x in {profile.element}$_x${profile.host}")
    ax.set_ylabel(f"Voltage vs {profile.element}/{profile.element}$^+$ [V]")
    ax.legend(fontsize=8)
    return ax
