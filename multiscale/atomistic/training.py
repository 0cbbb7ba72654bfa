"""Training the ensemble: energy + force + charge loss, validation split, early stopping, checkpoints.

Loss of member m on a batch (weights w_E, w_F, w_Q; per-configuration bootstrap weights b_mc ~
Exp(1), fixed per member, decorrelate the members beyond their random initialisation)::

    L_m = Σ_c b_mc [ w_E ((E_c − E_c^ref)/N_c)² + w_F mean_i a_i |F_i − F_i^ref|² + w_Q mean_i (q_i − q_i^ref)² ] / Σ_c b_mc

(a_i = ``weight_force_electrode`` for graphene-electrode atoms, 1 otherwise.)

Units: eV/atom, eV/Å, e. The descriptor and its analytic Jacobian are computed once per
fixed mini-batch (float32 cache; the Jacobian factors, most of its memory, optionally in float16:
``TrainingSettings.cache_dtype``), so an epoch costs only the element networks. Early stopping
keeps, per member, the parameters with the lowest validation loss (patience in epochs).
Checkpoints (``torch.save`` of state dicts + JSON-able metadata, loaded back with
``weights_only=True``) are written atomically.
"""
from __future__ import annotations

import copy
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..io import atomic_path
from .ensemble import MIN_MEMBERS, PotentialEnsemble
from .graph import build_graph, collate
from .message_passing import MessagePassingPotential, MessagePassingSettings
from .model import (BULK_JACOBIAN_FACTORS, DescriptorSettings, FieldAwarePotential, NetworkSettings, add_messages,
                    member_from_config, widen_networks)


#: subfolder of a training run's output holding the members' weight averages
#: (``TrainingSettings.average_from_epoch``), whether or not they were kept
WEIGHT_AVERAGE_FOLDER = "weight_average"

_CACHE_DTYPES = {"float32": torch.float32, "float16": torch.float16}


@dataclass
class TrainingSettings:
    n_members: int = 4
    epochs: int = 200
    batch_size: int = 8
    learning_rate: float = 3e-3
    weight_energy: float = 100.0
    weight_force: float = 1.0
    weight_charge: float = 10.0
    #: decoupled weight decay (AdamW) on the networks' weight matrices, per step ∝ learning rate;
    #: biases, per-element shifts and normalisation are not decayed. 0 (default): plain Adam. A
    #: lever against fitting one energy offset per training packing (models/*vff/card.md).
    weight_decay: float = 0.0
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
    #: storage of the descriptor-Jacobian factors (``model.BULK_JACOBIAN_FACTORS``: radial ∂g/∂r per
    #: pair, the angular term's factors and their derivatives per triplet) in the training cache,
    #: "float32" or "float16". They are ~55 % of the cache (per configuration of labels_mlmd3.db
    #: with the vff model's descriptor: 1.77 MB in float32, 1.26 in float16), which is what limits
    #: the data one training run can hold; float16 halves them (relative rounding 5e-4 per factor;
    #: forces of the cached contraction change by ~1e-4 relative; the members still train in
    #: float32). MD and evaluation never use the cache.
    cache_dtype: str = "float32"
    validation_fraction: float = 0.1
    #: "random": a random fraction of configurations (neighbouring MD frames land on both sides,
    #: so the validation error measures interpolation along the training trajectories);
    #: "trajectory": whole trajectories (``info["task"]``) are held out, which measures
    #: transfer to new molecular arrangements (needs several trajectories).
    validation_split: str = "random"
    patience: int = 30
    #: stochastic weight averaging (Izmailov et al. 2018): from this epoch on (the run's epoch
    #: count, as in ``history['epoch']``; a continued run counts from 0), each member's weights
    #: after every epoch it trains are averaged; at the end the average replaces the member's best
    #: state where its validation loss is lower. None: off. A lever against the epoch-to-epoch
    #: noise of a continued run at a plateau (models/*vff/card.md, "Stage 8"). Not checkpointed: a
    #: resumed run starts its averages afresh.
    average_from_epoch: int | None = None
    seed: int = 0
    max_minutes: float = 30.0
    descriptor: DescriptorSettings = field(default_factory=DescriptorSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    #: "behler-parrinello" (symmetry functions, :mod:`.model`) or "painn" (message passing,
    #: :mod:`.message_passing`; trained with a double backward, best on a GPU)
    architecture: str = "behler-parrinello"
    message_passing: MessagePassingSettings = field(default_factory=MessagePassingSettings)
    #: torch device for message-passing training ("cpu", "cuda", "cuda:1")
    device: str = "cpu"
    #: message-passing members trained at the same time in separate processes (one device)
    parallel_members: int = 1
    #: gradient-norm clip for message-passing training (0: none)
    clip_grad_norm: float = 10.0
    #: start every member from the same-index member of this trained ensemble (a folder written
    #: by :func:`save_ensemble`, same architecture and settings; ``network.hidden`` may be wider, and
    #: the members are then widened by :func:`~.model.widen_networks`; ``network.messages`` may be set
    #: for a parent without, and they are then added by :func:`~.model.add_messages`) with a fresh optimiser at
    #: ``learning_rate``, instead of a random initialisation (continued training, e.g. after
    #: new labels; symmetry-function members also keep their feature normalisation)
    init_from: str | None = None
    #: physics baseline the members learn on top of (Δ-learning): None, or the dict of
    #: :class:`multiscale.atomistic.pi_electrons.PiBandSettings` (the Γ-point π-band term of the
    #: graphene sheet, whose forces no local model can represent). Targets become reference −
    #: baseline; the trained ensemble carries it and its calculator adds it back.
    baseline: dict | None = None

    def baseline_settings(self):
        """The baseline as :class:`~multiscale.atomistic.pi_electrons.PiBandSettings`, or None."""
        if not self.baseline:
            return None
        from .pi_electrons import PiBandSettings

        return PiBandSettings.from_dict(self.baseline)

    def validate(self) -> None:
        b = self.baseline_settings()
        if self.network.sheet_energy_from_baseline and self.architecture != "behler-parrinello":
            raise InputError(f"network.sheet_energy_from_baseline is implemented for the behler-parrinello "
                             f"architecture only, not {self.architecture!r}")
        if self.network.sheet_energy_from_baseline and (b is None or not b.bond_coefficients):
            raise InputError("network.sheet_energy_from_baseline needs a baseline with bond terms (the sheet's "
                             "σ bonds); fit them with pi_electrons.fit_bond_terms (CLI: --baseline graphene-pi-bonds)")
        if self.architecture not in ("behler-parrinello", "painn"):
            raise InputError(f"architecture = {self.architecture!r} must be 'behler-parrinello' or 'painn'")
        if self.architecture == "painn":
            self.message_passing.validate()
        if not self.device.startswith(("cpu", "cuda")):
            raise InputError(f"device = {self.device!r} must be 'cpu' or 'cuda[:k]'")
        if not 1 <= self.parallel_members <= self.n_members:
            raise InputError(f"parallel_members = {self.parallel_members} must be in [1, n_members = {self.n_members}]")
        if self.n_members < MIN_MEMBERS:
            raise InputError(f"n_members = {self.n_members} must be >= {MIN_MEMBERS} for a deep ensemble")
        if not 0.0 <= self.feature_std_floor <= 10.0:
            raise InputError(f"feature_std_floor = {self.feature_std_floor} must be in [0, 10]")
        for name in ("weight_energy", "weight_force", "weight_charge", "weight_decay"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0.0):
                raise InputError(f"{name} = {getattr(self, name)} must be a finite number ≥ 0")
        if not 0.0 <= self.weight_force_electrode <= 1.0:
            raise InputError(f"weight_force_electrode = {self.weight_force_electrode} must be in [0, 1]")
        if self.cache_dtype not in _CACHE_DTYPES:
            raise InputError(f"cache_dtype = {self.cache_dtype!r} must be one of {sorted(_CACHE_DTYPES)}")
        if not 0.0 < self.validation_fraction < 0.5:
            raise InputError(f"validation_fraction = {self.validation_fraction} must be in (0, 0.5)")
        if self.validation_split not in ("random", "trajectory"):
            raise InputError(f"validation_split = {self.validation_split!r} must be 'random' or 'trajectory'")
        if self.average_from_epoch is not None and not 0 <= self.average_from_epoch < self.epochs:
            raise InputError(f"average_from_epoch = {self.average_from_epoch} must be in [0, epochs = {self.epochs})")
        if self.average_from_epoch is not None and self.architecture != "behler-parrinello":
            raise InputError(f"average_from_epoch is implemented for the behler-parrinello architecture only, "
                             f"not {self.architecture!r}")
        for k in ("epochs", "batch_size"):
            if getattr(self, k) < 1:
                raise InputError(f"{k} = {getattr(self, k)} must be >= 1")
        if not self.network.hidden or min(self.network.hidden) < 1:
            raise InputError(f"network.hidden = {self.network.hidden} must be one or more widths >= 1")
        if self.architecture == "behler-parrinello":
            self.descriptor.validate()
            if self.network.messages is not None:
                self.network.messages.validate()
        elif self.network.messages is not None:
            raise InputError(f"network.messages is for the behler-parrinello architecture, not {self.architecture!r}")


def _targets(atoms_list) -> dict:
    e = torch.tensor([a.get_potential_energy() for a in atoms_list], dtype=torch.float64)
    f = torch.from_numpy(np.concatenate([a.get_forces() for a in atoms_list]))
    q = torch.from_numpy(np.concatenate([a.calc.results["charges"] for a in atoms_list]))
    n = torch.tensor([len(a) for a in atoms_list], dtype=torch.float64)
    mu = torch.tensor([float(a.calc.results["dipole"][2]) for a in atoms_list], dtype=torch.float64)
    has_mu = torch.tensor([float(dipole_defined(a)) for a in atoms_list], dtype=torch.float64)
    return dict(energy=e, forces=f, charges=q, n_atoms=n, dipole_z=mu, dipole_weight=has_mu)


def dipole_defined(atoms, *, vacuum_A: float = 5.0) -> bool:
    """Whether the cell's z dipole means something: a slab with at least ``vacuum_A`` of vacuum along z.

    In a cell filled along z (bulk electrolyte) Σ q_i z_i depends on where the atoms are wrapped,
    so neither the reference's nor the model's dipole is physical there: those configurations
    get no dipole loss.
    """
    if not atoms.pbc[2]:
        return True
    z = atoms.positions[:, 2]
    return bool(np.ptp(z) + vacuum_A <= atoms.cell[2, 2])


class _CachedBatch:
    """A fixed mini-batch: collated graph, descriptor + Jacobian (float32; its factors in
    ``factor_dtype``) and targets."""

    def __init__(self, atoms_list, indices, descriptor, elements, electrode_weight: float = 1.0,
                 factor_dtype: torch.dtype = torch.float32):
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
        # the Jacobian factors (most of the cache) in factor_dtype: contract() casts them back
        self.jac = {k: (v.to(factor_dtype if k in BULK_JACOBIAN_FACTORS else torch.float32)
                        if torch.is_tensor(v) and v.is_floating_point() else v) for k, v in jac.items()}
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

    def loss(self, model, s: "TrainingSettings", weights: torch.Tensor, train: bool):
        """(weighted loss, per-configuration squared errors): :func:`_member_loss`, so that a loop
        over batches need not know whether they are descriptor caches or pair graphs."""
        return _member_loss(model, self, s, weights, train)

    def nbytes(self) -> int:
        """Bytes held by this batch's tensors (each distinct tensor counted once)."""
        seen, total = set(), 0
        for v in [self.g, *self.jac.values(), *self.batch.values(), *self.targets.values(), self.force_weight]:
            if torch.is_tensor(v) and id(v) not in seen:
                seen.add(id(v))
                total += v.element_size() * v.nelement()
        return total


def _weighted_loss(out: dict, t: dict, atom_config, n_configs: int, force_weight, settings: "TrainingSettings",
                   w: torch.Tensor):
    """The loss of the module docstring for one batch: (Σ_c w_c L_c / Σ_c w_c, per-configuration
    squared errors), on the device and in the dtype of ``out``."""
    dev, dt = out["energy"].device, out["energy"].dtype

    def per_config(x):
        return torch.zeros(n_configs, dtype=dt, device=dev).index_add(0, atom_config, x)

    e_err = ((out["energy"] - t["energy"]) / t["n_atoms"]) ** 2
    f_err = per_config(force_weight * ((out["forces"] - t["forces"]) ** 2).sum(1)) / (3 * t["n_atoms"])
    q_err = per_config((out["charges"] - t["charges"]) ** 2) / t["n_atoms"]
    d_err = t["dipole_weight"] * ((out["dipole_z"] - t["dipole_z"]) / t["n_atoms"]) ** 2
    per = (settings.weight_energy * e_err + settings.weight_force * f_err
           + settings.weight_charge * (q_err + d_err))
    return (w * per).sum() / w.sum(), dict(e=e_err.detach(), f=f_err.detach(), q=q_err.detach(), d=d_err.detach())


def _refit_atomic_energies(model: FieldAwarePotential, batches, atoms_list) -> np.ndarray:
    """Shift each element's atomic energy (the bias of its network's energy output) by the least-squares
    per-element correction of the model's energy residuals; returns the shifts [eV].

    A model trained on one composition (every interface cell has the same formula) has per-element
    energies fixed only in that combination: on a new composition (bulk electrolyte) its total
    energy is off by eV per atom while its forces are fine. Continued training would spend its
    first epochs, with huge energy gradients, undoing that; this removes it exactly first.
    """
    energies = []
    with torch.no_grad():
        for cb in batches:
            g = cb.g.to(model.feature_mean.dtype)
            out = model.energy_from_features(g, {k: (v.to(g.dtype) if torch.is_tensor(v) and v.is_floating_point()
                                                     else v) for k, v in cb.batch.items()})
            energies.append(out["energy"].double().numpy())
    pred = np.concatenate(energies)
    ref = np.array([a.get_potential_energy() for a in atoms_list])
    delta = atomic_reference_energies(_composition(atoms_list, model.elements), ref - pred)
    with torch.no_grad():
        for k, net in enumerate(model.nets):
            net[-1].bias[0] += float(delta[k] / model.energy_scale)
    return delta


def _member_loss(model, cb: _CachedBatch, settings: TrainingSettings, weights: torch.Tensor, train: bool):
    out = model(cb.batch, features=cb.features(), forces=True, create_graph=train)
    return _weighted_loss(out, cb.targets, cb.atom_config, cb.batch["n_configs"], cb.force_weight, settings,
                          weights[cb.indices].float())


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
    model.energy_scale.fill_(max(float(e_per_atom.std()) * 3.0, 0.01))
    _fit_ranges(model, atoms_list)


def _composition(atoms_list, elements) -> np.ndarray:
    """(configurations, elements) atom counts."""
    lut = {z: k for k, z in enumerate(elements)}
    out = np.zeros((len(atoms_list), len(elements)))
    for c, a in enumerate(atoms_list):
        for z, n in zip(*np.unique(a.numbers, return_counts=True)):
            out[c, lut[int(z)]] = n
    return out


def atomic_reference_energies(counts: np.ndarray, energies_eV: np.ndarray, base_eV: float = 0.0) -> np.ndarray:
    """Per-element energies ε_Z with Σ_Z n_cZ ε_Z ≈ E_c: ``base_eV`` plus the minimum-norm least-squares
    correction. Compositions that never vary independently (LiBF₄ always 1:1:4) leave the split
    between their elements undetermined; the minimum norm keeps it even. One composition alone
    moves every element by the same amount: its mean residual per atom."""
    r = np.asarray(energies_eV, dtype=float) - counts.sum(1) * base_eV
    delta, *_ = np.linalg.lstsq(counts, r, rcond=None)
    return base_eV + delta


def _fit_ranges(model, atoms_list) -> None:
    """Per-element energy shift (atomic reference energies, :func:`atomic_reference_energies` about the
    mean energy per atom), trained field range and minimum distance (buffers)."""
    e_per_atom = np.array([a.get_potential_energy() / len(a) for a in atoms_list])
    counts = _composition(atoms_list, model.elements)
    energies = np.array([a.get_potential_energy() for a in atoms_list])
    model.energy_shift.copy_(torch.from_numpy(atomic_reference_energies(counts, energies, float(e_per_atom.mean()))))
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
    baseline = s.baseline_settings()
    if baseline is not None:
        from .pi_electrons import subtract_baseline

        atoms_list = subtract_baseline(atoms_list, baseline)
    if s.architecture == "painn":
        if resume:
            raise InputError("resume=True is implemented for the behler-parrinello architecture only")
        return _train_message_passing(atoms_list, s, checkpoint_dir=checkpoint_dir, progress=progress)
    torch.manual_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    val_idx, train_idx = _split(atoms_list, s, rng)
    n_val = len(val_idx)
    members = [FieldAwarePotential(descriptor=s.descriptor, network=s.network) for _ in range(s.n_members)]
    desc, elements = members[0].descriptor, members[0].elements

    def make_batches(idx):
        return [_CachedBatch([atoms_list[k] for k in idx[b:b + s.batch_size]], idx[b:b + s.batch_size], desc, elements,
                             electrode_weight=s.weight_force_electrode, factor_dtype=_CACHE_DTYPES[s.cache_dtype])
                for b in range(0, len(idx), s.batch_size)]

    train_batches = make_batches(np.sort(train_idx))
    val_batches = make_batches(np.sort(val_idx))
    if progress:  # what limits a run's data on a small machine
        cache_GB = sum(cb.nbytes() for cb in train_batches + val_batches) / 1e9
        print(f"training cache: {len(train_idx)} + {n_val} configurations, {cache_GB:.2f} GB "
              f"(Jacobian factors in {s.cache_dtype})", file=sys.stderr)
    history: dict = dict(epoch=[], train_loss=[], val_loss=[], val_force_rmse=[], val_energy_rmse_per_atom=[])
    start_epoch, minutes_before = 0, 0.0
    if resume:
        members, history, start_epoch, minutes_before = _resume_state(checkpoint_dir, members, s)
    elif s.init_from:
        # continued training: weights *and* normalisation buffers of the earlier ensemble, so the
        # features keep the scaling the weights were fitted with
        members, _, _, _ = _resume_state(s.init_from, members, s, need_history=False)
        for m in members:  # new compositions: their atomic reference energies first (see the function)
            _refit_atomic_energies(m, train_batches, [atoms_list[k] for k in np.sort(train_idx)])
    else:
        for m in members:
            fit_normalisation(m, train_batches, [atoms_list[k] for k in train_idx], std_floor=s.feature_std_floor)
    buffers64 = {n: b.clone() for n, b in members[0].named_buffers()}
    for m in members:
        m.float()  # train in float32 (speed); converted back to float64 at the end
    boot = torch.from_numpy(rng.exponential(size=(s.n_members, len(atoms_list))))
    ones = torch.ones(len(atoms_list), dtype=torch.float64)
    opts = [make_optimizer(m, s) for m in members]
    scheds = [torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=max(2, s.patience // 4))
              for o in opts]
    best = [np.inf] * s.n_members
    best_state = [None] * s.n_members
    since = [0] * s.n_members
    warmup_steps = 0
    if s.init_from and not resume:
        # a continued run starts from a trained minimum: its validation loss is the one to beat (the
        # run never returns worse members than it was given), and the fresh Adam moments would kick
        # the weights out of that minimum on the first steps; ramp the rate over the first epoch
        best = _validation_losses(members, val_batches, s, ones)[0].tolist()
        best_state = [{n: v.detach().clone() for n, v in m.state_dict().items()} for m in members]
        history["initial_val_loss"] = list(best)
        warmup_steps = len(train_batches)
    averages = [_WeightAverage() for _ in members]
    step, epoch = 0, start_epoch
    t0 = time.time()
    bar = tqdm(range(start_epoch, s.epochs), disable=not progress, desc="training", leave=False,
               initial=start_epoch, total=s.epochs)
    try:
        for epoch in bar:
            active = [k for k in range(s.n_members) if since[k] <= s.patience]
            if not active or (time.time() - t0) / 60 > s.max_minutes:
                break
            tl = np.zeros(s.n_members)
            for bi in rng.permutation(len(train_batches)):
                cb = train_batches[bi]
                if step < warmup_steps:
                    for o in opts:
                        o.param_groups[0]["lr"] = s.learning_rate * (step + 1) / warmup_steps
                step += 1
                for k in active:
                    opts[k].zero_grad()
                    loss, _ = _member_loss(members[k], cb, s, boot[k], train=True)
                    loss.backward()
                    opts[k].step()
                    tl[k] += loss.item() / len(train_batches)
            vl, vf, ve = _validation_losses(members, val_batches, s, ones)
            for k in active:
                scheds[k].step(vl[k])
                if vl[k] < best[k]:
                    best[k], since[k] = vl[k], 0
                    best_state[k] = {n: v.detach().clone() for n, v in members[k].state_dict().items()}
                else:
                    since[k] += 1
                if s.average_from_epoch is not None and epoch >= s.average_from_epoch:
                    averages[k].add(members[k])
            history["epoch"].append(epoch)
            history["train_loss"].append(tl.tolist())
            history["val_loss"].append(vl.tolist())
            history["val_force_rmse"].append(np.sqrt(vf).tolist())
            history["val_energy_rmse_per_atom"].append(np.sqrt(ve).tolist())
            history.setdefault("learning_rate", []).append([o.param_groups[0]["lr"] for o in opts])
            bar.set_postfix(val_F=f"{np.sqrt(vf).mean():.3f}", val_E=f"{np.sqrt(ve).mean() * 1e3:.2f}meV")
            if checkpoint_dir is not None and epoch % 5 == 0:
                save_ensemble(_with_baseline(PotentialEnsemble(members), baseline), checkpoint_dir,
                              meta=dict(epoch=epoch, partial=True, history=history,
                                        minutes=minutes_before + (time.time() - t0) / 60))
    except KeyboardInterrupt:
        # Ctrl-C ends the run as if its time were up: the best members so far are returned (and the
        # CLI saves them); the partial epoch is dropped
        history["interrupted_at_epoch"] = int(epoch)
        if progress:
            print(f"\ninterrupted in epoch {epoch}: keeping the best members so far", file=sys.stderr)
    averaged = None
    if s.average_from_epoch is not None:
        history["weight_average"] = _keep_better_averages(members, averages, best, best_state, val_batches, s, ones)
        averaged = [a.parameters() if a.n >= 2 else None for a in averages]
    for k, m in enumerate(members):
        if best_state[k] is not None:
            m.load_state_dict(best_state[k])
        m.double()
        for n, b in m.named_buffers():  # exact float64 constants (normalisation, ranges)
            b.copy_(buffers64[n])
    if averaged is not None and checkpoint_dir is not None:
        # the averages themselves, kept or not: held-out data decide between them and the best
        # epochs, which the validation set chose (and so flatters)
        folder = Path(checkpoint_dir) / WEIGHT_AVERAGE_FOLDER
        save_ensemble(_with_baseline(PotentialEnsemble(_averaged_members(members, averaged)), baseline), folder,
                      meta=dict(partial=False, weight_average=history["weight_average"]))
        history["weight_average"]["folder"] = str(folder)
    history.update(n_train=int(len(train_idx)), n_validation=int(n_val),
                   minutes=minutes_before + (time.time() - t0) / 60, resumed_from_epoch=start_epoch or None,
                   validation_config_ids=[str(atoms_list[k].info.get("config_id", k)) for k in np.sort(val_idx)],
                   best_validation_loss=[float(b) for b in best],
                   settings=dict(asdict(s), descriptor=s.descriptor.to_dict(), network=s.network.to_dict()))
    return _with_baseline(PotentialEnsemble(members), baseline), history


class _WeightAverage:
    """Running mean of one member's parameters over the epochs it is given (float64 sums)."""

    def __init__(self):
        self.n = 0
        self.sums: dict[str, torch.Tensor] = {}

    def add(self, model) -> None:
        for name, p in model.named_parameters():
            v = p.detach().double()
            self.sums[name] = self.sums[name] + v if name in self.sums else v.clone()
        self.n += 1

    def parameters(self) -> dict:
        """The mean of each parameter (float64)."""
        return {name: total / self.n for name, total in self.sums.items()}

    def state(self, model) -> dict:
        """``model``'s state dict with each parameter replaced by its mean (buffers as they are)."""
        state = {n: v.detach().clone() for n, v in model.state_dict().items()}
        state.update({name: mean.to(state[name].dtype) for name, mean in self.parameters().items()})
        return state


def _averaged_members(members, averaged) -> list:
    """Copies of the (float64) members with their parameters replaced by their averages (None: the
    member as it is); buffers stay the members' exact ones."""
    out = []
    for m, mean in zip(members, averaged):
        c = copy.deepcopy(m)
        if mean is not None:
            with torch.no_grad():
                for name, p in c.named_parameters():
                    p.copy_(mean[name])
        out.append(c)
    return out


def _keep_better_averages(members, averages, best, best_state, val_batches, s: TrainingSettings, ones) -> dict:
    """Evaluate each member's weight average; where its validation loss beats the member's best,
    make it the best state (``best`` and ``best_state`` are updated in place). Returns the record
    for the history: epochs averaged, the averages' validation losses, which were kept."""
    last = [{n: v.detach().clone() for n, v in m.state_dict().items()} for m in members]
    has = [a.n >= 2 for a in averages]  # one epoch's weights are not an average
    for m, a, h in zip(members, averages, has):
        if h:
            m.load_state_dict(a.state(m))
    vl, vf, ve = _validation_losses(members, val_batches, s, ones)
    record = dict(from_epoch=s.average_from_epoch, n_epochs=[a.n for a in averages], val_loss=[], kept=[],
                  val_force_rmse=[], val_energy_rmse_per_atom=[])
    for k, m in enumerate(members):
        keep = bool(has[k] and vl[k] < best[k])
        if keep:
            best[k], best_state[k] = float(vl[k]), {n: v.detach().clone() for n, v in m.state_dict().items()}
        m.load_state_dict(last[k])
        record["val_loss"].append(float(vl[k]) if has[k] else None)
        record["val_force_rmse"].append(float(np.sqrt(vf[k])) if has[k] else None)
        record["val_energy_rmse_per_atom"].append(float(np.sqrt(ve[k])) if has[k] else None)
        record["kept"].append(keep)
    return record


def _validation_losses(members, val_batches, s: TrainingSettings, ones: torch.Tensor):
    """Per member: (validation loss, mean squared force error [(eV/Å)²], mean squared per-atom
    energy error [(eV/atom)²]), every configuration weighted equally."""
    vl, vf, ve = np.zeros(len(members)), np.zeros(len(members)), np.zeros(len(members))
    n_v = sum(cb.batch["n_configs"] for cb in val_batches)
    for cb in val_batches:
        for k, m in enumerate(members):
            loss, parts = _member_loss(m, cb, s, ones, train=False)
            vl[k] += loss.item() * cb.batch["n_configs"] / n_v
            vf[k] += parts["f"].sum().item() / n_v
            ve[k] += parts["e"].sum().item() / n_v
    return vl, vf, ve


def _with_baseline(ens: PotentialEnsemble, baseline) -> PotentialEnsemble:
    ens.baseline = baseline
    return ens


# ----------------------------------------------------------------------------------------------
# Message-passing members (PaiNN). No descriptor to cache: each step differentiates the energy
# with respect to the positions inside the graph (create_graph) so that the force loss can be
# back-propagated (a double backward). Members are independent (deep ensemble), so they are
# trained one after another, or side by side in ``parallel_members`` processes sharing a device.
# ----------------------------------------------------------------------------------------------
class _GraphBatch:
    """A fixed mini-batch for message passing: collated pair graph, targets and weights, on a device."""

    def __init__(self, atoms_list, indices, cutoff_A: float, elements, electrode_weight: float, device: str):
        from .system import electrode_atoms

        graphs = [build_graph(a, elements, cutoff_A, 0.0, field_V_per_A=float(a.info.get("field_V_per_A", 0.0)),
                              total_charge=0.0) for a in atoms_list]
        b = collate(graphs, requires_grad=False)
        b.pop("vectors")
        self.batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in b.items()}
        self.targets = {k: v.float().to(device) for k, v in _targets(atoms_list).items()}
        electrode = np.concatenate([electrode_atoms(a) for a in atoms_list])
        self.force_weight = torch.from_numpy(np.where(electrode, electrode_weight, 1.0)).float().to(device)
        self.indices = torch.as_tensor(np.asarray(indices), device=device)
        self.n_configs = len(atoms_list)

    def features(self):
        """None: message passing computes its features from the positions (the same call as a
        descriptor cache's ``model(batch, features=cb.features())``)."""
        return None

    def loss(self, model, s: "TrainingSettings", weights: torch.Tensor, train: bool):
        """(weighted loss, per-configuration squared errors) as in :func:`_member_loss`."""
        out = model(self.batch, forces=True, create_graph=train)
        return _weighted_loss(out, self.targets, self.batch["batch"], self.n_configs, self.force_weight, s,
                              weights[self.indices])


def _message_passing_batches(atoms_list, idx, s: "TrainingSettings", elements, device: str):
    idx = np.sort(np.asarray(idx))
    return [_GraphBatch([atoms_list[k] for k in idx[b:b + s.batch_size]], idx[b:b + s.batch_size],
                        s.message_passing.cutoff_A, elements, s.weight_force_electrode, device)
            for b in range(0, len(idx), s.batch_size)]


def _train_message_passing_member(k: int, atoms_list, s: "TrainingSettings", train_idx, val_idx, boot_k,
                                  buffers: dict, progress: bool = False, log_every: int = 1,
                                  init_state: dict | None = None) -> tuple[dict, dict]:
    """Train member ``k`` (from ``init_state`` if given); returns (best state dict on the CPU in
    float64, history)."""
    from tqdm.auto import tqdm

    torch.manual_seed(s.seed * 1009 + k)
    rng = np.random.default_rng(s.seed * 1009 + k)
    device = s.device
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False  # forces need full float32 products
    model = MessagePassingPotential(settings=s.message_passing)
    if init_state is not None:
        model.load_state_dict(init_state)
    for n, b in model.named_buffers():
        if n in buffers:
            b.copy_(buffers[n])
    model = model.float().to(device)
    train = _message_passing_batches(atoms_list, train_idx, s, model.elements, device)
    val = _message_passing_batches(atoms_list, val_idx, s, model.elements, device)
    w_train = torch.as_tensor(boot_k, dtype=torch.float32, device=device)
    ones = torch.ones_like(w_train)
    opt = make_optimizer(model, s)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(2, s.patience // 4))
    hist: dict = dict(epoch=[], train_loss=[], val_loss=[], val_force_rmse=[], val_energy_rmse_per_atom=[],
                      learning_rate=[])
    best, since, best_state = np.inf, 0, None
    t0 = time.time()
    n_v = sum(cb.n_configs for cb in val)
    bar = tqdm(range(s.epochs), disable=not progress, desc=f"member {k}", leave=False)
    for epoch in bar:
        if since > s.patience or (time.time() - t0) / 60 > s.max_minutes:
            break
        model.train()
        tl = 0.0
        for bi in rng.permutation(len(train)):
            opt.zero_grad(set_to_none=True)
            loss, _ = train[bi].loss(model, s, w_train, train=True)
            loss.backward()
            if s.clip_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), s.clip_grad_norm)
            opt.step()
            tl += loss.item() / len(train)
        model.eval()
        vl = vf = ve = 0.0
        for cb in val:
            loss, parts = cb.loss(model, s, ones, train=False)
            vl += loss.item() * cb.n_configs / n_v
            vf += parts["f"].sum().item() / n_v
            ve += parts["e"].sum().item() / n_v
        sched.step(vl)
        if vl < best:
            best, since = vl, 0
            best_state = {n: v.detach().to("cpu", copy=True) for n, v in model.state_dict().items()}
        else:
            since += 1
        for key, val_ in (("epoch", epoch), ("train_loss", tl), ("val_loss", vl), ("val_force_rmse", np.sqrt(vf)),
                          ("val_energy_rmse_per_atom", np.sqrt(ve)), ("learning_rate", opt.param_groups[0]["lr"])):
            hist[key].append(float(val_))
        bar.set_postfix(val_F=f"{np.sqrt(vf):.3f}", val_E=f"{np.sqrt(ve) * 1e3:.2f}meV")
        if log_every and not progress and epoch % log_every == 0:
            print(f"member {k} epoch {epoch} {(time.time() - t0) / 60:.1f} min: train {tl:.4g} val {vl:.4g} "
                  f"F {np.sqrt(vf) * 1e3:.0f} meV/A E {np.sqrt(ve) * 1e3:.2f} meV/atom", flush=True)
    hist.update(minutes=(time.time() - t0) / 60, best_validation_loss=float(best))
    state = {n: v.double() if v.is_floating_point() else v for n, v in (best_state or {}).items()}
    for n, b in buffers.items():  # exact float64 constants
        state[n] = b.clone()
    return state, hist


def _member_worker(args):
    k, atoms_list, s, train_idx, val_idx, boot_k, buffers, init_state = args
    torch.set_num_threads(1)
    return _train_message_passing_member(k, atoms_list, s, train_idx, val_idx, boot_k, buffers, progress=False,
                                         init_state=init_state)


def _train_message_passing(atoms_list, s: "TrainingSettings", *, checkpoint_dir=None,
                           progress: bool = True) -> tuple[PotentialEnsemble, dict]:
    """Train ``s.n_members`` PaiNN members (see :func:`train_ensemble`; no resume)."""
    rng = np.random.default_rng(s.seed)
    val_idx, train_idx = _split(atoms_list, s, rng)
    boot = rng.exponential(size=(s.n_members, len(atoms_list)))
    probe = MessagePassingPotential(settings=s.message_passing)
    train_atoms = [atoms_list[k] for k in train_idx]
    _fit_ranges(probe, train_atoms)
    # per-atom output scale: the RMS force component, so that O(1) network gradients give forces
    # of the right size (the spread of the energy per atom is far smaller than its slope)
    f_rms = float(np.sqrt(np.mean(np.concatenate([a.get_forces().ravel() for a in train_atoms]) ** 2)))
    probe.energy_scale.fill_(max(f_rms, 0.01))
    init = [None] * s.n_members
    if s.init_from:
        start, _ = load_ensemble(s.init_from)
        def shape_config(cfg):  # the switch width changes the function, not the weights' shapes
            return dict(cfg, message_passing={k: v for k, v in cfg["message_passing"].items() if k != "switch_width_A"})

        if len(start.members) != s.n_members or shape_config(start.members[0].config()) != shape_config(probe.config()):
            raise InputError(f"init_from = {s.init_from!r} holds {len(start.members)} members of "
                             f"{start.members[0].config()}; continued training needs {s.n_members} of {probe.config()}")
        init = [m.state_dict() for m in start.members]
        probe.energy_scale.copy_(start.members[0].energy_scale)  # keep the scale the weights were fitted with
        probe.energy_shift.copy_(start.members[0].energy_shift)
    buffers = {n: b.detach().clone() for n, b in probe.named_buffers()}
    t0 = time.time()
    jobs = [(k, atoms_list, s, train_idx, val_idx, boot[k], buffers, init[k]) for k in range(s.n_members)]
    if s.parallel_members > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(s.parallel_members, mp_context=mp.get_context("spawn")) as pool:
            results = list(pool.map(_member_worker, jobs))
    else:
        results = [_train_message_passing_member(*job[:7], progress=progress, init_state=job[7]) for job in jobs]
    members, per_member = [], []
    for state, h in results:
        m = MessagePassingPotential(settings=s.message_passing).double()
        m.load_state_dict(state)
        m.eval()
        members.append(m)
        per_member.append(h)
    n_ep = max(len(h["epoch"]) for h in per_member)

    def column(key):  # (epochs, members) with NaN once a member stopped
        return [[h[key][e] if e < len(h[key]) else float("nan") for h in per_member] for e in range(n_ep)]

    history = dict(epoch=list(range(n_ep)), train_loss=column("train_loss"), val_loss=column("val_loss"),
                   val_force_rmse=column("val_force_rmse"), val_energy_rmse_per_atom=column("val_energy_rmse_per_atom"),
                   learning_rate=column("learning_rate"), member_minutes=[h["minutes"] for h in per_member],
                   n_train=int(len(train_idx)), n_validation=int(len(val_idx)), minutes=(time.time() - t0) / 60,
                   validation_config_ids=[str(atoms_list[k].info.get("config_id", k)) for k in np.sort(val_idx)],
                   best_validation_loss=[h["best_validation_loss"] for h in per_member],
                   settings=dict(asdict(s), descriptor=s.descriptor.to_dict(), network=s.network.to_dict(),
                                 message_passing=s.message_passing.to_dict()))
    ens = _with_baseline(PotentialEnsemble(members), s.baseline_settings())
    if checkpoint_dir is not None:
        save_ensemble(ens, checkpoint_dir, meta=dict(partial=False, history=history))
    return ens, history


def _parent_validation_tasks(atoms_list, init_from) -> set[str]:
    """The trajectories the ensemble in ``init_from`` was validated on (never trained on), found
    through its ``validation_config_ids``; empty when it recorded none."""
    try:
        meta = json.loads((Path(init_from) / "ensemble.json").read_text()).get("meta", {})
    except (OSError, ValueError):
        return set()
    ids = set((meta.get("history") or {}).get("validation_config_ids", []))
    return {str(a.info.get("task", "")) for a in atoms_list if str(a.info.get("config_id", "")) in ids} - {""}


def make_optimizer(model, s: TrainingSettings):
    """Adam at ``s.learning_rate``; with ``s.weight_decay`` > 0, AdamW decaying only the weight
    matrices (parameters with ≥ 2 dimensions): a decayed bias would drag the energy zero."""
    params = [q for q in model.parameters() if q.requires_grad]
    if s.weight_decay <= 0.0:
        return torch.optim.Adam(params, lr=s.learning_rate)
    groups = [dict(params=[q for q in params if q.ndim >= 2], weight_decay=s.weight_decay),
              dict(params=[q for q in params if q.ndim < 2], weight_decay=0.0)]
    return torch.optim.AdamW(groups, lr=s.learning_rate)


def _split(atoms_list, s: TrainingSettings, rng) -> tuple[np.ndarray, np.ndarray]:
    """(validation indices, training indices) by ``s.validation_split``.

    Continued training (``s.init_from``) with the trajectory split keeps the parent's validation
    trajectories as the validation set, and only them: a fresh random draw over the enlarged
    task list would move trajectories the parent trained on into validation (a leak), and the new
    data (e.g. active-learning labels) are what the continuation is for.
    """
    order = rng.permutation(len(atoms_list))
    if s.validation_split == "random":
        n_val = max(1, int(round(s.validation_fraction * len(atoms_list))))
        return order[:n_val], order[n_val:]
    tasks = np.array([str(a.info.get("task", "")) for a in atoms_list])
    names = sorted(set(tasks))
    if len(names) < 2 or "" in names:
        raise InputError("validation_split = 'trajectory' needs every configuration to carry info['task'] "
                         f"and at least 2 trajectories (found {len(names)})")
    val_tasks = _parent_validation_tasks(atoms_list, s.init_from) if s.init_from else set()
    if not val_tasks or len(val_tasks) == len(names):
        n_val_tasks = max(1, int(round(s.validation_fraction * len(names))))
        val_tasks = set(np.asarray(names)[rng.permutation(len(names))[:n_val_tasks]])
    is_val = np.isin(tasks, list(val_tasks))
    return order[is_val[order]], order[~is_val[order]]


def _resume_state(checkpoint_dir, fresh_members, s: TrainingSettings, *, need_history: bool = True):
    """Members (float64, with their buffers), history, next epoch and minutes spent, from a checkpoint.

    ``need_history=False`` (continued training from a finished ensemble): only the members.
    """
    if checkpoint_dir is None:
        raise InputError("resume=True needs checkpoint_dir (the folder of the ensemble to continue)")
    ens, info = load_ensemble(checkpoint_dir)
    if len(ens.members) != s.n_members:
        raise InputError(f"n_members = {s.n_members} does not match the {len(ens.members)} members "
                         f"of the checkpoint in {checkpoint_dir}")
    members = list(ens.members)
    if not need_history:  # continued training may move the sheet's energy onto the baseline
        from dataclasses import replace

        flag = fresh_members[0].network_settings.sheet_energy_from_baseline
        for m in members:
            m.network_settings = replace(m.network_settings, sheet_energy_from_baseline=flag)
        want = tuple(fresh_members[0].network_settings.hidden)
        have = tuple(members[0].network_settings.hidden)
        if want != have and len(want) == len(have) and all(w >= h for w, h in zip(want, have)):
            # wider networks than the parent's: more capacity, the parent's function at the start
            members = [widen_networks(m, want, seed=s.seed + k) for k, m in enumerate(members)]
        messages = fresh_members[0].network_settings.messages
        if messages is not None and members[0].messages is None:
            # messages the parent lacked: more information per atom, the parent's function at the start
            members = [add_messages(m, messages, seed=s.seed + k) for k, m in enumerate(members)]
    if members[0].config() != fresh_members[0].config():
        raise InputError(f"the checkpoint in {checkpoint_dir} has another architecture "
                         f"({members[0].config()}); resume needs the same descriptor and network "
                         "(continued training may widen the networks or add messages, not narrow or deepen "
                         "them)")
    if not need_history:
        return [m.train() for m in members], {}, 0, 0.0
    meta = info.get("meta", {})
    keys = ("epoch", "train_loss", "val_loss", "val_force_rmse", "val_energy_rmse_per_atom")
    history = {k: list(meta.get("history", {}).get(k, [])) for k in keys}
    start = int(history["epoch"][-1]) + 1 if history["epoch"] else int(meta.get("epoch", -1)) + 1
    if start >= s.epochs:
        raise InputError(f"epochs = {s.epochs} is not beyond the checkpoint's {start} epochs: nothing to resume")
    minutes = float(meta.get("minutes", meta.get("history", {}).get("minutes", 0.0)) or 0.0)
    return [m.train() for m in members], history, start, minutes


def save_ensemble(ens: PotentialEnsemble, directory, *, meta: dict | None = None) -> Path:
    """Write ``ensemble.pt`` (state dicts only) and ``ensemble.json`` (config + meta) atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    states = {f"member{k}": m.state_dict() for k, m in enumerate(ens.members)}
    with atomic_path(directory / "ensemble.pt") as tmp:
        torch.save(states, tmp)
    info = dict(config=ens.members[0].config(), n_members=len(ens.members), meta=meta or {},
                baseline=ens.baseline.to_dict() if ens.baseline is not None else None)
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
        m = member_from_config(info["config"])
        m.load_state_dict(states[f"member{k}"])
        m.eval()
        members.append(m)
    ens = PotentialEnsemble(members)
    if info.get("baseline"):
        from .pi_electrons import PiBandSettings

        ens.baseline = PiBandSettings.from_dict(info["baseline"])
    return ens, info


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
    r_min = pair_minimum_distances(frames, m.elements, m.cutoff_A)
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
