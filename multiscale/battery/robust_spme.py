"""A guarded PyBaMM SPMe that keeps running where the plain SPMe's electrolyte depletes.

Why. The SPMe (Marquis et al., J. Electrochem. Soc. 166 (2019) A3693) solves electrolyte
diffusion with a reaction spread uniformly through each electrode. Under long ~3C discharge
pulses (seen at 40 °C with Chen2020) the positive-electrode electrolyte concentration c_e of
that reduced problem reaches zero or below, while in the DFN the reaction moves towards the
separator and c_e stays positive. Two SPMe terms are singular there:

- the concentration overpotential η_c = 2(1 − t⁺)χ RT/F · ⟨ln(c_e/c̄_e)⟩, where PyBaMM floors
  the argument at 1e-15 (ln → −34.5, η_c of about −1.8 V), and
- the exchange current j0 = m_ref e^{−E_a/R(1/T − 1/T_ref)} c_e^½ c_s^½ (c_max − c_s)^½,
  which tends to 0, so the Butler–Volmer reaction overpotential η_r = (2RT/F) asinh(j/2j0) diverges,

and the SPMe voltage collapses to the cut-off within seconds while the DFN runs on.

Guard. (1) The MacInnes-function argument is floored at ``MACINNES_FLOOR`` (c_e/c̄_e ≥ 0.05, so
|η_c| ≤ ~0.16 V at 298 K); (2) the c_e entering both exchange currents is replaced by the smooth
floor c_f·ln(1 + exp(c_e/c_f)) with c_f = ``EXCHANGE_FLOOR_FRACTION``·c_e0 = 20 mol/m³ for
Chen2020 (equal to c_e within c_f·e^{−c_e/c_f}: below 1e-6 mol/m³ once c_e > 0.4 c_e0);
(3) the SPMe's own voltage events are widened to [``GUARD_VOLTAGE_LOW``, ``GUARD_VOLTAGE_HIGH``] so
that the *hybrid* voltage (SPMe + learned correction), not the bare SPMe, decides when the cell
reaches its cut-off. Away from depletion the guarded SPMe equals PyBaMM's SPMe (tested); in the
depleted region its error is learned by the residual corrector, whose training data include it.
"""
from __future__ import annotations

import contextlib
import os
from typing import Sequence

import numpy as np

from .features import SPME_STATE_VARIABLES

MACINNES_FLOOR = 0.05
EXCHANGE_FLOOR_FRACTION = 0.02
GUARD_VOLTAGE_LOW = 2.0
GUARD_VOLTAGE_HIGH = 4.6
#: Scalar variable added to the guarded SPMe: min over x of its electrolyte concentration. It goes
#: below zero where the SPMe's uniform-reaction electrolyte depletes (the guard's regime); there the
#: DFN's reaction front moves towards the separator, which no SPMe state resolves (see hybrid.py).
MIN_ELECTROLYTE_VARIABLE = "Minimum electrolyte concentration [mol.m-3]"


@contextlib.contextmanager
def _macinnes_floor(value: float):
    import pybamm

    old = pybamm.settings.tolerances["macinnes__c_e"]
    pybamm.settings.tolerances["macinnes__c_e"] = value
    try:
        yield
    finally:
        pybamm.settings.tolerances["macinnes__c_e"] = old


def guarded_spme_model():
    """PyBaMM SPMe with the MacInnes (log c_e) argument floored at :data:`MACINNES_FLOOR`.

    Adds the output :data:`MIN_ELECTROLYTE_VARIABLE` (does not change the solution)."""
    import pybamm

    with _macinnes_floor(MACINNES_FLOOR):
        model = pybamm.lithium_ion.SPMe()
    model.variables[MIN_ELECTROLYTE_VARIABLE] = pybamm.min(model.variables["Electrolyte concentration [mol.m-3]"])
    return model


def guard_parameter_values(parameter_values):
    """Copy of ``parameter_values`` with floored c_e in both exchange currents and wide voltage events."""
    import pybamm

    pv = parameter_values.copy()
    c_f = EXCHANGE_FLOOR_FRACTION * float(pv["Initial concentration in electrolyte [mol.m-3]"])
    for electrode in ("Negative", "Positive"):
        key = f"{electrode} electrode exchange-current density [A.m-2]"
        j0 = pv[key]
        if not callable(j0):
            continue

        def guarded(c_e, c_s_surf, c_s_max, T, _j0=j0):
            c_safe = c_f * pybamm.log(1 + pybamm.exp(c_e / c_f))
            return _j0(c_safe, c_s_surf, c_s_max, T)

        pv[key] = guarded
    pv.update({"Lower voltage cut-off [V]": GUARD_VOLTAGE_LOW, "Upper voltage cut-off [V]": GUARD_VOLTAGE_HIGH},
              check_already_exists=False)
    return pv


def robust_spme_states(time_s, current_A, *, ambient_temperature_K: float, initial_soc: float,
                       parameter_values=None, variables: Sequence[str] = SPME_STATE_VARIABLES) -> dict:
    """Solve the guarded SPMe on a profile; returns ``{"Time [s]", "termination", var: array}``.

    Outputs are at the profile time points reached (the guarded SPMe normally reaches the end).
    The initial state is set from ``initial_soc`` with the *unguarded* parameter set's OCV
    limits, so it is identical to PyBaMM's SPMe/DFN initial state.
    """
    from .datagen import base_parameter_values, solve_pybamm

    os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
    pv = parameter_values if parameter_values is not None else base_parameter_values()
    return solve_pybamm("SPMe", time_s, current_A, ambient_temperature_K=ambient_temperature_K,
                        initial_soc=initial_soc, parameter_values=guard_parameter_values(pv),
                        variables=variables, model=guarded_spme_model())


def states_as_arrays(result: dict, variables: Sequence[str] = SPME_STATE_VARIABLES) -> np.ndarray:
    """Stack the SPMe state variables of a solve into an array (n_points, len(variables))."""
    return np.column_stack([np.asarray(result[v], dtype=float) for v in variables])
