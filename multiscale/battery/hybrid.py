"""``HybridSPMe``: PyBaMM's SPMe (guarded) plus a learned residual towards the DFN.

    V_hybrid(t) = V_SPMe(t) + ΔV̂(t),   ΔV̂ = ensemble mean of the corrector,

where V_SPMe comes from the guarded SPMe (:mod:`multiscale.battery.robust_spme`) solved by PyBaMM
with IDAKLU on the user's current (a linear interpolant of the profile, positive = discharge),
and ΔV̂ from :class:`~multiscale.battery.corrector.ResidualCorrector` fed with the SPMe's states
(:mod:`multiscale.battery.features`). The run stops where the *hybrid* voltage leaves
[lower, upper] voltage cut-off of the parameter set, which is where the DFN it imitates stops:
the guarded SPMe's own voltage events are widened (robust_spme.GUARD_VOLTAGE_LOW/HIGH), so the
bare SPMe reaching 2.5 V does not end the run, the corrected voltage does.

Known limit: electrolyte depletion. Under long ~2.5–3C discharge pulses the SPMe's electrolyte
concentration (reaction spread uniformly) goes below zero; the DFN's c_e reaches zero too, but
its reaction moves into the undepleted layer next to the separator, whose particles saturate and
the DFN voltage collapses to the cut-off. No SPMe state resolves that layer, so there the hybrid
is tens of mV off (held-out Chen2020: RMSE ~25–36 mV on depleted points vs ~1.3–2.9 mV elsewhere)
and its cut-off time can miss the DFN's by minutes. Such points are marked in the column
"Electrolyte depleted" (the guarded SPMe's min_x c_e ≤ 0; the SPMe's own state, no reference).

Reference convention (CONTRACT.md): "Ambient temperature [K]" = "Initial temperature [K]" = T,
initial stoichiometries from ``initial_soc`` (PyBaMM ``set_initial_state``), isothermal.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import DataFileError
from ..io import atomic_write_json
from .corrector import ResidualCorrector
from .envelope import Envelope, check_operating_point
from .features import build_features
from .protocols import validate_profile

DEFAULT_MODEL = "hybrid_chen2020"
COLUMNS = ("Time [s]", "Current [A]", "Voltage [V]", "SPMe voltage [V]", "Correction [V]",
           "Correction spread [V]", "Out of envelope", "Electrolyte depleted")


class HybridSPMe:
    """SPMe + ML residual corrector (see module docstring).

    Parameters
    ----------
    corrector
        A fitted :class:`ResidualCorrector`.
    envelope
        The training envelope (points outside are flagged in ``simulate``).
    parameter_set
        Name of the PyBaMM parameter set the corrector was trained on.
    """

    def __init__(self, corrector: ResidualCorrector, envelope: Envelope, *, parameter_set: str = "Chen2020"):
        corrector._check_fitted()
        self.corrector = corrector
        self.envelope = envelope
        self.parameter_set = parameter_set
        from .datagen import base_parameter_values

        self.parameter_values = base_parameter_values(parameter_set)

    @property
    def nominal_capacity_Ah(self) -> float:
        return float(self.parameter_values["Nominal cell capacity [A.h]"])

    @property
    def voltage_cutoffs_V(self) -> tuple[float, float]:
        pv = self.parameter_values
        return float(pv["Lower voltage cut-off [V]"]), float(pv["Upper voltage cut-off [V]"])

    # -- persistence ------------------------------------------------------------------------
    @classmethod
    def load(cls, name: str = DEFAULT_MODEL, *, directory=None) -> "HybridSPMe":
        """Load a shipped model (``models/<name>/``) or one saved with :meth:`save` in ``directory``."""
        from ..resources import model_path

        directory = Path(directory) if directory is not None else model_path(name)
        f = directory / "hybrid.json"
        if not f.exists():
            raise DataFileError(f"{f} not found; retrain with `multiscale hybrid train`")
        meta = json.loads(f.read_text())
        return cls(ResidualCorrector.load(directory), Envelope.from_dict(meta["envelope"]),
                   parameter_set=meta["parameter_set"])

    def save(self, directory) -> Path:
        directory = Path(directory)
        self.corrector.save(directory)
        atomic_write_json(directory / "hybrid.json", {"parameter_set": self.parameter_set,
                                                      "envelope": self.envelope.to_dict(),
                                                      "spme": "guarded PyBaMM SPMe (multiscale.battery.robust_spme)"})
        return directory

    # -- simulation -------------------------------------------------------------------------
    def spme_states(self, time_s, current_A, *, ambient_temperature_K: float, initial_soc: float) -> dict:
        """Guarded-SPMe states at the profile points (dict of arrays: SPME_STATE_VARIABLES and
        robust_spme.MIN_ELECTROLYTE_VARIABLE)."""
        from .features import SPME_STATE_VARIABLES
        from .robust_spme import MIN_ELECTROLYTE_VARIABLE, robust_spme_states

        return robust_spme_states(time_s, current_A, ambient_temperature_K=ambient_temperature_K,
                                  initial_soc=initial_soc, parameter_values=self.parameter_values,
                                  variables=(*SPME_STATE_VARIABLES, MIN_ELECTROLYTE_VARIABLE))

    def simulate(self, time_s, current_A, *, ambient_temperature_K: float = 298.15, initial_soc: float = 1.0,
                 stop_at_cutoff: bool = True):
        """Run the hybrid model on a current profile; returns a :class:`pandas.DataFrame`.

        Columns: "Time [s]", "Current [A]", "Voltage [V]" (hybrid), "SPMe voltage [V]",
        "Correction [V]" (ΔV̂ = Voltage − SPMe voltage), "Correction spread [V]" (ensemble
        standard deviation) and "Out of envelope" (bool: outside the training envelope, the
        correction is an extrapolation), "Electrolyte depleted" (bool: the guarded SPMe's electrolyte
        concentration is ≤ 0 somewhere; the DFN's reaction front is not resolved there, see the
        module docstring). Rows end where the hybrid voltage leaves the cut-offs (``stop_at_cutoff``;
        the last row is the last profile point within them, the DFN's convention) or the guarded
        SPMe stops; ``df.attrs["termination"]`` says which. If the first point is already outside
        the cut-offs, the single first row is returned with that termination.

        Raises :class:`InputError` for non-finite current, non-increasing time, T outside
        243.15–333.15 K or ``initial_soc`` outside [0, 1].
        """
        import pandas as pd
        import pybamm

        t, i = validate_profile(time_s, current_A)
        temp, soc0 = check_operating_point(ambient_temperature_K, initial_soc)
        try:
            res = self.spme_states(t, i, ambient_temperature_K=temp, initial_soc=soc0)
        except pybamm.SolverError as exc:
            from ..errors import ConvergenceError

            raise ConvergenceError(f"the guarded SPMe failed on this profile: {exc}") from None
        n = res["Time [s]"].size
        termination = "final time" if n == t.size else f"SPMe stopped ({res['termination']})"
        feats = build_features(res, temp, self.nominal_capacity_Ah)
        dv, spread = self.corrector.predict_sequence(feats, t[:n])
        v_spme = np.asarray(res["Voltage [V]"])
        v = v_spme + dv
        if stop_at_cutoff:
            lo, hi = self.voltage_cutoffs_V
            bad = np.flatnonzero((v < lo) | (v > hi))
            if bad.size:
                k = int(bad[0])
                termination = f"{'Minimum' if v[k] < lo else 'Maximum'} voltage cut-off at t = {t[k]:g} s"
                n = max(k, 1)
        flags = self.envelope.flags(t[:n], i[:n], temp, soc0, self.nominal_capacity_Ah)
        from .robust_spme import MIN_ELECTROLYTE_VARIABLE

        depleted = np.asarray(res[MIN_ELECTROLYTE_VARIABLE], dtype=float)[:n] <= 0.0
        df = pd.DataFrame({COLUMNS[0]: t[:n], COLUMNS[1]: i[:n], COLUMNS[2]: v[:n], COLUMNS[3]: v_spme[:n],
                           COLUMNS[4]: dv[:n], COLUMNS[5]: spread[:n], COLUMNS[6]: flags, COLUMNS[7]: depleted})
        df.attrs.update({"termination": termination, "ambient_temperature_K": temp, "initial_soc": soc0,
                         "parameter_set": self.parameter_set, "envelope": self.envelope.describe()})
        return df

    def estimator(self, n_cells: int = 1, *, initial_soc=1.0, ambient_temperature_K=298.15, **kw):
        """Real-time estimator stepping this model (``multiscale.battery.estimator``)."""
        from .estimator import Estimator

        return Estimator(self, n_cells, initial_soc=initial_soc, ambient_temperature_K=ambient_temperature_K, **kw)


def plot_result(df, ax=None):
    """Plot hybrid and SPMe voltage of a :meth:`HybridSPMe.simulate` result; returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    t_min = df["Time [s]"] / 60.0
    ax.plot(t_min, df["SPMe voltage [V]"], "--", label="SPMe")
    ax.plot(t_min, df["Voltage [V]"], label="hybrid (SPMe + ΔV)")
    v, s = df["Voltage [V]"], df["Correction spread [V]"]
    ax.fill_between(t_min, v - 2 * s, v + 2 * s, alpha=0.3, label="±2σ ensemble")
    ax.set_xlabel("Time [min]")
    ax.set_ylabel("Voltage [V]")
    ax.legend()
    return ax
