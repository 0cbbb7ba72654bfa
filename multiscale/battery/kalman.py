"""Extended Kalman filter for SOC, current-sensor offset and corrector memory, vectorised over cells.

State per cell x = [s, b, m₁ … m_M]: SOC s, the offset b [A] of the current sensor
(I_true = I_meas − b) and the corrector's memory filters m. Process model over a step dt
(the fast SPMe and the corrector's exact filters, see :mod:`.spme_fast`, :mod:`.corrector`):

    s⁺ = s − (I_meas − b) dt / (3600 Q),      b⁺ = b,
    m_j⁺ = a_j m_j + (1 − a_j) u_j((I_meas − b)/Q_nom),   a_j = exp(−dt/τ_j),

(the SPMe's particle and electrolyte shape modes are driven by the known current and are not
filter states; the SOC enters the SPMe as a shift of both particles' mean stoichiometry).
Measurement: V = V_SPMe(s, I) + ΔV̂(states, m), linearised by finite differences
(H = ∂V/∂x: one extra SPMe output evaluation each for s and b, one batched corrector readout for m).
Update with the Joseph form P ← (I − KH)P(I − KH)ᵀ + K R Kᵀ, R = σ_V² + σ_model² + spread²
(the ensemble spread of the corrector inflates R where the model is less sure).

Process noise: SOC σ² = (σ_Q |I| dt / 3600Q)² (relative capacity uncertainty σ_Q), offset random
walk σ_b² dt, memory σ_m² dt.

Reference: Plett, J. Power Sources 134 (2004) 262–276 and 277–292 (EKF for BMS SOC);
Joseph form: Bucy & Joseph, "Filtering for stochastic processes" (1968).
"""
from __future__ import annotations

import numpy as np

from ..errors import check_range

_DSOC = 1e-4
_DI_A = 1e-3
_DM = 1e-3


class SocKalmanFilter:
    """EKF bound to an :class:`~multiscale.battery.estimator.Estimator` (its SPMe and memory).

    Parameters
    ----------
    estimator
        The estimator whose states are filtered.
    initial_soc_std
        Prior SOC standard deviation [-].
    voltage_noise_V
        Voltage sensor noise σ_V [V].
    current_offset_std_A
        Prior standard deviation of the current-sensor offset [A].
    model_error_V
        Model error σ_model [V] added to R (default 1 mV with a corrector, 5 mV without).
    capacity_rel_std
        Relative capacity uncertainty σ_Q of each cell (SOC process noise).
    offset_walk_A_per_sqrt_s, memory_walk_per_sqrt_s
        Random-walk intensities of b and m.
    """

    def __init__(self, estimator, *, initial_soc_std: float = 0.2, voltage_noise_V: float = 0.002,
                 current_offset_std_A: float = 0.1, model_error_V: float | None = None,
                 capacity_rel_std: float = 0.02, offset_walk_A_per_sqrt_s: float = 1e-4,
                 memory_walk_per_sqrt_s: float = 1e-3):
        self.est = estimator
        n = estimator.n_cells
        self.n_mem = estimator.memory.shape[1]
        d = 2 + self.n_mem
        s0 = check_range("initial_soc_std", initial_soc_std, low=0.0)
        sb = check_range("current_offset_std_A", current_offset_std_A, low=0.0)
        self.sigma_v = check_range("voltage_noise_V", voltage_noise_V, low=0.0, low_inclusive=False)
        if model_error_V is None:
            model_error_V = 0.001 if estimator.corrector is not None else 0.005
        self.sigma_model = check_range("model_error_V", model_error_V, low=0.0)
        self.sigma_q = check_range("capacity_rel_std", capacity_rel_std, low=0.0)
        self.q_b = check_range("offset_walk_A_per_sqrt_s", offset_walk_A_per_sqrt_s, low=0.0) ** 2
        self.q_m = check_range("memory_walk_per_sqrt_s", memory_walk_per_sqrt_s, low=0.0) ** 2
        self.P = np.zeros((n, d, d))
        self.P[:, 0, 0] = s0 ** 2
        self.P[:, 1, 1] = sb ** 2
        self.offset_A = np.zeros(n)
        self.last_innovation_V = np.zeros(n)
        # packs whose SPMe runs compiled: the open-loop prediction as one compiled pass too
        self._pack_predict = None
        if n > 1 and getattr(estimator.spme, "_pk", None) is not None:
            from .estimator_kernel import pack_predict

            self._pack_predict = pack_predict

    # ------------------------------------------------------------------ prediction
    def _transition(self, I_meas, dt):
        """F = diag(f) + u e_bᵀ (offset column) and diagonal Q, per cell: (f, u, q) each (n, d)."""
        est = self.est
        n, d = self.P.shape[0], self.P.shape[1]
        dtv = dt if not isinstance(dt, np.ndarray) else np.asarray(dt)
        cap = est.spme.capacity_Ah
        f = np.ones((n, d))
        u = np.zeros((n, d))
        q = np.zeros((n, d))
        u[:, 0] = dtv / (3600.0 * cap)
        q[:, 0] = (self.sigma_q * np.abs(I_meas) * dtv / (3600.0 * cap)) ** 2
        q[:, 1] = self.q_b * dtv
        if self.n_mem:
            corr = est.corrector
            a = corr.memory_factor(dt)
            nt = corr.tau.size
            qn = (est.nominal_capacity_Ah * est.spme.capacity_scale)[:, None]
            sgn = np.sign(I_meas - self.offset_A)[:, None]
            f[:, 2:2 + nt] = a
            f[:, 2 + nt:] = a
            u[:, 2:2 + nt] = -(1.0 - a) / qn
            u[:, 2 + nt:] = -(1.0 - a) * sgn / qn
            q[:, 2:] = self.q_m * (dtv if not isinstance(dtv, np.ndarray) else dtv[:, None])
        return f, u, q

    def _propagate(self, P, f, u, q):
        """F P Fᵀ + Q for F = diag(f) + u e_bᵀ (b = index 1), without forming F."""
        Pf = P * f[:, :, None] * f[:, None, :]
        col = P[:, :, 1] * f                         # (D P) e_b
        Pf += col[:, :, None] * u[:, None, :] + u[:, :, None] * col[:, None, :]
        Pf += (P[:, 1, 1])[:, None, None] * u[:, :, None] * u[:, None, :]
        idx = np.arange(P.shape[1])
        Pf[:, idx, idx] += q
        return Pf

    def predict_only(self, I_meas, dt):
        """Covariance prediction for a step without a voltage measurement (open loop).

        The [SOC, offset] block is propagated exactly (it does not depend on the memory);
        the memory block is left as it is (the memory is driven by the measured current, its
        uncertainty only matters once voltages arrive, when :meth:`step` propagates all of P).
        """
        P = self.P
        if P.shape[0] == 1 and type(dt) is float:      # one cell: the same arithmetic in floats
            p = P[0]
            u0 = dt / (3600.0 * float(self.est.spme.capacity_Ah[0]))
            p01, p11 = float(p[0, 1]), float(p[1, 1])
            p[0, 0] += 2.0 * u0 * p01 + u0 * u0 * p11 + (self.sigma_q * abs(float(I_meas[0])) * u0) ** 2
            p[0, 1] = p[1, 0] = p01 + u0 * p11
            p[1, 1] = p11 + self.q_b * dt
            return
        dtv = dt if not isinstance(dt, np.ndarray) else np.asarray(dt)
        cap = self.est.spme.capacity_Ah
        u0 = dtv / (3600.0 * cap)
        if self._pack_predict is not None and type(dt) is float and P.flags.c_contiguous:
            self._pack_predict(P, u0, np.asarray(I_meas, dtype=float), self.sigma_q, self.q_b * dt)
            return
        p11 = P[:, 1, 1]
        P[:, 0, 0] += 2.0 * u0 * P[:, 0, 1] + u0 * u0 * p11 + (self.sigma_q * np.abs(I_meas) * u0) ** 2
        P[:, 0, 1] += u0 * p11
        P[:, 1, 0] = P[:, 0, 1]
        P[:, 1, 1] += self.q_b * dtv

    # ------------------------------------------------------------------ full step
    def step(self, I_meas, dt, V_meas):
        """Predict with the measured current, update with the measured voltage.

        Returns (V, V_SPMe, ΔV, spread) after the update (V is the filtered voltage estimate).
        """
        est = self.est
        spme = est.spme
        f, u, q = self._transition(I_meas, dt)
        I_true = I_meas - self.offset_A
        mem_prev = est.memory
        spme.advance(I_true, dt)
        Y, _ = spme.state_matrix(I_true)
        v, vs, dv, sp, mem = est.hybrid_voltage(Y, dt, mem_prev)
        P = self._propagate(self.P, f, u, q)
        n, d = P.shape[0], P.shape[1]
        H = np.zeros((n, d))
        Ys, _ = spme.state_matrix(I_true, delta_soc=_DSOC)
        H[:, 0] = (est.hybrid_voltage(Ys, dt, mem_prev)[0] - v) / _DSOC
        Yi, _ = spme.state_matrix(I_true + _DI_A)
        H[:, 1] = -(est.hybrid_voltage(Yi, dt, mem_prev)[0] - v) / _DI_A
        if self.n_mem:
            corr = est.corrector
            Y = est._states_matrix(Y)
            base = corr.readout(Y, mem).mean(axis=1)
            Yr = np.repeat(Y, self.n_mem, axis=0)
            mr = np.repeat(mem, self.n_mem, axis=0) + _DM * np.tile(np.eye(self.n_mem), (n, 1))
            pert = corr.readout(Yr, mr).mean(axis=1).reshape(n, self.n_mem)
            H[:, 2:] = (pert - base[:, None]) / _DM
        R = self.sigma_v ** 2 + self.sigma_model ** 2 + sp ** 2
        PH = np.einsum("nij,nj->ni", P, H)
        S = np.einsum("ni,ni->n", H, PH) + R
        K = PH / S[:, None]
        y = V_meas - v
        dx = K * y[:, None]
        spme.shift_soc(dx[:, 0])
        self.offset_A = self.offset_A + dx[:, 1]
        est.memory = mem + dx[:, 2:]
        A = np.broadcast_to(np.eye(d), (n, d, d)) - K[:, :, None] * H[:, None, :]
        self.P = A @ P @ np.swapaxes(A, 1, 2) + R[:, None, None] * K[:, :, None] * K[:, None, :]
        self.last_innovation_V = y
        v_post = v + np.einsum("ni,ni->n", H, dx)
        return v_post, vs + H[:, 0] * dx[:, 0], v_post - (vs + H[:, 0] * dx[:, 0]), sp
