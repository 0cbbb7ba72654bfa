"""Training the residual corrector on DFN/SPMe traces (torch, resumable, parameter-set agnostic).

Target: ΔV(t_k) = V_DFN(t_k) − V_SPMe(t_k) on every profile point both models reached. Inputs:
the features of :func:`~multiscale.battery.features.build_features` from the guarded SPMe's
states, plus the exponential-filter memory of :class:`~multiscale.battery.corrector.ResidualCorrector`
computed once per trace (the filters are fixed, so the memory is data, not a learned state,
and training is a pointwise regression). Each ensemble member is trained on a bootstrap
resample of the training *profiles* (not points) with its own seed, by Adam on the mean squared
error of ΔV/s_V. Members are checkpointed as they finish (``member_<k>.npz`` in ``work_dir``);
a rerun skips finished members.

Nothing here is specific to Chen2020: the nominal capacity and parameter set come from the
dataset's manifest.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import atomic_path
from .corrector import ResidualCorrector
from .features import SPME_STATE_VARIABLES, build_features

log = logging.getLogger(__name__)


def case_arrays(case: dict, corrector: ResidualCorrector, nominal_capacity_Ah: float) -> dict:
    """Features, memory and target ΔV [V] of one packed case (see ``datagen.load_traces``)."""
    states = {v: case["spme_states"][:, j] for j, v in enumerate(SPME_STATE_VARIABLES)}
    feats = build_features(states, case["temperature_K"], nominal_capacity_Ah)
    mem = corrector.memory_sequence(feats, case["time_s"])
    target = case["dfn_voltage_V"] - states["Voltage [V]"]
    return {"features": feats, "memory": mem, "target_V": target, "spme_voltage_V": states["Voltage [V]"]}


def _train_member(x: np.ndarray, y: np.ndarray, corrector: ResidualCorrector, seed: int, *,
                  epochs: int, batch_size: int, lr: float, progress: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    sizes = [corrector.n_inputs, *corrector.hidden, 1]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.Tanh()]
    net = torch.nn.Sequential(*layers[:-1])  # float32 for speed; weights exported as float64
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = torch.as_tensor(y / corrector.output_scale_V, dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=lr * 0.02)
    gen = torch.Generator().manual_seed(seed)
    from tqdm.auto import tqdm

    for _ in tqdm(range(epochs), disable=not progress, desc=f"member seed {seed}", leave=False):
        perm = torch.randperm(xt.shape[0], generator=gen)
        for s in range(0, xt.shape[0], batch_size):
            idx = perm[s:s + batch_size]
            opt.zero_grad()
            loss = torch.mean((net(xt[idx])[:, 0] - yt[idx]) ** 2)
            loss.backward()
            opt.step()
        sched.step()
    lin = [m for m in net if isinstance(m, torch.nn.Linear)]
    return [(m.weight.detach().double().numpy().T.copy(), m.bias.detach().double().numpy().copy()) for m in lin]


def train_corrector(cases: list[dict], nominal_capacity_Ah: float, work_dir, *, n_members: int = 5,
                    hidden=(32, 32), epochs: int = 60, batch_size: int = 1024, lr: float = 3e-3, seed: int = 0,
                    progress: bool = True) -> ResidualCorrector:
    """Train an ensemble on the ``split == "train"`` cases; resumable through ``work_dir``."""
    train = [c for c in cases if c.get("split", "train") == "train"]
    if not train:
        raise InputError("cases contain no training case (split == 'train')")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    corr = ResidualCorrector(hidden=hidden, n_members=n_members)
    per_case = [case_arrays(c, corr, nominal_capacity_Ah) for c in train]
    rng = np.random.default_rng(seed)
    members = []
    for k in range(n_members):
        pick = rng.integers(len(per_case), size=len(per_case))  # bootstrap over profiles
        ckpt = work_dir / f"member_{k}.npz"
        if ckpt.exists():
            with np.load(ckpt) as z:
                members.append([(z[f"W{j}"], z[f"b{j}"]) for j in range(len(hidden) + 1)])
            log.info("member %d loaded from checkpoint", k)
            continue
        x = np.concatenate([np.hstack([per_case[i]["features"], per_case[i]["memory"]]) for i in pick])
        y = np.concatenate([per_case[i]["target_V"] for i in pick])
        w = _train_member(x, y, corr, seed * 1000 + k, epochs=epochs, batch_size=batch_size, lr=lr,
                          progress=progress)
        with atomic_path(ckpt) as tmp:
            np.savez(tmp, **{f"W{j}": a for j, (a, _) in enumerate(w)}, **{f"b{j}": b for j, (_, b) in enumerate(w)})
        members.append(w)
    corr.weights_ = [(np.stack([m[j][0] for m in members]), np.stack([m[j][1] for m in members]))
                     for j in range(len(hidden) + 1)]
    corr.meta_ = {"n_train_profiles": len(train), "n_train_points": int(sum(p["target_V"].size for p in per_case)),
                  "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
                  "nominal_capacity_Ah": nominal_capacity_Ah}
    return corr


def evaluate(corrector: ResidualCorrector, cases: list[dict], nominal_capacity_Ah: float) -> list[dict]:
    """Per-case SPMe and hybrid RMSE / max |error| vs the DFN [V] and the spread/error correlation."""
    rows = []
    for c in cases:
        a = case_arrays(c, corrector, nominal_capacity_Ah)
        dv, sp = corrector.predict(a["features"], a["memory"])
        e_spme = -a["target_V"]
        e_hyb = dv - a["target_V"]
        rows.append({"case_id": c["case_id"], "family": c["family"], "split": c["split"],
                     "temperature_K": c["temperature_K"], "initial_soc": c["initial_soc"],
                     "spme_rmse_V": float(np.sqrt(np.mean(e_spme**2))), "spme_max_V": float(np.max(np.abs(e_spme))),
                     "hybrid_rmse_V": float(np.sqrt(np.mean(e_hyb**2))), "hybrid_max_V": float(np.max(np.abs(e_hyb))),
                     "abs_error_V": np.abs(e_hyb), "spread_V": sp})
    return rows


def summarise(rows: list[dict]) -> dict:
    """Per family: pooled RMSE and max of SPMe and hybrid [mV]; Spearman(spread, |error|) overall."""
    from scipy.stats import spearmanr

    out = {}
    for fam in sorted({r["family"] for r in rows}):
        rs = [r for r in rows if r["family"] == fam]
        out[fam] = {
            "n_profiles": len(rs),
            "spme_rmse_mV": 1e3 * float(np.sqrt(np.mean([r["spme_rmse_V"] ** 2 for r in rs]))),
            "spme_max_mV": 1e3 * max(r["spme_max_V"] for r in rs),
            "hybrid_rmse_mV": 1e3 * float(np.sqrt(np.mean([r["hybrid_rmse_V"] ** 2 for r in rs]))),
            "hybrid_max_mV": 1e3 * max(r["hybrid_max_V"] for r in rs),
        }
    err = np.concatenate([r["abs_error_V"] for r in rows])
    spr = np.concatenate([r["spread_V"] for r in rows])
    rho = spearmanr(spr, err).statistic if err.size > 2 else float("nan")
    return {"families": out, "spearman_spread_error": float(rho)}


def dataset_capacity_Ah(manifest: dict) -> float:
    """Nominal capacity of the dataset's parameter set [A h]."""
    from .datagen import base_parameter_values

    return float(base_parameter_values(manifest.get("parameter_set", "Chen2020"))["Nominal cell capacity [A.h]"])


def write_metrics(path, summary: dict) -> None:
    from ..io import atomic_write_json

    atomic_write_json(path, summary)
    log.info("metrics: %s", json.dumps(summary))


def train_and_save(data_dir, out_dir, work_dir, *, n_members: int = 5, hidden=(32, 32), epochs: int = 60,
                   seed: int = 0, progress: bool = True) -> dict:
    """Load a packed dataset, train the ensemble, evaluate held-out cases, save the model.

    Writes ``out_dir/{weights.npz, config.json, hybrid.json, metrics.json}``; returns the
    held-out summary (per-family errors in mV, Spearman of spread vs |error|).
    """
    from .datagen import load_traces
    from .envelope import Envelope
    from .hybrid import HybridSPMe

    cases, manifest = load_traces(data_dir)
    q = dataset_capacity_Ah(manifest)
    corr = train_corrector(cases, q, work_dir, n_members=n_members, hidden=hidden, epochs=epochs, seed=seed,
                           progress=progress)
    train = [c for c in cases if c["split"] == "train"]
    env = Envelope.from_traces(train, q)
    model = HybridSPMe(corr, env, parameter_set=manifest.get("parameter_set", "Chen2020"))
    held = [c for c in cases if c["split"] == "heldout"]
    summary = {"heldout": summarise(evaluate(corr, held, q)) if held else {},
               "train": summarise(evaluate(corr, train, q)),
               "n_failed_cases": sum(1 for r in manifest["cases"] if r["status"] != "ok")}
    corr.meta_["heldout_summary"] = summary["heldout"]
    model.save(out_dir)
    write_metrics(Path(out_dir) / "metrics.json", summary)
    return summary
