"""Real-time estimator: the hybrid SPMe (fast numpy SPMe + residual corrector) stepped per sample.

A BMS calls :meth:`Estimator.step` once per sample with the measured current (and, for state
estimation, the measured voltage). Each call advances every cell's SPMe
(:class:`~multiscale.battery.spme_fast.FastSPMe`, exact exponential integration, variable dt)
and the corrector memory, and returns the hybrid voltage

    V = V_SPMe + ΔV̂,   ΔV̂ = ensemble mean of the corrector (``HybridSPMe.corrector``),

for one cell (a float) or many (an ndarray). Sign convention: positive current discharges.

The corrector is evaluated in plain numpy with its layers fused over the ensemble: the
feature map of :func:`multiscale.battery.features.build_features` is affine in the SPMe
states, so it is folded into the first layer; members are stacked side by side in the first
layer and batched in the deeper ones, so one step is three small matrix products. The fused
form is checked against ``corrector.step_numpy(build_features(...))`` when the estimator is
built, and the reference path is used instead if they ever differ.

One cell stepped open loop with a scalar dt (the real-time path) runs as one numba-compiled
call when numba is installed (:mod:`multiscale.battery.estimator_kernel`: SPMe step, outputs,
memory, ensemble readout and the covariance prediction; the numpy path's operators and weights,
its results to round-off, checked at construction). Packs with a scalar dt keep the batched
BLAS products and numpy's SIMD tanh/arcsinh/log but run their elementwise and lookup passes as
numba kernels (``FastSPMe(compiled=True)``, ``estimator_kernel.build_pack``; float32 readout with
the biases folded into the products; voltages equal to the numpy pack path within 1e-6 V).
``compiled=False`` or no numba: numpy.

With ``measured_voltage_V`` an extended Kalman filter (:mod:`multiscale.battery.kalman`)
corrects SOC, the current-sensor offset and the corrector memory. ``Estimator.state`` gives
SOC, its variance, the out-of-envelope flag and status bits per cell.

Reference: Plett, "Extended Kalman filtering for battery management systems of LiPB-based HEV
battery packs, part 3", J. Power Sources 134 (2004) 277; Marquis et al., J. Electrochem. Soc.
166 (2019) A3693 (SPMe).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, check_range
from .spme_fast import STATUS_VOLTAGE, FastSPMe, check_current, check_dt

_FUSE_TOL = 1e-9
#: Pre-activation of the constant hidden unit of the compiled pack readout: tanh(30) == 1 in float32.
_UNIT_BIAS = 30.0


@dataclass(frozen=True)
class EstimatorState:
    """Per-cell estimate after the last step (arrays of shape (n_cells,))."""

    soc: np.ndarray
    soc_variance: np.ndarray
    current_offset_A: np.ndarray
    voltage_V: np.ndarray
    spme_voltage_V: np.ndarray
    correction_V: np.ndarray
    correction_spread_V: np.ndarray
    out_of_envelope: np.ndarray
    status: np.ndarray


class FusedCorrector:
    """numpy evaluation of a ``ResidualCorrector`` directly from the SPMe states.

    ``step(Y, dt, memory) -> (ΔV, spread, new_memory)`` with ``Y`` the (n, 10) matrix of the
    ``SPME_STATE_VARIABLES`` columns. Exactly the reference ``step_numpy(build_features(Y))``
    (checked at construction; ``self.fused`` says whether the fast form is used).
    """

    def __init__(self, corrector, ambient_temperature_K: float, nominal_capacity_Ah: float, *, seed: int = 0,
                 compiled: bool = True):
        from .features import SPME_STATE_VARIABLES, build_features

        self.ref = corrector
        self.names = SPME_STATE_VARIABLES
        self.T, self.q = float(ambient_temperature_K), float(nominal_capacity_Ah)
        self._build_features = build_features
        nv = len(self.names)
        feat = lambda Y: build_features({k: Y[:, j] for j, k in enumerate(self.names)}, self.T, self.q)  # noqa: E731
        f0 = feat(np.zeros((1, nv)))[0]
        A = feat(np.eye(nv)) - f0[None, :]
        self.tau = np.asarray(corrector.time_constants_s, dtype=float)
        weights = corrector.weights_
        k = corrector.n_members
        W0, b0 = weights[0]
        nf = corrector.n_features
        # first layer: members side by side; features folded in
        W0f = np.concatenate([W0[m, :nf, :] for m in range(k)], axis=1)
        W0m = np.concatenate([W0[m, nf:, :] for m in range(k)], axis=1)
        self.Wy = A @ W0f
        self.Wm = W0m
        self.b0 = f0 @ W0f + np.concatenate(list(b0), axis=0)
        self.deep_members = [(W.astype(np.float32), b[:, None, :].astype(np.float32))
                             for W, b in weights[1:]]   # (K, h, o), (K, 1, o)
        self.hidden0 = W0.shape[2]
        hk = W0.shape[2]
        self.WyK = np.ascontiguousarray(self.Wy.reshape(-1, k, hk).transpose(1, 0, 2))
        self.WmK = np.ascontiguousarray(self.Wm.reshape(-1, k, hk).transpose(1, 0, 2))
        self.b0K = self.b0.reshape(k, 1, hk).astype(np.float32)
        self.WyK, self.WmK = self.WyK.astype(np.float32), self.WmK.astype(np.float32)
        self.scale = corrector.output_scale_V
        # fold the output scale into the last layer
        W, b = self.deep_members[-1]
        self.deep_members[-1] = (W * np.float32(self.scale), b * np.float32(self.scale))
        self.deep_members64 = [(W, b[:, None, :]) for W, b in weights[1:]]
        W, b = self.deep_members64[-1]
        self.deep_members64[-1] = (W * self.scale, b * self.scale)
        self.k = k
        self._avg_k = np.full(k, 1.0 / k)
        self._var_k = np.full(k, 1.0 / max(k - 1, 1))
        self._a_cache: dict = {}
        self._a2_cache: dict = {}
        # one cell: every layer as one product over all members (block-diagonal deep layers)
        self.W0all = np.ascontiguousarray(np.vstack([self.Wy, self.Wm]))        # (n_states + n_memory, K·H)
        # packs: the first layer's inputs [states, memory] in one float32 product
        self.W0all32 = self.W0all.astype(np.float32)
        self.b0all32 = self.b0.astype(np.float32)
        # packs with numba: biases folded into the products. The input row ends with 1 (the first
        # layer's bias is one more weight row) and every hidden layer gets one more unit per member
        # whose pre-activation is _UNIT_BIAS: tanh of it is exactly 1 (float32), so the next
        # layer's bias is one more weight row too (no bias passes over the hidden states).
        self._pack_inputs = None
        if compiled:
            from . import estimator_kernel

            if estimator_kernel.AVAILABLE:
                self._pack_inputs = estimator_kernel.pack_corrector_inputs
                self._pack_stats = estimator_kernel.pack_ensemble_stats
                self._build_augmented()
        nt = self.tau.size
        self._nt = nt
        self.fused = True
        rng = np.random.default_rng(seed)
        Y = np.column_stack([rng.uniform(-5, 15, 4), rng.uniform(3.0, 4.2, 4)] + [rng.uniform(0.05, 0.95, 4)] * 4
                            + [rng.normal(0, 0.05, 4) for _ in range(4)])
        mem = rng.normal(0, 1, (4, corrector.n_memory))
        ref = corrector.step_numpy(feat(Y), 1.7, mem)
        got = self.step(Y, 1.7, mem)
        self.fused = all(np.allclose(a, b, rtol=_FUSE_TOL, atol=_FUSE_TOL) for a, b in zip(ref, got))
        one = self.step1(Y[:1], float(Y[0, 0]), 1.7, mem[:1]) if self.fused else None
        self.fused1 = self.fused and all(np.allclose(a, b, rtol=_FUSE_TOL, atol=_FUSE_TOL)
                                         for a, b in zip((ref[0][:1], ref[1][:1], ref[2][:1]), one))
        self._feat = feat

    def _build_augmented(self):
        """float32 weights of the compiled pack readout (biases folded in, see ``__init__``)."""
        k, h0 = self.k, self.hidden0
        nin = self.W0all.shape[0]
        W0 = np.zeros((nin + 1, k, h0 + 1))
        W0[:nin, :, :h0] = self.W0all.reshape(nin, k, h0)
        W0[nin, :, :h0] = self.b0.reshape(k, h0)
        W0[nin, :, h0] = _UNIT_BIAS
        self.W0aug32 = np.ascontiguousarray(W0.reshape(nin + 1, k * (h0 + 1)).astype(np.float32))
        deep = []
        last = len(self.deep_members64) - 1
        for j, (W, b) in enumerate(self.deep_members64):        # (K, h, o), (K, 1, o), scale folded in
            h, o = W.shape[1], W.shape[2]
            oa = o + 1 if j < last else o
            Wa = np.zeros((k, h + 1, oa))
            Wa[:, :h, :o] = W
            Wa[:, h, :o] = b[:, 0, :]
            if j < last:
                Wa[:, h, o] = _UNIT_BIAS
            deep.append(np.ascontiguousarray(Wa.astype(np.float32)))
        self.deep_aug32 = deep

    def memory_factor(self, dt):
        """a = exp(−dt/τ) for the memory filters (cached for scalar dt)."""
        if not isinstance(dt, np.ndarray):
            a = self._a_cache.get(dt)
            if a is None:
                a = np.exp(-float(dt) / self.tau)
                if len(self._a_cache) > 512:
                    self._a_cache.clear()
                self._a_cache[float(dt)] = a
            return a
        return np.exp(-np.asarray(dt, dtype=float)[:, None] / self.tau[None, :])

    def _memory_weights(self, dt):
        """(a2, w₊, w₋) for scalar dt: m ← a2 m + c w± with w± = (1 − a)[1, ±1] (c ≥ 0 / c < 0)."""
        hit = self._a2_cache.get(dt)
        if hit is None:
            a = self.memory_factor(dt)
            z = np.zeros_like(a)
            hit = (np.concatenate([a, a]), np.concatenate([1.0 - a, z]), np.concatenate([z, 1.0 - a]))
            if len(self._a2_cache) > 512:
                self._a2_cache.clear()
            self._a2_cache[float(dt)] = hit
        if len(hit) == 3:
            a2, bc, babs = hit
            hit = (a2, bc, babs, bc + babs, bc - babs)     # disjoint supports: exact
            self._a2_cache[float(dt)] = hit
        return hit

    def update_memory(self, c_rate, dt, memory):
        """m ← a m + (1 − a) [c, |c|] per time constant (``ResidualCorrector.update_memory``)."""
        if not isinstance(dt, np.ndarray):
            a2, bc, babs, _, _ = self._memory_weights(dt)
            if memory.shape[0] > 8:       # same numbers (the added terms have disjoint supports)
                nt = self._nt
                new = memory * a2
                new[:, :nt] += np.multiply.outer(c_rate, bc[:nt])
                new[:, nt:] += np.multiply.outer(np.abs(c_rate), babs[nt:])
                return new
            return a2 * memory + c_rate[:, None] * bc + np.abs(c_rate)[:, None] * babs
        a = self.memory_factor(dt)
        nt = self.tau.size
        new = np.empty_like(memory)
        new[:, :nt] = a * memory[:, :nt] + (1.0 - a) * c_rate[:, None]
        new[:, nt:] = a * memory[:, nt:] + (1.0 - a) * np.abs(c_rate)[:, None]
        return new

    def _readout32(self, x):
        """Member outputs (K, n) float32 [V] from the float32 input rows ``x`` = [states, memory, 1]
        (compiled pack path: biases folded in, see ``__init__``)."""
        n = x.shape[0]
        h = np.matmul(x, self.W0aug32)                          # (n, K·(H + 1)): members side by side
        np.tanh(h, out=h)
        h = h.reshape(n, self.k, self.hidden0 + 1).transpose(1, 0, 2)   # (K, n, H + 1) view
        last = len(self.deep_aug32) - 1
        for j, W in enumerate(self.deep_aug32):
            h = np.matmul(h, W)
            if j < last:
                np.tanh(h, out=h)
        return h[:, :, 0]

    def readout(self, Y, memory):
        """Member outputs (n, K) [V] for states ``Y`` and (already updated) ``memory``.

        First layer: members side by side (one product); deeper layers: one batched product
        per member. Packs (> 8 cells) run the MLP in float32 (error ~1e-7 relative).
        """
        n = Y.shape[0]
        if n > 8:
            # float32 for packs: halves the cost of tanh and the products; the readout error
            # (~1e-7 relative of a few mV) is far below the sensor noise
            nv = Y.shape[1]
            x = np.empty((n, nv + memory.shape[1]), dtype=np.float32)
            x[:, :nv] = Y
            x[:, nv:] = memory
            h = np.matmul(x, self.W0all32)                          # (n, K·H): members side by side
            h += self.b0all32
            np.tanh(h, out=h)
            h = h.reshape(n, self.k, self.hidden0).transpose(1, 0, 2)   # (K, n, H) view
            last = len(self.deep_members) - 1
            for j, (W, b) in enumerate(self.deep_members):
                h = np.matmul(h, W)
                h += b
                if j < last:
                    np.tanh(h, out=h)
            return h[:, :, 0].T.astype(float)
        h = np.tanh(Y @ self.Wy + memory @ self.Wm + self.b0)      # (n, K·H)
        h = h.reshape(self.k, 1, self.hidden0) if n == 1 else h.reshape(n, self.k, self.hidden0).transpose(1, 0, 2)
        for j, (W, b) in enumerate(self.deep_members64):
            h = np.matmul(h, W) + b
            if j < len(self.deep_members64) - 1:
                h = np.tanh(h)
        return h[:, :, 0].T

    def step1(self, Y, current: float, dt: float, memory):
        """One cell, scalar dt: ``(ΔV, spread, new_memory)`` with ΔV, spread floats.

        ``current`` replaces column 0 of ``Y`` (the current the corrector sees, see
        ``Estimator._states_matrix``); ``memory`` (1, n_memory)."""
        c_rate = current / self.q
        a2, _, _, wp, wm = self._memory_weights(dt)
        new = a2 * memory
        new += c_rate * (wp if c_rate >= 0.0 else wm)
        x = np.concatenate((Y[0], new[0]))
        if current != Y[0, 0]:
            x[0] = current
        h = x @ self.W0all
        h += self.b0
        np.tanh(h, out=h)
        h = h.reshape(self.k, 1, self.hidden0)
        last = len(self.deep_members64) - 1
        for j, (W, b) in enumerate(self.deep_members64):
            h = np.matmul(h, W)          # (K, 1, o): one small product per member
            h += b
            if j < last:
                np.tanh(h, out=h)
        out = h.reshape(-1).tolist()
        k = self.k
        if k == 1:
            return out[0], 0.0, new
        mean = sum(out) / k
        spread = math.sqrt(sum([(o - mean) * (o - mean) for o in out]) / (k - 1))
        return mean, spread, new

    def step(self, Y, dt, memory):
        if not self.fused:
            return self.ref.step_numpy(self._feat(Y), dt, memory)
        n = Y.shape[0]
        if n > 8 and self._pack_inputs is not None and not isinstance(dt, np.ndarray):
            # packs, compiled: memory update and the float32 input rows in one pass
            new = np.empty_like(memory)
            x = np.empty((n, Y.shape[1] + memory.shape[1] + 1), dtype=np.float32)
            self._pack_inputs(Y, self.q, self.memory_factor(dt), memory, new, x)
            mean, spread = np.empty(n), np.empty(n)
            self._pack_stats(self._readout32(x), mean, spread)
            return mean, spread, new
        new = self.update_memory(Y[:, 0] / self.q, dt, memory)
        out = self.readout(Y, new)
        mean = out @ self._avg_k
        if self.k > 1:
            dev = out - mean[:, None]
            spread = np.sqrt((dev * dev) @ self._var_k)
        else:
            spread = 0.0 * mean
        return mean, spread, new


class Estimator:
    """Streaming hybrid-SPMe estimator for ``n_cells`` cells (see module docstring).

    Parameters
    ----------
    hybrid_model : HybridSPMe or None
        Gives ``parameter_values``, ``corrector`` and ``envelope``; ``None`` runs the plain fast
        SPMe (Chen2020 unless ``parameter_values`` is given) with ΔV = 0.
    n_cells : int
    initial_soc : float or (n_cells,)
        Initial SOC (the filter's prior mean when voltages are given).
    ambient_temperature_K : float
    capacity_scale, resistance_scale : float or (n_cells,), optional
        Per-cell spread of a pack (see :class:`FastSPMe`).
    current_hold : {"linear", "zero"}
        "linear" (default) matches ``HybridSPMe.simulate`` on a sampled profile.
    initial_current_A : float or (n_cells,), optional
        Current at the starting sample (for the linear hold of the first step).
    initial_soc_std : float
        Prior standard deviation of SOC for the filter (default 0.2).
    voltage_noise_V : float
        Voltage sensor noise standard deviation used by the filter (default 2 mV).
    current_offset_std_A : float
        Prior standard deviation of the current-sensor offset the filter estimates [A].
    parameter_values : pybamm.ParameterValues, optional
        Only with ``hybrid_model=None``.
    compiled : bool
        One cell: step open loop with the numba kernel of
        :mod:`multiscale.battery.estimator_kernel` when numba is installed (default True; the
        same results as the numpy path to round-off, checked at construction). Packs: the
        compiled elementwise/lookup kernels of a scalar-dt step (same results to round-off).
        ``False`` keeps the numpy paths.
    """

    def __init__(self, hybrid_model=None, n_cells: int = 1, *, initial_soc=1.0, ambient_temperature_K=298.15,
                 capacity_scale=None, resistance_scale=None, current_hold: str = "linear", initial_current_A=None,
                 initial_soc_std: float = 0.2, voltage_noise_V: float = 0.002, current_offset_std_A: float = 0.1,
                 parameter_values=None, compiled: bool = True):
        from .kalman import SocKalmanFilter

        T = check_range("ambient_temperature_K", ambient_temperature_K, low=200.0, high=400.0)
        self.model = hybrid_model
        guard = {}
        if hybrid_model is not None:
            if parameter_values is not None:
                raise InputError("parameter_values is taken from hybrid_model; do not pass both")
            parameter_values = hybrid_model.parameter_values
            from . import robust_spme

            c0 = float(parameter_values["Initial concentration in electrolyte [mol.m-3]"])
            guard = {"macinnes_floor": robust_spme.MACINNES_FLOOR,
                     "exchange_floor_mol_m3": robust_spme.EXCHANGE_FLOOR_FRACTION * c0}
        self.spme = FastSPMe(parameter_values, n_cells, initial_soc=initial_soc, ambient_temperature_K=T,
                             capacity_scale=capacity_scale, resistance_scale=resistance_scale,
                             current_hold=current_hold, compiled=compiled, **guard)
        self.n_cells = self.spme.n_cells
        self.temperature_K = T
        tb = self.spme.tables
        self.nominal_capacity_Ah = tb.nominal_capacity_Ah
        if hybrid_model is not None:
            self.corrector = FusedCorrector(hybrid_model.corrector, T, self.nominal_capacity_Ah, compiled=compiled)
            self.envelope = hybrid_model.envelope
            self.memory = hybrid_model.corrector.init_memory(self.n_cells)
        else:
            self.corrector, self.envelope, self.memory = None, None, np.zeros((self.n_cells, 0))
        if initial_current_A is not None:
            self.spme._i_prev = check_current(initial_current_A, self.n_cells) / self.spme.area_m2
        self.filter = SocKalmanFilter(self, initial_soc_std=initial_soc_std, voltage_noise_V=voltage_noise_V,
                                      current_offset_std_A=current_offset_std_A)
        self._single = self.n_cells == 1
        self._scaled = bool(np.any(self.spme.capacity_scale != 1.0))
        self._cap_scale0 = float(self.spme.capacity_scale[0])
        self._fast1 = self._single and (self.corrector is None or self.corrector.fused1)
        # the state at the starting sample (rest, or the given initial current)
        I0 = np.zeros(self.n_cells) if initial_current_A is None else check_current(initial_current_A, self.n_cells)
        Y, _ = self.spme.state_matrix(I0)
        v, vs, dv, sp, _ = self.hybrid_voltage(Y, 0.0, self.memory)
        self._last = (v, vs, dv, sp, I0)
        # one cell, open loop, scalar dt: the compiled step (compiled and checked here, on copies)
        self._kernel1 = None
        if compiled and self._fast1:
            from . import estimator_kernel

            self._kernel1 = estimator_kernel.build(self)

    # -------------------------------------------------------------- model evaluation
    def _states_matrix(self, Y: np.ndarray) -> np.ndarray:
        """The corrector sees each cell's own C-rate: current / capacity_scale in column 0."""
        if self._scaled:
            Y = Y.copy()
            Y[:, 0] = Y[:, 0] / self.spme.capacity_scale
        return Y

    def hybrid_voltage(self, Y: np.ndarray, dt, memory):
        """(V, V_SPMe, ΔV, spread, new memory) from the SPMe state matrix ``Y``."""
        v_spme = Y[:, 1]
        if self.corrector is None:
            z = 0.0 * v_spme
            return v_spme, v_spme, z, z, memory
        dv, sp, mem = self.corrector.step(self._states_matrix(Y), dt, memory)
        return v_spme + dv, v_spme, dv, sp, mem

    # -------------------------------------------------------------- public API
    def step(self, current_A, dt_s, measured_voltage_V=None):
        """Advance every cell by ``dt_s`` with ``current_A``; returns the hybrid voltage [V].

        ``current_A`` (scalar or (n_cells,)) is the *measured* current, positive = discharge;
        ``dt_s`` > 0 [s] (scalar or (n_cells,)); ``measured_voltage_V`` (optional, scalar or
        (n_cells,)) triggers the Kalman update and the returned voltage is then the filtered
        estimate. Float for one cell, ndarray (n_cells,) otherwise. Raises
        :class:`InputError` for NaN/inf current or voltage and dt ≤ 0; a state leaving
        [0, 1] SOC or the voltage limits is reported in ``state.status``, never as NaN.
        """
        k1 = self._kernel1
        if k1 is not None and measured_voltage_V is None and type(current_A) is float \
                and type(dt_s) is float and math.isfinite(current_A) and math.isfinite(dt_s) and dt_s > 0.0:
            v, vs, dv, sp = k1.step(current_A, dt_s)
            self._last = (v, vs, dv, sp, current_A)
            return v
        I = check_current(current_A, self.n_cells)
        dt = check_dt(dt_s, self.n_cells)
        if measured_voltage_V is None and self._fast1 and type(dt) is float:
            if k1 is not None:
                v, vs, dv, sp = k1.step(float(I[0]), dt)
                self._last = (v, vs, dv, sp, I)
                return v
            return self._step1(I, dt)
        if measured_voltage_V is None:
            I_true = I - self.filter.offset_A
            self.spme.advance(I_true, dt)
            Y, _ = self.spme.state_matrix(I_true)
            v, vs, dv, sp, self.memory = self.hybrid_voltage(Y, dt, self.memory)
            self.filter.predict_only(I, dt)
        else:
            vm = check_current(measured_voltage_V, self.n_cells)
            v, vs, dv, sp = self.filter.step(I, dt, vm)
        self._last = (v, vs, dv, sp, I)
        return float(v[0]) if self._single else v

    def _step1(self, I, dt: float) -> float:
        """Open-loop step of one cell with a scalar dt (the real-time path): floats where cheaper."""
        I_true = I - self.filter.offset_A
        spme = self.spme
        spme.advance(I_true, dt)
        Y, _ = spme.state_matrix(I_true)
        vs = float(Y[0, 1])
        if self.corrector is None:
            v, dv, sp = vs, 0.0, 0.0
        else:
            cur = float(Y[0, 0])
            if self._scaled:
                cur = cur / self._cap_scale0
            dv, sp, self.memory = self.corrector.step1(Y, cur, dt, self.memory)
            v = vs + dv
        self.filter.predict_only(I, dt)
        self._last = (v, vs, dv, sp, I)
        return v

    @property
    def state(self) -> EstimatorState:
        """SOC, its variance, the current-offset estimate, voltages, envelope flag and status bits."""
        n = self.n_cells
        v, vs, dv, sp, I = (np.atleast_1d(np.asarray(x, dtype=float)) for x in self._last)
        soc = self.spme.soc
        if self.envelope is not None:
            env = self.envelope
            c = np.abs(I) / (self.nominal_capacity_Ah * self.spme.capacity_scale)
            out = (c > env.c_rate_max) | (soc < env.soc_min) | (soc > env.soc_max)
            if not (env.temperature_min_K <= self.temperature_K <= env.temperature_max_K):
                out = np.ones(n, dtype=bool)
        else:
            out = np.zeros(n, dtype=bool)
        tb = self.spme.tables
        v_arr = np.asarray(v)
        st = (self.spme.status & ~STATUS_VOLTAGE) | np.where(
            (v_arr < tb.lower_voltage_V) | (v_arr > tb.upper_voltage_V), STATUS_VOLTAGE, 0)
        return EstimatorState(soc=soc.copy(), soc_variance=self.filter.P[:, 0, 0].copy(),
                              current_offset_A=self.filter.offset_A.copy(), voltage_V=np.asarray(v).copy(),
                              spme_voltage_V=np.asarray(vs).copy(), correction_V=np.asarray(dv).copy(),
                              correction_spread_V=np.asarray(sp).copy(), out_of_envelope=out,
                              status=st.astype(np.int8))
