"""The training envelope of the hybrid model: where the corrector has seen data.

The envelope is a box in (ambient temperature T, C-rate c = I/Q, state of charge) measured on
the training traces. The SOC along a profile is coulomb-counted from the initial SOC,

    SOC(t) = SOC₀ − (1 / 3600 Q) ∫₀ᵗ I(t') dt'        (Q in A h, I > 0 discharging),

with the trapezoidal rule on the profile's linear interpolation. Points outside the box are
*flagged* (the column "Out of envelope" of :meth:`HybridSPMe.simulate`), never silently
extrapolated. Inputs outside the physical validity range (``HARD_TEMPERATURE_RANGE_K``,
SOC outside [0, 1]) are errors, not flags.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import check_range

#: Temperatures the guarded SPMe with Chen2020 is used at all (beyond: an InputError).
HARD_TEMPERATURE_RANGE_K = (243.15, 333.15)


@dataclass(frozen=True)
class Envelope:
    """Box of the training data: temperature [K], |C-rate| [1/h], coulomb-counted SOC [-]."""

    temperature_min_K: float = 273.15
    temperature_max_K: float = 318.15
    c_rate_max: float = 3.0
    soc_min: float = 0.0
    soc_max: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Envelope":
        return cls(**{k: float(d[k]) for k in cls.__dataclass_fields__})

    @classmethod
    def from_traces(cls, cases, nominal_capacity_Ah: float, *, soc_margin: float = 0.02) -> "Envelope":
        """Envelope of training cases (dicts with time_s, current_A, temperature_K, initial_soc)."""
        temps = [c["temperature_K"] for c in cases]
        cmax, smin, smax = 0.0, 1.0, 0.0
        for c in cases:
            cmax = max(cmax, float(np.max(np.abs(c["current_A"]))) / nominal_capacity_Ah)
            soc = soc_trajectory(c["time_s"], c["current_A"], c["initial_soc"], nominal_capacity_Ah)
            smin, smax = min(smin, soc.min()), max(smax, soc.max())
        return cls(float(min(temps)), float(max(temps)), float(cmax) * 1.001,
                   float(max(smin - soc_margin, 0.0)), float(min(smax + soc_margin, 1.0)))

    def flags(self, time_s, current_A, ambient_temperature_K: float, initial_soc: float,
              nominal_capacity_Ah: float) -> np.ndarray:
        """Boolean array (n,): True where the point lies outside the envelope."""
        c = np.abs(np.asarray(current_A, dtype=float)) / nominal_capacity_Ah
        soc = soc_trajectory(time_s, current_A, initial_soc, nominal_capacity_Ah)
        out = (c > self.c_rate_max) | (soc < self.soc_min) | (soc > self.soc_max)
        if not (self.temperature_min_K <= ambient_temperature_K <= self.temperature_max_K):
            out[:] = True
        return out

    def describe(self) -> str:
        return (f"T {self.temperature_min_K - 273.15:.1f}–{self.temperature_max_K - 273.15:.1f} °C, "
                f"|C-rate| ≤ {self.c_rate_max:.2f}, SOC {self.soc_min:.2f}–{self.soc_max:.2f}")


def soc_trajectory(time_s, current_A, initial_soc: float, nominal_capacity_Ah: float) -> np.ndarray:
    """Coulomb-counted SOC at each profile point (see module docstring)."""
    t = np.asarray(time_s, dtype=float)
    i = np.asarray(current_A, dtype=float)
    charge_As = np.concatenate([[0.0], np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t))])
    return float(initial_soc) - charge_As / (3600.0 * nominal_capacity_Ah)


def check_operating_point(ambient_temperature_K, initial_soc) -> tuple[float, float]:
    """Validate the hard ranges: T in :data:`HARD_TEMPERATURE_RANGE_K`, SOC₀ in [0, 1]."""
    t = check_range("ambient_temperature_K", ambient_temperature_K, low=HARD_TEMPERATURE_RANGE_K[0],
                    high=HARD_TEMPERATURE_RANGE_K[1])
    s = check_range("initial_soc", initial_soc, low=0.0, high=1.0)
    return t, s
