"""SPMe internal states → the normalised feature vector of the residual corrector.

The corrector learns ΔV = V_DFN − V_SPMe from what the single-particle model with electrolyte
(SPMe) knows about the cell. Its inputs are *only* the PyBaMM SPMe variables listed in
:data:`SPME_STATE_VARIABLES` (the interface shared with the real-time estimator, which
produces the same quantities from its own numpy SPMe), plus the ambient temperature [K] and
the time step dt [s] (dt enters the corrector's memory, not the instantaneous features).

Sign conventions follow PyBaMM: positive current discharges the cell; overpotentials are
the PyBaMM X-averaged quantities in volts (reaction overpotential η = φ_s − φ_e − U, so the
negative electrode's η is positive on discharge and the positive electrode's is negative).

Normalisation (fixed, not learned, so numpy and torch paths are identical):

====  ==============================================  ==================================
 #    feature                                          scale
====  ==============================================  ==================================
 0    C-rate  c = I / Q_nom                            [1/h]
 1    terminal voltage (V − 3.7 V) / 0.5 V
 2,3  surface stoichiometry x_s − 0.5 (neg, pos)
 4,5  average stoichiometry x̄ − 0.5 (neg, pos)
 6,7  10·(x_s − x̄) (neg, pos): particle concentration gradient
 8,9  reaction overpotential η / 0.05 V (neg, pos)
 10   concentration overpotential / 0.05 V
 11   electrolyte ohmic losses / 0.05 V
 12   (T − 298.15 K) / 20 K
 13   10·(298.15 K / T − 1): the Arrhenius argument
====  ==============================================  ==================================

Reference: Marquis, Sulzer, Timms, Please, Chapman, "An asymptotic derivation of a single
particle model with electrolyte", J. Electrochem. Soc. 166 (2019) A3693 (the SPMe and its
variables); Sulzer et al., "Python Battery Mathematical Modelling (PyBaMM)", JORS 9 (2021).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ..errors import InputError, check_range

#: PyBaMM SPMe variables the corrector may use (the pinned HYBRID ↔ ESTIMATOR interface).
SPME_STATE_VARIABLES: tuple[str, ...] = (
    "Current [A]",
    "Voltage [V]",
    "X-averaged negative particle surface stoichiometry",
    "X-averaged positive particle surface stoichiometry",
    "Average negative particle stoichiometry",
    "Average positive particle stoichiometry",
    "X-averaged negative electrode reaction overpotential [V]",
    "X-averaged positive electrode reaction overpotential [V]",
    "X-averaged concentration overpotential [V]",
    "X-averaged electrolyte ohmic losses [V]",
)

#: Names of the columns returned by :func:`build_features`.
FEATURE_NAMES: tuple[str, ...] = (
    "C-rate [1/h]",
    "Voltage (normalised)",
    "Negative surface stoichiometry - 0.5",
    "Positive surface stoichiometry - 0.5",
    "Negative average stoichiometry - 0.5",
    "Positive average stoichiometry - 0.5",
    "Negative stoichiometry gradient (x10)",
    "Positive stoichiometry gradient (x10)",
    "Negative reaction overpotential / 50 mV",
    "Positive reaction overpotential / 50 mV",
    "Concentration overpotential / 50 mV",
    "Electrolyte ohmic losses / 50 mV",
    "Temperature (normalised)",
    "Arrhenius argument (x10)",
)

N_FEATURES = len(FEATURE_NAMES)
REFERENCE_TEMPERATURE_K = 298.15
_OVERPOTENTIAL_SCALE_V = 0.05


def build_features(
    states: Mapping[str, np.ndarray],
    ambient_temperature_K,
    nominal_capacity_Ah: float,
) -> np.ndarray:
    """Turn SPMe states into the corrector's feature matrix, shape ``(n, N_FEATURES)``.

    Parameters
    ----------
    states
        Mapping from each name in :data:`SPME_STATE_VARIABLES` to an array of shape ``(n,)``
        (time points of one cell, or cells at one time). Extra keys are ignored.
    ambient_temperature_K
        Scalar or array broadcastable to ``(n,)``, in kelvin (> 0).
    nominal_capacity_Ah
        Nominal capacity used for the C-rate ``c = I / Q_nom`` (Chen2020: 5 A h).

    Returns
    -------
    ndarray (n, N_FEATURES), float64, columns as :data:`FEATURE_NAMES`.

    Raises
    ------
    InputError
        A state is missing, has the wrong shape or is not finite; the temperature or capacity
        is not positive.
    """
    q = check_range("nominal_capacity_Ah", nominal_capacity_Ah, low=0.0, low_inclusive=False)
    missing = [k for k in SPME_STATE_VARIABLES if k not in states]
    if missing:
        raise InputError(f"states is missing SPMe variable(s) {missing}; required: {list(SPME_STATE_VARIABLES)}")
    cols = {}
    n = None
    for key in SPME_STATE_VARIABLES:
        a = np.asarray(states[key], dtype=float).reshape(-1)
        if n is None:
            n = a.size
        elif a.size != n:
            raise InputError(f"states[{key!r}] has {a.size} values, expected {n} like {SPME_STATE_VARIABLES[0]!r}")
        if not np.all(np.isfinite(a)):
            raise InputError(f"states[{key!r}] contains non-finite values")
        cols[key] = a
    temperature = np.broadcast_to(np.asarray(ambient_temperature_K, dtype=float), (n,)).astype(float)
    if not np.all(np.isfinite(temperature)) or np.any(temperature <= 0):
        raise InputError(f"ambient_temperature_K = {ambient_temperature_K!r} must be finite and > 0 K")

    xn_s = cols["X-averaged negative particle surface stoichiometry"]
    xp_s = cols["X-averaged positive particle surface stoichiometry"]
    xn_a = cols["Average negative particle stoichiometry"]
    xp_a = cols["Average positive particle stoichiometry"]
    s = _OVERPOTENTIAL_SCALE_V
    out = np.empty((n, N_FEATURES))
    out[:, 0] = cols["Current [A]"] / q
    out[:, 1] = (cols["Voltage [V]"] - 3.7) / 0.5
    out[:, 2] = xn_s - 0.5
    out[:, 3] = xp_s - 0.5
    out[:, 4] = xn_a - 0.5
    out[:, 5] = xp_a - 0.5
    out[:, 6] = 10.0 * (xn_s - xn_a)
    out[:, 7] = 10.0 * (xp_s - xp_a)
    out[:, 8] = cols["X-averaged negative electrode reaction overpotential [V]"] / s
    out[:, 9] = cols["X-averaged positive electrode reaction overpotential [V]"] / s
    out[:, 10] = cols["X-averaged concentration overpotential [V]"] / s
    out[:, 11] = cols["X-averaged electrolyte ohmic losses [V]"] / s
    out[:, 12] = (temperature - REFERENCE_TEMPERATURE_K) / 20.0
    out[:, 13] = 10.0 * (REFERENCE_TEMPERATURE_K / temperature - 1.0)
    return out
