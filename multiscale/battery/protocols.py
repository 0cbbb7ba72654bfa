"""Current profiles built in code: the protocols the hybrid model is trained and tested on.

Every protocol returns a :class:`Profile`: strictly increasing sample times ``time_s`` and the
cell current ``current_A`` at those times (positive = discharge, PyBaMM convention), linearly
interpolated in between by the solvers. Step changes are written as 1 s ramps (two samples one
second apart), plateaus are sampled every ``dt_s`` (10 s by default), so the time step is
variable. Currents are given as C-rates c times the nominal capacity Q [A h]: I = c·Q / 1 h.

Families (``FAMILIES``):

- ``cc_discharge`` / ``cc_charge``: constant current, 0.1C–3C;
- ``cccv_charge``: CC charge, then an exponentially tapering current I(t) = I_cc·exp(−t/τ)
  down to C/20, the current shape of a constant-voltage hold (Newman & Thomas-Alyea,
  *Electrochemical Systems*, 3rd ed., 2004, ch. 22: the CV current decays roughly
  exponentially with the cell's diffusion time);
- ``hppc``: hybrid pulse power characterisation — 10 s discharge pulse, 40 s rest, 10 s charge
  pulse at 3/4 of the discharge rate, rest, a 10 %-SOC discharge at 1C and a rest (after the
  US DOE / INL Battery Test Manual for PHEVs, INL/EXT-07-12536, 2008, shortened rests);
- ``rest``: a discharge or charge at 0.5C–3C followed by a long open-circuit relaxation;
- ``random_pc``: random piecewise-constant current, levels in −1C..3C, holds 10–300 s,
  rescaled so the RMS C-rate is at most 2C;
- ``drive_cycle``: drive-cycle-like current from a synthetic vehicle speed trace: a
  sequence of micro-trips (accelerate, cruise, brake, idle) through a road-load model
  P = m·v·a + ½ρC_dA·v³ + C_rr·m·g·v, with regenerative braking (negative current, capped at 1C)
  and peaks scaled to 2C–3C. (PyBaMM's drive-cycle files are downloaded at run time and are
  not available offline.)

All generators take a ``seed`` (or the family draws nothing random) and are deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, check_range

FAMILIES = ("cc_discharge", "cc_charge", "cccv_charge", "hppc", "rest", "random_pc", "drive_cycle")
_HOUR_S = 3600.0


@dataclass
class Profile:
    """A current profile: ``time_s`` strictly increasing [s], ``current_A`` [A], + discharge."""

    time_s: np.ndarray
    current_A: np.ndarray
    family: str = "custom"
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        self.time_s, self.current_A = validate_profile(self.time_s, self.current_A)

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1] - self.time_s[0])

    def rms_c_rate(self, nominal_capacity_Ah: float) -> float:
        """Time-weighted RMS of the C-rate over the profile (trapezoidal rule)."""
        c2 = (self.current_A / nominal_capacity_Ah) ** 2
        return float(np.sqrt(np.trapezoid(c2, self.time_s) / max(self.duration_s, 1e-12)))

    def plot(self, ax=None):
        """Plot current against time; returns the matplotlib axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        ax.plot(self.time_s / 60.0, self.current_A)
        ax.set_xlabel("Time [min]")
        ax.set_ylabel("Current [A]")
        ax.set_title(self.family)
        return ax


def validate_profile(time_s, current_A) -> tuple[np.ndarray, np.ndarray]:
    """Check a profile: 1-D, same length ≥ 2, finite, time strictly increasing from ≥ 0.

    Raises :class:`InputError` naming the offending argument and index.
    """
    t = np.asarray(time_s, dtype=float).reshape(-1) if np.ndim(time_s) <= 1 else None
    i = np.asarray(current_A, dtype=float).reshape(-1) if np.ndim(current_A) <= 1 else None
    if t is None or i is None:
        raise InputError("time_s and current_A must be 1-D arrays")
    if t.size < 2 or t.size != i.size:
        raise InputError(f"time_s ({t.size} values) and current_A ({i.size} values) must have the same length >= 2")
    for name, a in (("time_s", t), ("current_A", i)):
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise InputError(f"{name} contains {bad.size} non-finite value(s) (NaN or inf), first at index {bad[0]}")
    steps = np.diff(t)
    if np.any(steps <= 0):
        k = int(np.flatnonzero(steps <= 0)[0])
        raise InputError(
            f"time_s must be strictly increasing: time_s[{k + 1}] = {t[k + 1]!r} <= time_s[{k}] = {t[k]!r}"
        )
    if t[0] < 0:
        raise InputError(f"time_s[0] = {t[0]!r} is out of range: must be >= 0")
    return t, i


def piecewise_constant(durations_s, c_rates, nominal_capacity_Ah: float, *, dt_s: float = 10.0,
                       ramp_s: float = 1.0, family: str = "custom", params: dict | None = None) -> Profile:
    """Profile holding C-rate ``c_rates[k]`` for ``durations_s[k]``; steps as ``ramp_s`` ramps."""
    d = np.asarray(durations_s, dtype=float)
    c = np.asarray(c_rates, dtype=float)
    if d.shape != c.shape or d.ndim != 1 or d.size == 0:
        raise InputError("durations_s and c_rates must be 1-D arrays of the same non-zero length")
    if np.any(d <= ramp_s):
        raise InputError(f"every duration must exceed ramp_s = {ramp_s} s; got min {d.min()} s")
    times, rates = [0.0], [c[0]]
    t0 = 0.0
    for k in range(d.size):
        t_end = t0 + d[k]
        start = t0 if k == 0 else t0 + ramp_s
        inner = np.arange(start + dt_s, t_end - 1e-9, dt_s)
        if k > 0:
            times.append(start)
            rates.append(c[k])
        times.extend(inner.tolist())
        rates.extend([c[k]] * inner.size)
        times.append(t_end)
        rates.append(c[k])
        t0 = t_end
    t = np.asarray(times)
    keep = np.concatenate([[True], np.diff(t) > 1e-9])
    q = check_range("nominal_capacity_Ah", nominal_capacity_Ah, low=0, low_inclusive=False)
    return Profile(t[keep], np.asarray(rates)[keep] * q, family, dict(params or {}))


def cc(c_rate: float, duration_s: float, nominal_capacity_Ah: float, *, dt_s: float = 10.0,
       family: str | None = None) -> Profile:
    """Constant current at ``c_rate`` (> 0 discharge, < 0 charge) for ``duration_s``."""
    check_range("c_rate", abs(c_rate), low=0.0, high=5.0)
    fam = family or ("cc_discharge" if c_rate >= 0 else "cc_charge")
    return piecewise_constant([duration_s], [c_rate], nominal_capacity_Ah, dt_s=dt_s, family=fam,
                              params={"c_rate": c_rate})


def cccv_charge(c_rate: float, cc_duration_s: float, taper_tau_s: float, nominal_capacity_Ah: float,
                *, dt_s: float = 10.0, cutoff_c_rate: float = 0.05) -> Profile:
    """CC charge at ``c_rate`` (> 0, charging) then I = I_cc·exp(−t/τ) down to ``cutoff_c_rate``."""
    check_range("c_rate", c_rate, low=0.0, high=5.0, low_inclusive=False)
    base = piecewise_constant([cc_duration_s], [-c_rate], nominal_capacity_Ah, dt_s=dt_s)
    t_taper = taper_tau_s * np.log(c_rate / cutoff_c_rate) if c_rate > cutoff_c_rate else 0.0
    tt = np.arange(dt_s, t_taper + dt_s, dt_s)
    t = np.concatenate([base.time_s, base.time_s[-1] + tt])
    i = np.concatenate([base.current_A, -c_rate * nominal_capacity_Ah * np.exp(-tt / taper_tau_s)])
    return Profile(t, i, "cccv_charge", {"c_rate": c_rate, "cc_duration_s": cc_duration_s, "tau_s": taper_tau_s})


def hppc(pulse_c_rate: float, n_blocks: int, nominal_capacity_Ah: float, *, rest_s: float = 600.0,
         dt_s: float = 10.0) -> Profile:
    """HPPC: per block 10 s discharge pulse, 40 s rest, 10 s charge (¾ rate), rest, 10 % SOC at 1C, rest."""
    check_range("pulse_c_rate", pulse_c_rate, low=0.0, high=5.0, low_inclusive=False)
    d, c = [], []
    for _ in range(int(n_blocks)):
        d += [rest_s / 4, 10.0, 40.0, 10.0, 40.0, 360.0, rest_s]
        c += [0.0, pulse_c_rate, 0.0, -0.75 * pulse_c_rate, 0.0, 1.0, 0.0]
    return piecewise_constant(d, c, nominal_capacity_Ah, dt_s=dt_s, family="hppc",
                              params={"pulse_c_rate": pulse_c_rate, "n_blocks": int(n_blocks)})


def rest_after(c_rate: float, load_s: float, rest_s: float, nominal_capacity_Ah: float, *,
               dt_s: float = 10.0) -> Profile:
    """A load at ``c_rate`` for ``load_s`` followed by open circuit for ``rest_s`` (relaxation)."""
    return piecewise_constant([load_s, rest_s], [c_rate, 0.0], nominal_capacity_Ah, dt_s=dt_s, family="rest",
                              params={"c_rate": c_rate, "load_s": load_s, "rest_s": rest_s})


def random_piecewise_constant(seed: int, duration_s: float, nominal_capacity_Ah: float, *,
                              c_min: float = -1.0, c_max: float = 3.0, rms_max: float = 2.0,
                              hold_s: tuple[float, float] = (10.0, 300.0), dt_s: float = 10.0) -> Profile:
    """Random levels uniform in [c_min, c_max], holds log-uniform in ``hold_s``; RMS ≤ ``rms_max``."""
    rng = np.random.default_rng(seed)
    d, c, total = [], [], 0.0
    while total < duration_s:
        h = float(np.exp(rng.uniform(np.log(hold_s[0]), np.log(hold_s[1]))))
        h = round(max(h, 2.0 * 1.0 + 1.0))
        d.append(h)
        c.append(float(rng.uniform(c_min, c_max)))
        total += h
    c = np.asarray(c)
    rms = np.sqrt(np.sum(np.asarray(d) * c**2) / np.sum(d))
    if rms > rms_max:
        c *= rms_max / rms
    return piecewise_constant(d, c, nominal_capacity_Ah, dt_s=dt_s, family="random_pc",
                              params={"seed": int(seed), "rms_c_rate": float(min(rms, rms_max))})


def drive_cycle(seed: int, duration_s: float, nominal_capacity_Ah: float, *, peak_c_rate: float = 3.0,
                regen_max_c_rate: float = 1.0, dt_s: float = 5.0) -> Profile:
    """Drive-cycle-like current from a synthetic speed trace and a road-load power model.

    Vehicle: m = 1600 kg, C_d·A = 0.7 m², C_rr = 0.01, ρ_air = 1.2 kg/m³, drivetrain and
    regeneration efficiency folded into the final scaling. Power P(t) [W] → current ∝ P, scaled
    so that max I = ``peak_c_rate``·Q/1h; braking power is recovered down to −``regen_max_c_rate``.
    """
    check_range("peak_c_rate", peak_c_rate, low=0.0, high=5.0, low_inclusive=False)
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, duration_s + dt_s / 2, dt_s)
    v = np.zeros_like(t)
    k = 0
    while k < t.size:  # micro-trips: accelerate to a cruise speed, hold, brake, idle
        v_top = rng.uniform(8.0, 33.0)
        acc, dec = rng.uniform(0.6, 2.0), rng.uniform(0.8, 2.5)
        n_acc = max(1, int(v_top / acc / dt_s))
        n_cruise = int(rng.uniform(20, 400) / dt_s)
        n_dec = max(1, int(v_top / dec / dt_s))
        n_idle = int(rng.uniform(0, 60) / dt_s)
        seg = np.concatenate([np.linspace(0, v_top, n_acc + 1)[1:],
                              v_top + rng.normal(0, 1.0, n_cruise).cumsum() * 0.3,
                              np.linspace(v_top, 0, n_dec + 1)[1:], np.zeros(n_idle)])
        seg = np.clip(seg, 0.0, 40.0)
        n = min(seg.size, t.size - k)
        v[k:k + n] = seg[:n]
        k += n
    a = np.gradient(v, dt_s)
    m, cda, crr, rho, g = 1600.0, 0.7, 0.01, 1.2, 9.81
    power = m * v * a + 0.5 * rho * cda * v**3 + crr * m * g * v
    c = power / max(power.max(), 1.0) * peak_c_rate
    c = np.maximum(c, -regen_max_c_rate)
    return Profile(t, c * nominal_capacity_Ah, "drive_cycle", {"seed": int(seed), "peak_c_rate": peak_c_rate})


def make_profile(family: str, seed: int, nominal_capacity_Ah: float, *, initial_soc: float = 1.0,
                 max_duration_s: float = 7200.0) -> Profile:
    """Draw one profile of ``family`` with ``seed`` (the data-generation entry point).

    Charge families draw rates that the cell can take from ``initial_soc``; durations are
    capped at ``max_duration_s`` (0.5–2 h of simulated time).
    """
    if family not in FAMILIES:
        raise InputError(f"family = {family!r} is unknown; choose one of {FAMILIES}")
    rng = np.random.default_rng(seed)
    q = nominal_capacity_Ah
    if family in ("cc_discharge", "cc_charge"):
        c = float(np.exp(rng.uniform(np.log(0.1), np.log(3.0))))
        soc_room = initial_soc if family == "cc_discharge" else 1.0 - initial_soc
        dur = float(np.clip(soc_room / c * _HOUR_S * 1.05 + 300.0, 600.0, max_duration_s))
        return cc(c if family == "cc_discharge" else -c, dur, q)
    if family == "cccv_charge":
        c = float(rng.uniform(0.3, 2.0))
        room = max(1.0 - initial_soc - 0.1, 0.02)
        return cccv_charge(c, max(room / c * _HOUR_S, 60.0), float(rng.uniform(300, 1200)), q)
    if family == "hppc":
        return hppc(float(rng.uniform(1.0, 3.0)), int(rng.integers(2, 5)), q)
    if family == "rest":
        c = float(rng.uniform(0.5, 3.0)) * (1 if rng.random() < 0.7 else -1)
        return rest_after(c, float(rng.uniform(120, 900)), float(rng.uniform(1200, 3600)), q)
    dur = float(rng.uniform(1800.0, max_duration_s))
    if family == "random_pc":
        return random_piecewise_constant(int(rng.integers(2**31)), dur, q)
    return drive_cycle(int(rng.integers(2**31)), dur, q, peak_c_rate=float(rng.uniform(2.0, 3.0)))
