"""Training the ensemble: energy + force + charge loss, validation split, early stopping, checkpoints.

Loss of member m on a batch (weights w_E, w_F, w_Q; per-configuration bootstrap weights b_mc ~
Exp(1), fixed per member, decorrelate the members beyond their random initialisation)::

    L_m = Σ_c b_mc [ w_E ((E_c − E_c^ref)/N_c)² + w_F mean_i a_i |F_i − F_i^ref|² + w_Q mean_i (q_i − q_i^ref)² ] / Σ_c b_mc

(a_i = ``weight_force_electrode`` for graphene-electrode atoms, 1 otherwise.)

Units: eV/atom, eV/Å, e. The descriptor and its analytic Jacobian are computed once per
fixed mini-batch (float32 cache), so an epoch costs only the element networks. Early stopping
keeps, per member, the parameters with the lowest validation loss (patience in epochs).
Checkpoints (``torch.save`` of state dicts + JSON-able metadata, loaded back with
``weights_only=True``) are written atomically.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..io import atomic_path
from .ensemble import MIN_MEMBERS, PotentialEnsemble
from .graph import build_graph, collate
from .model import DescriptorSettings, FieldAwarePotential, NetworkSettings


@dataclass
class TrainingSettings:
    n_members: int = 4
    epochs: int = 200
    batch_size: int = 8
    learning_rate: float = 3e-3
    weight_energy: float = 100.0
    weight_force: float = 1.0
    weight_charge: float = 10.0
    #: weight of the graphene electrode's force errors relative to the other atoms'
    #: (:func:`~multiscale.atomistic.system.electrode_atoms`). The GFN-xTB sheet of the small
    #: periodic training cell is metallic, its forces are not local and no local model fits
    #: them; a weight below 1 keeps them from pulling the shared carbon network away from the
    #: electrolyte's carbons. ML-MD holds the electrode fixed (:func:`freeze_electrode`).
    weight_force_electrode: float = 1.0
    #: floor of the descriptor standard deviations, as a fraction of their median (0: an absolute
    #: 1e-3 floor only). Features that barely vary in training (angular terms of rare element
    #: triplets) otherwise get standardised by a tiny std, and on a new packing reach z-scores of
    #: tens: the networks then extrapolate far outside what they were fitted on.
    feature_std_floor: float = 0.0
    validation_fraction: float = 0.1
    #: "random": a random fraction of configurations (neighbouring MD frames land on both sides,
    #: so the validation error measures interpolation along the training trajectories);
    #: "trajectory": whole trajectories (``info["task"]``) are held out, which measures
    #: transfer to new molecular arrangements (needs several trajectories).
    validation_split: str = "random"
    patience: int = 30
    seed: int = 0
    max_minutes: float = 30.0
    descriptor: DescriptorSettings = field(default_factory=DescriptorSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)

    def validate(self) -> None:
        if self.n_members < MIN_MEMBERS:
            raise InputError(f"n_members = {self.n_members} must be >= {MIN_MEMBERS} for a deep ensemble")
        if not 0.0 <= self.feature_std_floor <= 10.0:
            raise InputError(f"feature_std_floor = {self.feature_std_floor} must be in [0, 10]")
        if not 0.0 <= self.weight_force_electrode <= 1.0:
            raise InputError(f"weight_force_electrode = {self.weight_force_electrode} must be in [0, 1]")
        if not 0.0 < self.validation_fraction < 0.5:
            raise InputError(f"validation_fraction = {self.validation_fraction} must be in (0, 0.5)")
        if self.validation_split not in ("random", "trajectory"):
            raise InputError(f"validation_split = {self.validation_split!r} must be 'random' or 'trajectory'")
        for k in ("epochs", "batch_size"):
            if getattr(self, k) < 1:
                raise InputError(f"{k} = {getattr(self, k)} must be >= 1")
        if not self.network.hidden or min(self.network.hidden) < 1:
            raise InputError(f"network.hidden = {self.network.hidden} must be one or more widths >= 1")
        if not self.descriptor.zetas or min(self.descriptor.zetas) < 1.0:
            # (1 ± cos θ)^(ζ−1) in the Jacobian is singular at θ = 0, π for ζ < 1
            raise InputError(f"descriptor.zetas = {self.descriptor.zetas} must be one or more values >= 1")
        if self.descriptor.n_angular_radial < 1:
            raise InputError(f"descriptor.n_angular_radial = {self.descriptor.n_angular_radial} must be >= 1")


def _targets(atoms_list) -> dict:
    e = torch.tensor([a.get_potential_energy() for a in atoms_list], dtype=torch.float64)
    f = torch.from_numpy(np.concatenate([a.get_forces() for a in atoms_list]))
    q = torch.from_numpy(np.concatenate([a.calc.results["charges"] for a in atoms_list]))
    n = torch.tensor([len(a) for a in atoms_list], dtype=torch.float64)
    mu = torch.tensor([float(a.calc.results["dipole"][2]) for a in atoms_list], dtype=torch.float64)
    return dict(energy=e, forces=f, charges=q, n_atoms=n, dipole_z=mu)


class _CachedBatch:
    """A fixed mini-batch: collated graph, descriptor + Jacobian (float32) and targets."""

    def __init__(self, atoms_list, indices, descriptor, elements, electrode_weight: float = 1.0):
        from .system import electrode_atoms

        s = descriptor.settings
        graphs = [build_graph(a, elements, s.cutoff_A, s.angular_cutoff_A,
                              field_V_per_A=float(a.info.get("field_V_per_A", 0.0)), total_charge=0.0)
                  for a in atoms_list]
        self.batch = collate(graphs, requires_grad=False)
        g, jac = descriptor.features_and_jacobian(self.batch["species"], self.batch["vectors"], self.batch["i"],
                                                  self.batch["j"], self.batch["tri_i"], self.batch["tri_j"],
                                                  self.batch["tri_k"], len(self.batch["species"]))
        self.g = g.float()
        self.jac = {k: (v.float() if torch.is_tensor(v) and v.is_floating_point() else v) for k, v in jac.items()}
        self.batch = {k: (v.float() if torch.is_tensor(v) and v.is_floating_point() else v)
                      for k, v in self.batch.items()}
        self.targets = {k: v.float() for k, v in _targets(atoms_list).items()}
        self.indices = np.asarray(indices)
        self.atom_config = self.batch["batch"]
        electrode = np.concatenate([electrode_atoms(a) for a in atoms_list])
        self.force_weight = torch.from_numpy(np.where(electrode, electrode_weight, 1.0)).float()

    def features(self):
        """(G, Jacobian) in float32: members are trained in float32 and stored in float64."""
        return self.g, self.jac


def _member_loss(model, cb: _CachedBatch, settings: TrainingSettings, weights: torch.Tensor, train: bool):
    out = model(cb.batch, features=cb.features(), forces=True, create_graph=train)
    t = cb.targets
    e_err = ((out["energy"] - t["energy"]) / t["n_atoms"]) ** 2
    f_err = torch.zeros(cb.batch["n_configs"], dtype=torch.float32).index_add(
        0, cb.atom_config, cb.force_weight * ((out["forces"] - t["forces"]) ** 2).sum(1)) / (3 * t["n_atoms"])
    q_err = torch.zeros(cb.batch["n_configs"], dtype=torch.float32).index_add(
        0, cb.atom_config, (out["charges"] - t["charges"]) ** 2) / t["n_atoms"]
    d_err = ((out["dipole_z"] - t["dipole_z"]) / t["n_atoms"]) ** 2
    per = (settings.weight_energy * e_err + settings.weight_force * f_err
           + settings.weight_charge * (q_err + d_err))
    w = weights[cb.indices].float()
    return (w * per).sum() / w.sum(), dict(e=e_err.detach(), f=f_err.detach(), q=q_err.detach(), d=d_err.detach())


def fit_normalisation(model: FieldAwarePotential, batches, atoms_list, *, std_floor: float = 0.0) -> None:
    """Descriptor mean/std, per-atom energy shift and scale from the training set (buffers).

    ``std_floor``: stds below ``std_floor`` × their median are raised to it (see
    :attr:`TrainingSettings.feature_std_floor`).
    """
    g = torch.cat([cb.g.double() for cb in batches])
    model.feature_mean.copy_(g.mean(0))
    std = g.std(0)
    floor = max(1e-3, float(std_floor) * float(std.median()))
    model.feature_std.copy_(std.clamp(min=floor))
    e_per_atom = np.array([a.get_potential_energy() / len(a) for a in atoms_list])
    model.energy_shift.fill_(float(e_per_atom.mean()))
    model.energy_scale.fill_(max(float(e_per_atom.std()) * 3.0, 0.01))
    fields = [float(a.info.get("field_V_per_A", 0.0)) for a in atoms_list]
    model.field_range.copy_(torch.tensor([min(fields), max(fields)], dtype=torch.float64))
    dmin = min(float(np.min(a.get_all_distances(mic=True)[np.triu_indices(len(a), 1)])) for a in atoms_list[:200])
    model.min_distance.fill_(0.85 * dmin)


def train_ensemble(atoms_list, settings: TrainingSettings | None = None, *, checkpoint_dir=None,
                   progress: bool = True, resume: bool = False) -> tuple[PotentialEnsemble, dict]:
    """Train ``settings.n_members`` members on labelled Atoms (with ``info['field_V_per_A']``).

    ``resume=True`` continues from the ensemble in ``checkpoint_dir`` (a partial checkpoint or a
    finished model with the same architecture and member count): member parameters,
    normalisation buffers and history are taken from it and the epoch count goes on from its last
    epoch (``settings.epochs`` is the total). The split and bootstrap weights are the same as in
    the first run (same seed); the Adam moments and learning-rate schedule start afresh, because
    checkpoints hold parameters only, so resume with a learning rate near the one the first run
    had reached (``history['learning_rate']``): a fresh Adam at the initial rate first undoes
    much of the converged fit. ``max_minutes`` limits this call's wall time.

    Returns the ensemble (best validation state per member) and a history dict.
    """
    from tqdm.auto import tqdm

    s = settings or TrainingSettings()
    s.validate()
    if len(atoms_list) < 10:
        raise InputError(f"{len(atoms_list)} labelled configurations is too few to train (need >= 10)")
    torch.manual_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    val_idx, train_idx = _split(atoms_list, s, rng)
    n_val = len(val_idx)
    members = [FieldAwarePotential(descriptor=s.descriptor, network=s.network) for _ in range(s.n_members)]
    desc, elements = members[0].descriptor, members[0].elements

    def make_batches(idx):
        return [_CachedBatch([atoms_list[k] for k in idx[b:b + s.batch_size]], idx[b:b + s.batch_size], desc, elements,
                             electrode_weight=s.weight_force_electrode)
                for b in range(0, len(idx), s.batch_size)]

    train_batches = make_batches(np.sort(train_idx))
    val_batches = make_batches(np.sort(val_idx))
    history: dict = dict(epoch=[], train_loss=[], val_loss=[], val_force_rmse=[], val_energy_rmse_per_atom=[])
    start_epoch, minutes_before = 0, 0.0
    if resume:
        members, history, start_epoch, minutes_before = _resume_state(checkpoint_dir, members, s)
    else:
        for m in members:
            fit_normalisation(m, train_batches, [atoms_list[k] for k in train_idx], std_floor=s.feature_std_floor)
    buffers64 = {n: b.clone() for n, b in members[0].named_buffers()}
    for m in members:
        m.float()  # train in float32 (speed); converted back to float64 at the end
    boot = torch.from_numpy(rng.exponential(size=(s.n_members, len(atoms_list))))
    ones = torch.ones(len(atoms_list), dtype=torch.float64)
    opts = [torch.optim.Adam(m.parameters(), lr=s.learning_rate) for m in members]
    scheds = [torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=max(2, s.patience // 4))
              for o in opts]
    best = [np.inf] * s.n_members
    best_state = [None] * s.n_members
    since = [0] * s.n_members
    t0 = time.time()
    bar = tqdm(range(start_epoch, s.epochs), disable=not progress, desc="training", leave=False,
               initial=start_epoch, total=s.epochs)
    for epoch in bar:
        active = [k for k in range(s.n_members) if since[k] <= s.patience]
        if not active or (time.time() - t0) / 60 > s.max_minutes:
            break
        tl = np.zeros(s.n_members)
        for bi in rng.permutation(len(train_batches)):
            cb = train_batches[bi]
            for k in active:
                opts[k].zero_grad()
                loss, _ = _member_loss(members[k], cb, s, boot[k], train=True)
                loss.backward()
                opts[k].step()
                tl[k] += loss.item() / len(train_batches)
        vl, vf, ve = np.zeros(s.n_members), np.zeros(s.n_members), np.zeros(s.n_members)
        n_v = sum(cb.batch["n_configs"] for cb in val_batches)
        for cb in val_batches:
            for k in range(s.n_members):
                loss, parts = _member_loss(members[k], cb, s, ones, train=False)
                vl[k] += loss.item() * cb.batch["n_configs"] / n_v
                vf[k] += parts["f"].sum().item() / n_v
                ve[k] += parts["e"].sum().item() / n_v
        for k in active:
            scheds[k].step(vl[k])
            if vl[k] < best[k]:
                best[k], since[k] = vl[k], 0
                best_state[k] = {n: v.detach().clone() for n, v in members[k].state_dict().items()}
            else:
                since[k] += 1
        history["epoch"].append(epoch)
        history["train_loss"].append(tl.tolist())
        history["val_loss"].append(vl.tolist())
        history["val_force_rmse"].append(np.sqrt(vf).tolist())
        history["val_energy_rmse_per_atom"].append(np.sqrt(ve).tolist())
        history.setdefault("learning_rate", []).append([o.param_groups[0]["lr"] for o in opts])
        bar.set_postfix(val_F=f"{np.sqrt(vf).mean():.3f}", val_E=f"{np.sqrt(ve).mean() * 1e3:.2f}meV")
        if checkpoint_dir is not None and epoch % 5 == 0:
            save_ensemble(PotentialEnsemble(members), checkpoint_dir,
                          meta=dict(epoch=epoch, partial=True, history=history,
                                    minutes=minutes_before + (time.time() - t0) / 60))
    for k, m in enumerate(members):
        if best_state[k] is not None:
            m.load_state_dict(best_state[k])
        m.double()
        for n, b in m.named_buffers():  # exact float64 constants (normalisation, ranges)
            b.copy_(buffers64[n])
    history.update(n_train=int(len(train_idx)), n_validation=int(n_val),
                   minutes=minutes_before + (time.time() - t0) / 60, resumed_from_epoch=start_epoch or None,
                   validation_config_ids=[str(atoms_list[k].info.get("config_id", k)) for k in np.sort(val_idx)],
                   best_validation_loss=[float(b) for b in best],
                   settings=dict(asdict(s), descriptor=s.descriptor.to_dict(), network=s.network.to_dict()))
    return PotentialEnsemble(members), history


def _split(atoms_list, s: TrainingSettings, rng) -> tuple[np.ndarray, np.ndarray]:
    """(validation indices, training indices) by ``s.validation_split``."""
    order = rng.permutation(len(atoms_list))
    if s.validation_split == "random":
        n_val = max(1, int(round(s.validation_fraction * len(atoms_list))))
        return order[:n_val], order[n_val:]
    tasks = np.array([str(a.info.get("task", "")) for a in atoms_list])
    names = sorted(set(tasks))
    if len(names) < 2 or "" in names:
        raise InputError("validation_split = 'trajectory' needs every configuration to carry info['task'] "
                         f"and at least 2 trajectories (found {len(names)})")
    n_val_tasks = max(1, int(round(s.validation_fraction * len(names))))
    val_tasks = set(np.asarray(names)[rng.permutation(len(names))[:n_val_tasks]])
    is_val = np.isin(tasks, list(val_tasks))
    return order[is_val[order]], order[~is_val[order]]


def _resume_state(checkpoint_dir, fresh_members, s: TrainingSettings):
    """Members (float64, with their buffers), history, next epoch and minutes spent, from a checkpoint."""
    if checkpoint_dir is None:
        raise InputError("resume=True needs checkpoint_dir (the folder of the ensemble to continue)")
    ens, info = load_ensemble(checkpoint_dir)
    if len(ens.members) != s.n_members:
        raise InputError(f"n_members = {s.n_members} does not match the {len(ens.members)} members "
                         f"of the checkpoint in {checkpoint_dir}")
    if ens.members[0].config() != fresh_members[0].config():
        raise InputError(f"the checkpoint in {checkpoint_dir} has another architecture "
                         f"({ens.members[0].config()}); resume needs the same descriptor and network")
    meta = info.get("meta", {})
    keys = ("epoch", "train_loss", "val_loss", "val_force_rmse", "val_energy_rmse_per_atom")
    history = {k: list(meta.get("history", {}).get(k, [])) for k in keys}
    start = int(history["epoch"][-1]) + 1 if history["epoch"] else int(meta.get("epoch", -1)) + 1
    if start >= s.epochs:
        raise InputError(f"epochs = {s.epochs} is not beyond the checkpoint's {start} epochs: nothing to resume")
    minutes = float(meta.get("minutes", meta.get("history", {}).get("minutes", 0.0)) or 0.0)
    members = [m.train() for m in ens.members]
    return members, history, start, minutes


def save_ensemble(ens: PotentialEnsemble, directory, *, meta: dict | None = None) -> Path:
    """Write ``ensemble.pt`` (state dicts only) and ``ensemble.json`` (config + meta) atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    states = {f"member{k}": m.state_dict() for k, m in enumerate(ens.members)}
    with atomic_path(directory / "ensemble.pt") as tmp:
        torch.save(states, tmp)
    info = dict(config=ens.members[0].config(), n_members=len(ens.members), meta=meta or {})
    with atomic_path(directory / "ensemble.json") as tmp:
        tmp.write_text(json.dumps(info, indent=2, default=float))
    return directory


def load_ensemble(directory) -> tuple[PotentialEnsemble, dict]:
    """Load an ensemble written by :func:`save_ensemble` (``torch.load(weights_only=True)``)."""
    from ..errors import DataFileError

    directory = Path(directory)
    try:
        info = json.loads((directory / "ensemble.json").read_text())
        states = torch.load(directory / "ensemble.pt", weights_only=True, map_location="cpu")
    except FileNotFoundError as exc:
        raise DataFileError(f"no trained ensemble in {directory} ({exc.filename} missing); "
                            "train one with `multiscale potential train`") from None
    members = []
    for k in range(info["n_members"]):
        m = FieldAwarePotential.from_config(info["config"])
        m.load_state_dict(states[f"member{k}"])
        m.eval()
        members.append(m)
    return PotentialEnsemble(members), info


def attach_core_repulsion(directory, frames, *, stiffness_eV_per_A3: float | None = None) -> dict:
    """Store the per-element-pair minimum distances of ``frames`` (the training configurations)
    in ``directory/ensemble.json`` so that the calculator adds the core repulsion of
    :mod:`multiscale.atomistic.core_repulsion` below them. Rewrites the JSON atomically; the
    weights are untouched. Returns the updated metadata."""
    from ase.data import chemical_symbols

    from .core_repulsion import (DEFAULT_COVALENT_FRACTION, DEFAULT_ONSET_FRACTION, DEFAULT_STIFFNESS_EV_PER_A3,
                                 pair_minimum_distances)

    directory = Path(directory)
    ens, info = load_ensemble(directory)
    m = ens.members[0]
    r_min = pair_minimum_distances(frames, m.elements, m.descriptor.settings.cutoff_A)
    meta = dict(info.get("meta", {}))
    meta["pair_min_distance_A"] = r_min.tolist()
    meta["pair_min_distance_elements"] = [chemical_symbols[z] for z in m.elements]
    meta["core_stiffness_eV_per_A3"] = float(stiffness_eV_per_A3 or DEFAULT_STIFFNESS_EV_PER_A3)
    meta["core_onset_fraction"] = DEFAULT_ONSET_FRACTION
    meta["core_covalent_fraction"] = DEFAULT_COVALENT_FRACTION
    info["meta"] = meta
    with atomic_path(directory / "ensemble.json") as tmp:
        tmp.write_text(json.dumps(info, indent=2, default=float))
    return meta
