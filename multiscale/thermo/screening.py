"""Screening: candidates (a table of energies, or structures + an ASE calculator) → hull table.

For each candidate the table gives the formation energy per atom, the energy above the hull,
the decomposition products and — when the chemical space contains the open element (Li by
default) — the voltage window in which the phase is stable against a Li/Li⁺ reservoir
(:mod:`multiscale.thermo.grand_potential`). :meth:`ScreenResult.write` stores the table
(CSV), the phase diagram (JSON, reloadable with ``PhaseDiagram.from_json``) and a hull plot.

Table files: CSV with columns ``formula`` and ``energy_eV`` (total energy of the formula as
written; also accepted: ``energy [eV]``, ``energy``, ``total_energy_eV``) and optional
``name``; or JSON, a list of such objects (or ``{"entries": [...]}``).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..errors import DataFileError, InputError
from ..io import atomic_path, atomic_write_text
from .composition import formula_string
from .entries import Entry, as_entry
from .grand_potential import stability_windows
from .phase_diagram import PhaseDiagram
from .voltage import VoltageProfile, insertion_voltage_profile

ENERGY_COLUMNS = ("energy_eV", "energy [eV]", "energy", "total_energy_eV", "Energy [eV]")
FORMULA_COLUMNS = ("formula", "composition", "Formula")


def read_candidates_table(path: str | Path) -> list[Entry]:
    """Entries from a CSV or JSON table (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"candidates file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(data, dict):
            data = data.get("entries")
        if not isinstance(data, list):
            raise InputError(f"{path}: expected a list of entries or {{'entries': [...]}}")
        rows = data
    elif suffix in (".csv", ".gz") or path.name.endswith(".csv.gz"):
        import pandas as pd

        try:
            frame = pd.read_csv(path)
        except Exception as exc:  # pandas raises several parser error types
            raise InputError(f"{path}: could not be read as CSV ({exc})") from None
        rows = frame.to_dict(orient="records")
    else:
        raise InputError(f"candidates file {str(path)!r}: unknown table format {suffix!r}; use .csv or .json")
    entries = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InputError(f"{path}: row {i} is not an object")
        f_col = next((c for c in FORMULA_COLUMNS if c in row), None)
        e_col = next((c for c in ENERGY_COLUMNS if c in row), None)
        if f_col is None or e_col is None:
            raise InputError(f"{path}: row {i} needs a formula column ({'/'.join(FORMULA_COLUMNS)}) and an energy "
                             f"column ({'/'.join(ENERGY_COLUMNS)}); found {sorted(row)}")
        name = row.get("name")
        name = "" if name is None or (isinstance(name, float) and math.isnan(name)) else str(name)
        try:
            entries.append(as_entry((row[f_col], row[e_col], name), i))
        except InputError as exc:
            raise InputError(f"{path}: row {i} ({name or row[f_col]!r}): {exc}") from None
    return entries


@dataclass
class ScreenResult:
    """The phase diagram of the candidates, the per-entry table and optional voltage profile."""

    phase_diagram: PhaseDiagram
    table: Any  # pandas.DataFrame
    open_element: str | None = None
    voltage_profile: VoltageProfile | None = None

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``screen.csv``, ``energies.csv``, ``phase_diagram.json``, ``hull.png`` (+ ``voltage_profile.*``)."""
        import matplotlib
        import pandas as pd_

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"table": out / "screen.csv", "phase_diagram": out / "phase_diagram.json", "hull_plot": out / "hull.png"}
        with atomic_path(paths["table"]) as tmp:
            self.table.to_csv(tmp, index=False)
        atomic_write_text(paths["phase_diagram"], self.phase_diagram.to_json())
        ax = self.phase_diagram.plot()
        with atomic_path(paths["hull_plot"]) as tmp:
            ax.figure.savefig(tmp, dpi=120, bbox_inches="tight")
        plt.close(ax.figure)
        paths["energies"] = out / "energies.csv"  # formula, energy_eV, name: re-screen with --calculator table
        energies = pd_.DataFrame({"formula": [formula_string(e.composition) for e in self.phase_diagram.entries],
                                  "energy_eV": [e.energy_eV for e in self.phase_diagram.entries],
                                  "name": [e.name for e in self.phase_diagram.entries]})
        with atomic_path(paths["energies"]) as tmp:
            energies.to_csv(tmp, index=False)
        if self.voltage_profile is not None:
            paths["voltage_profile_json"] = out / "voltage_profile.json"
            atomic_write_text(paths["voltage_profile_json"], json.dumps(self.voltage_profile.to_dict(), indent=1))
            paths["voltage_profile"] = out / "voltage_profile.csv"
            with atomic_path(paths["voltage_profile"]) as tmp:
                self.voltage_profile.to_dataframe().to_csv(tmp, index=False)
            ax = self.voltage_profile.plot()
            paths["voltage_plot"] = out / "voltage_profile.png"
            with atomic_path(paths["voltage_plot"]) as tmp:
                ax.figure.savefig(tmp, dpi=120, bbox_inches="tight")
            plt.close(ax.figure)
        return paths


def screen(entries: Iterable[Any], *, open_element: str | None = "Li", host: str | None = None,
           x_max: float | None = None) -> ScreenResult:
    """Hull analysis of ``entries`` (Entries or ``(formula, energy_eV[, name])``).

    ``open_element`` (if present in the chemical space) adds each stable phase's voltage
    window vs M/M⁺; ``host`` adds the insertion voltage profile of that host formula.
    """
    import pandas as pd_

    pd = PhaseDiagram(entries)
    element = open_element if open_element in pd.elements else None
    if open_element is not None and open_element not in pd.elements and host is not None:
        raise InputError(f"open_element = {open_element!r} is not in the chemical space {'-'.join(pd.elements)}")
    windows = {w.name: w for w in stability_windows(pd, element=element)} if element and len(pd.elements) > 1 else {}
    table = pd.table().rename(columns={"energy [eV]": "Energy [eV]", "energy per atom [eV]": "Energy per atom [eV]",
                                       "formation energy [eV/atom]": "Formation energy [eV/atom]",
                                       "e_above_hull [eV/atom]": "E above hull [eV/atom]", "stable": "Stable",
                                       "decomposition": "Decomposition", "name": "Name", "formula": "Formula"})
    if element:
        table[f"Min stable potential vs {element} [V]"] = [_finite_or_none(windows, n, "min_potential_V")
                                                           for n in table["Name"]]
        table[f"Max stable potential vs {element} [V]"] = [_finite_or_none(windows, n, "max_potential_V")
                                                           for n in table["Name"]]
    profile = None
    if host is not None:
        profile = insertion_voltage_profile(pd, host, element=open_element or "Li", x_max=x_max)
    return ScreenResult(pd, pd_.DataFrame(table), element, profile)


def _finite_or_none(windows, name, attr):
    """A bound as a float, '+inf'/'-inf' text for unbounded, None (blank) for unstable phases."""
    w = windows.get(name)
    if w is None:
        return None
    v = getattr(w, attr)
    return v if math.isfinite(v) else ("+inf" if v > 0 else "-inf")
