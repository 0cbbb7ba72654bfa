"""Residual corrector ΔV = V_DFN − V_SPMe: exponential-filter memory + an MLP ensemble.

Memory (a causal linear state space with fixed time constants τ_j): for each memory input
u (the C-rate c = I/Q and its magnitude |c|, taken from feature column 0) and each τ_j,

    m_j(t_k) = a_j m_j(t_{k−1}) + (1 − a_j) u(t_k),     a_j = exp(−Δt_k / τ_j),

the exact solution of τ dm/dt = u − m for u held at u(t_k) over the step (zero-order hold), so
any, even variable, time step Δt gives the same filter. A cell at rest starts with m = 0.
Such filters are the diffusion-relaxation modes of the particle and electrolyte problems that
the SPMe averages away (a Padé / modal reduction of Fick's law, cf. Forman, Bashash, Stein,
Fathy, J. Electrochem. Soc. 158 (2011) A93; Rodríguez, Plett, Trimboli, J. Energy Storage 2019).

Readout: K ensemble members, each an MLP  x = [features, m] → tanh → tanh → linear → ΔV/s_V
(s_V = ``output_scale_V``); the prediction is the member mean and the spread their standard
deviation (a deep ensemble, Lakshminarayanan, Pritzel, Blundell, NeurIPS 2017).

Two evaluation paths give identical numbers (tested): :meth:`ResidualCorrector.step_numpy`
(one step for many cells; the estimator's path) and :meth:`ResidualCorrector.predict_sequence`
(a whole profile: memory by the same recursion, readout batched). Weights live in plain numpy
arrays saved as ``.npz`` + a JSON config (no pickle); training (torch) is in ``training.py``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import DataFileError, InputError, NotFittedError
from ..io import atomic_path, atomic_write_json
from .features import FEATURE_NAMES, N_FEATURES

DEFAULT_TIME_CONSTANTS_S = (10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)


class ResidualCorrector:
    """Ensemble residual corrector with an exponential-filter memory (numpy inference).

    Parameters
    ----------
    time_constants_s
        Filter time constants τ_j [s] of the memory.
    hidden
        Hidden-layer widths of each member's MLP.
    n_members
        Ensemble size K (≥ 1; ≥ 3 for a meaningful spread).
    output_scale_V
        ΔV is predicted in units of this voltage.
    """

    def __init__(self, *, time_constants_s: Sequence[float] = DEFAULT_TIME_CONSTANTS_S,
                 hidden: Sequence[int] = (32, 32), n_members: int = 5, output_scale_V: float = 0.01):
        tau = np.asarray(time_constants_s, dtype=float)
        if tau.ndim != 1 or tau.size == 0 or np.any(~np.isfinite(tau)) or np.any(tau <= 0):
            raise InputError(f"time_constants_s = {time_constants_s!r} must be positive finite seconds")
        if int(n_members) < 1:
            raise InputError(f"n_members = {n_members!r} is out of range: must be >= 1")
        self.time_constants_s = tuple(float(x) for x in tau)
        self.hidden = tuple(int(h) for h in hidden)
        self.n_members = int(n_members)
        self.output_scale_V = float(output_scale_V)
        self.weights_: list[tuple[np.ndarray, np.ndarray]] | None = None
        self.meta_: dict = {}

    # -- sizes ------------------------------------------------------------------------------
    @property
    def n_features(self) -> int:
        return N_FEATURES

    @property
    def n_memory(self) -> int:
        """Memory size per cell: 2 inputs (c, |c|) × number of time constants."""
        return 2 * len(self.time_constants_s)

    @property
    def n_inputs(self) -> int:
        return self.n_features + self.n_memory

    def init_weights(self, seed: int = 0, scale: float = 1.0) -> "ResidualCorrector":
        """Random (Glorot-uniform) weights: for tests and as the training start."""
        rng = np.random.default_rng(seed)
        sizes = [self.n_inputs, *self.hidden, 1]
        self.weights_ = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            lim = scale * np.sqrt(6.0 / (a + b))
            self.weights_.append((rng.uniform(-lim, lim, (self.n_members, a, b)), np.zeros((self.n_members, b))))
        return self

    def _check_fitted(self):
        if self.weights_ is None:
            raise NotFittedError("ResidualCorrector has no weights: call init_weights(), load() or train it first")

    # -- memory -----------------------------------------------------------------------------
    def init_memory(self, n_cells: int = 1) -> np.ndarray:
        """Memory of ``n_cells`` cells at rest: zeros of shape (n_cells, n_memory)."""
        if int(n_cells) < 1:
            raise InputError(f"n_cells = {n_cells!r} is out of range: must be >= 1")
        return np.zeros((int(n_cells), self.n_memory))

    def _memory_inputs(self, features: np.ndarray) -> np.ndarray:
        c = features[:, 0]
        return np.column_stack([c, np.abs(c)])  # (n, 2)

    def update_memory(self, features: np.ndarray, dt_s, memory: np.ndarray) -> np.ndarray:
        """One exact filter step m ← a m + (1 − a) u, a = exp(−dt/τ); dt scalar or (n_cells,)."""
        n = features.shape[0]
        dt = np.broadcast_to(np.asarray(dt_s, dtype=float), (n,))
        if np.any(~np.isfinite(dt)) or np.any(dt < 0):
            raise InputError(f"dt_s = {dt_s!r} must be finite and >= 0 s")
        tau = np.asarray(self.time_constants_s)
        a = np.exp(-dt[:, None] / tau[None, :])  # (n, n_tau)
        u = self._memory_inputs(features)  # (n, 2)
        a2 = np.concatenate([a, a], axis=1)
        u2 = np.repeat(u, len(tau), axis=1)
        return a2 * memory + (1.0 - a2) * u2

    def memory_sequence(self, features: np.ndarray, time_s: np.ndarray) -> np.ndarray:
        """Memory after each point of one profile (n, n_memory); the first step has dt = 0."""
        features = np.asarray(features, dtype=float)
        dt = np.diff(np.asarray(time_s, dtype=float), prepend=float(time_s[0]))
        mem = np.zeros((features.shape[0], self.n_memory))
        m = self.init_memory(1)
        for k in range(features.shape[0]):
            m = self.update_memory(features[k:k + 1], dt[k], m)
            mem[k] = m[0]
        return mem

    # -- readout ----------------------------------------------------------------------------
    def member_outputs(self, features: np.ndarray, memory: np.ndarray) -> np.ndarray:
        """ΔV of every member [V], shape (n_members, n)."""
        self._check_fitted()
        h = np.concatenate([features, memory], axis=1)[None, :, :]  # (1, n, in)
        for j, (w, b) in enumerate(self.weights_):
            h = np.einsum("kni,kio->kno", np.broadcast_to(h, (self.n_members, *h.shape[1:])), w) + b[:, None, :]
            if j < len(self.weights_) - 1:
                h = np.tanh(h)
        return h[:, :, 0] * self.output_scale_V

    def predict(self, features: np.ndarray, memory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean ΔV and spread (standard deviation over members) [V], each (n,)."""
        out = self.member_outputs(np.asarray(features, dtype=float), np.asarray(memory, dtype=float))
        spread = out.std(axis=0, ddof=1) if self.n_members > 1 else np.zeros(out.shape[1])
        return out.mean(axis=0), spread

    def step_numpy(self, features, dt_s, memory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance ``n_cells`` cells by one step: ``(delta_V, spread_V, new_memory)``.

        ``features`` (n_cells, n_features) are those at the *end* of the step (the current
        applied during it and the SPMe state it produced); ``dt_s`` scalar or (n_cells,).
        """
        f = np.asarray(features, dtype=float)
        if f.ndim != 2 or f.shape[1] != self.n_features:
            raise InputError(f"features has shape {f.shape}, expected (n_cells, {self.n_features})")
        mem = np.asarray(memory, dtype=float)
        if mem.shape != (f.shape[0], self.n_memory):
            raise InputError(f"memory has shape {mem.shape}, expected ({f.shape[0]}, {self.n_memory})")
        new = self.update_memory(f, dt_s, mem)
        dv, sp = self.predict(f, new)
        return dv, sp, new

    def predict_sequence(self, features, time_s) -> tuple[np.ndarray, np.ndarray]:
        """ΔV and spread [V] along one whole profile (same numbers as repeated step_numpy)."""
        f = np.asarray(features, dtype=float)
        mem = self.memory_sequence(f, time_s)
        return self.predict(f, mem)

    # -- persistence ------------------------------------------------------------------------
    def config(self) -> dict:
        return {"kind": "exp-filter-memory MLP ensemble", "time_constants_s": list(self.time_constants_s),
                "hidden": list(self.hidden), "n_members": self.n_members, "output_scale_V": self.output_scale_V,
                "feature_names": list(FEATURE_NAMES), "meta": self.meta_}

    def save(self, directory) -> Path:
        """Write ``weights.npz`` and ``config.json`` into ``directory`` (atomically)."""
        self._check_fitted()
        directory = Path(directory)
        arrays = {}
        for j, (w, b) in enumerate(self.weights_):
            arrays[f"W{j}"], arrays[f"b{j}"] = w, b
        with atomic_path(directory / "weights.npz") as tmp:
            np.savez_compressed(tmp, **arrays)
        atomic_write_json(directory / "config.json", self.config())
        return directory

    @classmethod
    def load(cls, directory) -> "ResidualCorrector":
        """Load from ``weights.npz`` + ``config.json`` (no code is executed from the files)."""
        directory = Path(directory)
        try:
            cfg = json.loads((directory / "config.json").read_text())
            z = np.load(directory / "weights.npz", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataFileError(f"cannot load corrector from {directory}: {exc}") from None
        if list(cfg.get("feature_names", [])) != list(FEATURE_NAMES):
            raise DataFileError(f"corrector in {directory} was trained on other features: {cfg.get('feature_names')}")
        obj = cls(time_constants_s=cfg["time_constants_s"], hidden=cfg["hidden"], n_members=cfg["n_members"],
                  output_scale_V=cfg["output_scale_V"])
        n_layers = len(obj.hidden) + 1
        obj.weights_ = [(z[f"W{j}"], z[f"b{j}"]) for j in range(n_layers)]
        obj.meta_ = cfg.get("meta", {})
        return obj
