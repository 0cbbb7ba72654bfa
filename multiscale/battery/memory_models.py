"""Comparison of memory models for the residual corrector (the evidence for the model card).

Three single-network correctors trained on the same training traces and scored on the same
held-out traces:

- ``none``: an MLP on the instantaneous SPMe features only (no history);
- ``exp-filters``: the shipped design — fixed exponential filters of c and |c| (exact for any
  time step, a linear state the Kalman filter can carry) + MLP;
- ``gru``: a gated recurrent unit (Cho et al. 2014) over the features with log(dt) as an extra
  input, 32 hidden units, linear readout; trained by back-propagation through whole traces.

A GRU learns its memory but is not exact under a change of time step (its update has no dt
semantics) and needs sequential training; the filters are exact and cheap.
"""
from __future__ import annotations

import time

import numpy as np

from .corrector import ResidualCorrector
from .training import _train_member, case_arrays


def _rmse_by_family(pred: list[np.ndarray], per_case: list[dict], cases: list[dict]) -> dict:
    fams: dict = {}
    for p, a, c in zip(pred, per_case, cases):
        fams.setdefault(c["family"], []).append(np.mean((p - a["target_V"]) ** 2))
    return {f: 1e3 * float(np.sqrt(np.mean(v))) for f, v in sorted(fams.items())}


def _train_gru(per_case, cases, *, epochs, seed, hidden=32, lr=3e-3, batch=16):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)

    class GRUCorrector(torch.nn.Module):
        def __init__(self, n_in):
            super().__init__()
            self.gru = torch.nn.GRU(n_in, hidden, batch_first=True)
            self.out = torch.nn.Linear(hidden, 1)

        def forward(self, x):
            return self.out(self.gru(x)[0])[..., 0]

    def seq_input(a, c):
        dt = np.diff(c["time_s"], prepend=c["time_s"][0])
        return np.hstack([a["features"], np.log1p(dt)[:, None]])

    xs = [torch.as_tensor(seq_input(a, c)) for a, c in zip(per_case, cases)]
    ys = [torch.as_tensor(a["target_V"] / 0.01) for a in per_case]
    net = GRUCorrector(xs[0].shape[1]).double()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    pad = torch.nn.utils.rnn.pad_sequence
    for _ in range(epochs):
        order = rng.permutation(len(xs))
        for s in range(0, len(xs), batch):
            idx = order[s:s + batch]
            x, y = pad([xs[i] for i in idx], batch_first=True), pad([ys[i] for i in idx], batch_first=True)
            mask = pad([torch.ones(len(ys[i])) for i in idx], batch_first=True).double()
            opt.zero_grad()
            loss = torch.sum(mask * (net(x) - y) ** 2) / mask.sum()
            loss.backward()
            opt.step()

    def predict(a, c):
        with torch.no_grad():
            return net(torch.as_tensor(seq_input(a, c))[None])[0].numpy() * 0.01

    return predict


def compare_memory_models(cases: list[dict], nominal_capacity_Ah: float, *, epochs: int = 40,
                          gru_epochs: int = 40, seed: int = 0) -> dict:
    """Held-out RMSE [mV] per family and training time [s] for the three memory models."""
    train = [c for c in cases if c["split"] == "train"]
    held = [c for c in cases if c["split"] == "heldout"]
    out = {}
    corr = ResidualCorrector(n_members=1)
    tr = [case_arrays(c, corr, nominal_capacity_Ah) for c in train]
    he = [case_arrays(c, corr, nominal_capacity_Ah) for c in held]
    y = np.concatenate([a["target_V"] for a in tr])
    for name, use_memory in (("none", False), ("exp-filters", True)):
        t0 = time.perf_counter()
        x = np.concatenate([np.hstack([a["features"], a["memory"] * use_memory]) for a in tr])
        corr.weights_ = [(w[None], b[None]) for w, b in _train_member(x, y, corr, seed, epochs=epochs,
                                                                        batch_size=512, lr=3e-3, progress=False)]
        pred = [corr.predict(a["features"], a["memory"] * use_memory)[0] for a in he]
        out[name] = {"heldout_rmse_mV": _rmse_by_family(pred, he, held), "train_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    predict = _train_gru(tr, train, epochs=gru_epochs, seed=seed)
    pred = [predict(a, c) for a, c in zip(he, held)]
    out["gru"] = {"heldout_rmse_mV": _rmse_by_family(pred, he, held), "train_s": time.perf_counter() - t0}
    return out
