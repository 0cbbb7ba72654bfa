"""Field-aware equivariant message-passing potential (PaiNN) with the same field and charge heads.

The alternative to the symmetry-function model of :mod:`multiscale.atomistic.model`: instead of
a fixed descriptor, each atom carries learned scalar features s_i ∈ R^F and vector features
v_i ∈ R^{3×F} that are updated by T rounds of messages from the neighbours within r_c
(polarizable atom interaction neural network, PaiNN: Schütt, Unke & Gastegger, ICML 2021,
arXiv:2102.03150). Round t (r̂_ij = (r_j − r_i)/r_ij, f_c the cosine cutoff, e_n(r) =
sin(nπr/r_c)/r a Bessel radial basis, c the filter's bias and s(r) a C² switch to zero over the
last ``switch_width_A`` before r_c, :func:`smooth_switch`: without it c would switch a message
on abruptly when a pair enters the cutoff and the energy would jump)::

    message:  (Δs, a, b)_ij = φ(s_j) ⊙ [W e(r_ij) f_c(r_ij) + c] s(r_ij)
              s_i += Σ_j Δs_ij ,  v_i += Σ_j a_ij v_j + b_ij r̂_ij
    update:   (a_vv, a_sv, a_ss) = MLP([s_i, ‖V v_i‖])
              v_i += a_vv ⊙ U v_i ,  s_i += a_sv ⊙ ⟨U v_i, V v_i⟩ + a_ss

s is invariant and v equivariant under rotations, so the energy is invariant and the forces
−∂E/∂r (autograd) rotate with the configuration. A readout MLP maps s_i to the same four atomic
outputs as the symmetry-function model (ε_i, q̃_i, p̃_i, χ̃_i); :func:`multiscale.atomistic.model.field_outputs`
turns them into E(R, F) = Σ ε_i − F μ⁰_z − ½F² α_zz, neutral charges and the dipole, with the
same sign conventions (field along +z in V/Å, μ_z = −∂E/∂F).

Range: T rounds of r_c give a receptive field of T·r_c, so this model represents the
charge-transfer and polarisation couplings of the reference beyond the first shell that a
one-shell descriptor cannot (the model card measures how much that matters for GFN1-xTB).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..errors import InputError
from .model import DEFAULT_ELEMENTS, cutoff_function, field_outputs

ARCHITECTURE = "painn"


@dataclass
class MessagePassingSettings:
    """Cutoff in Å; ``n_features`` F per atom (scalar and each vector channel); ``n_layers`` T."""

    cutoff_A: float = 5.0
    n_features: int = 64
    n_layers: int = 3
    n_rbf: int = 20
    #: width [Å] of the C²-smooth switch s(r) that takes every filter, bias included, to zero
    #: over [r_c − w, r_c]. 0 = none: the filter's bias then makes a message jump on when a pair
    #: enters the cutoff, so the energy is discontinuous (the first shipped PaiNN was trained so;
    #: NVE runs with it do not conserve energy).
    switch_width_A: float = 0.5

    def validate(self) -> None:
        if not 2.0 <= self.cutoff_A <= 8.0:
            raise InputError(f"cutoff_A = {self.cutoff_A} must be in [2, 8] Å")
        if not 0.0 <= self.switch_width_A <= 0.5 * self.cutoff_A:
            raise InputError(f"switch_width_A = {self.switch_width_A} must be in [0, cutoff_A / 2]")
        for k, lo, hi in (("n_features", 4, 512), ("n_layers", 1, 8), ("n_rbf", 2, 64)):
            v = getattr(self, k)
            if not lo <= v <= hi:
                raise InputError(f"{k} = {v} must be in [{lo}, {hi}]")

    def to_dict(self) -> dict:
        return asdict(self)


class BesselBasis(nn.Module):
    """e_n(r) = √(2/r_c) sin(nπr/r_c)/r, n = 1..K, times f_c(r) (no learned weights)."""

    def __init__(self, cutoff_A: float, n_rbf: int):
        super().__init__()
        self.cutoff_A = float(cutoff_A)
        self.register_buffer("freq", torch.arange(1, n_rbf + 1, dtype=torch.float64) * torch.pi / cutoff_A)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        freq = self.freq.to(r.dtype)
        e = (2.0 / self.cutoff_A) ** 0.5 * torch.sin(r[:, None] * freq) / r[:, None]
        return e * cutoff_function(r, self.cutoff_A)[:, None]


def smooth_switch(r: torch.Tensor, cutoff_A: float, width_A: float) -> torch.Tensor:
    """s(r) = 1 below r_c − w, 1 − 10x³ + 15x⁴ − 6x⁵ with x = (r − r_c + w)/w up to r_c, 0 beyond:
    value, slope and curvature are continuous, so energies and forces are too."""
    x = ((r - (cutoff_A - width_A)) / width_A).clamp(0.0, 1.0)
    return 1.0 - x**3 * (10.0 - 15.0 * x + 6.0 * x**2)


class PaiNNLayer(nn.Module):
    """One message + update round (see the module docstring)."""

    def __init__(self, n_features: int, n_rbf: int):
        super().__init__()
        f = n_features
        self.phi = nn.Sequential(nn.Linear(f, f), nn.SiLU(), nn.Linear(f, 3 * f))
        self.filter = nn.Linear(n_rbf, 3 * f)
        self.U = nn.Linear(f, f, bias=False)
        self.V = nn.Linear(f, f, bias=False)
        self.update_mlp = nn.Sequential(nn.Linear(2 * f, f), nn.SiLU(), nn.Linear(f, 3 * f))

    def forward(self, s, v, i, j, basis, unit, first: bool = False, switch=None):
        f = s.shape[1]
        w = self.filter(basis)
        x = self.phi(s)[j] * (w if switch is None else w * switch[:, None])
        ds, a, b = torch.split(x, f, dim=1)
        s = s + torch.zeros_like(s).index_add(0, i, ds)
        dv = b[:, None, :] * unit[:, :, None]
        if not first:  # v = 0 before the first round: its a·v_j term is zero (and the costliest)
            dv = dv + a[:, None, :] * v[j]
        v = v + torch.zeros_like(v).index_add(0, i, dv)
        uv, vv = self.U(v), self.V(v)
        norm = torch.sqrt((vv**2).sum(1) + 1e-8)  # ε keeps the gradient finite at v = 0
        avv, asv, ass = torch.split(self.update_mlp(torch.cat([s, norm], 1)), f, dim=1)
        v = v + avv[:, None, :] * uv
        s = s + asv * (uv * vv).sum(1) + ass
        return s, v


class MessagePassingPotential(nn.Module):
    """One ensemble member: PaiNN features → (ε_i, q̃_i, p̃_i, χ̃_i) → energy, charges, dipole.

    Same interface as :class:`multiscale.atomistic.model.FieldAwarePotential`: ``forward(batch)``
    with the dict of :func:`multiscale.atomistic.graph.collate` (only pairs are used; build the
    graph with ``angular_cutoff_A = 0``), returning ``energy`` (B,) eV, ``charges`` (N,) e,
    ``dipole_z`` (B,) e·Å, ``polarizability_zz`` and (``forces=True``) ``forces`` (N, 3) eV/Å.
    The learned layers live in ``self.net`` (cast alone by ``set_precision``); constants are
    float64 buffers.
    """

    architecture = ARCHITECTURE
    angular_cutoff_A = 0.0

    def __init__(self, elements=DEFAULT_ELEMENTS, settings: MessagePassingSettings | None = None):
        super().__init__()
        s = settings or MessagePassingSettings()
        s.validate()
        self.settings = s
        self.elements = tuple(int(e) for e in elements)
        f = s.n_features
        self.basis = BesselBasis(s.cutoff_A, s.n_rbf)
        self.net = nn.ModuleDict(dict(
            embedding=nn.Embedding(len(self.elements), f),
            layers=nn.ModuleList([PaiNNLayer(f, s.n_rbf) for _ in range(s.n_layers)]),
            readout=nn.Sequential(nn.Linear(f, f // 2), nn.SiLU(), nn.Linear(f // 2, 4)),
        ))
        self.register_buffer("energy_shift", torch.zeros(len(self.elements), dtype=torch.float64))
        self.register_buffer("energy_scale", torch.ones((), dtype=torch.float64))
        self.register_buffer("field_range", torch.tensor([0.0, 0.0], dtype=torch.float64))
        self.register_buffer("min_distance", torch.tensor(0.5, dtype=torch.float64))

    @property
    def cutoff_A(self) -> float:
        return float(self.settings.cutoff_A)

    @property
    def net_dtype(self) -> torch.dtype:
        return self.net["embedding"].weight.dtype

    def atomic_outputs(self, batch: dict, positions: torch.Tensor) -> torch.Tensor:
        """(N, 4): ε_i [eV], q̃_i, p̃_i [e], χ̃_i [e/(V/Å)] from the positions (differentiable)."""
        dt = self.net_dtype
        species, i, j = batch["species"], batch["i"], batch["j"]
        vec = (positions[j] - positions[i] + batch["shift_vectors"].to(positions.dtype)).to(dt)
        r = torch.linalg.norm(vec, dim=1)
        unit = vec / r[:, None]
        basis = self.basis(r)
        w = self.settings.switch_width_A
        switch = smooth_switch(r, self.settings.cutoff_A, w) if w > 0 else None
        s = self.net["embedding"](species)
        v = torch.zeros(len(species), 3, s.shape[1], dtype=dt, device=s.device)
        for t, layer in enumerate(self.net["layers"]):
            s, v = layer(s, v, i, j, basis, unit, first=t == 0, switch=switch)
        out = self.net["readout"](s).to(self.energy_scale.dtype)
        eps = out[:, 0] * self.energy_scale + self.energy_shift[species]
        return torch.stack([eps, out[:, 1], out[:, 2], 0.1 * out[:, 3]], 1)

    def forward(self, batch: dict, *, forces: bool = True, create_graph: bool = False, **_) -> dict:
        with torch.enable_grad():
            pos = batch["positions"].detach().to(self.energy_scale.dtype).requires_grad_(forces)
            out = field_outputs(self.atomic_outputs(batch, pos), dict(batch, positions=pos))
            if forces:
                (d_pos,) = torch.autograd.grad(out["energy"].sum(), [pos], create_graph=create_graph)
                out["forces"] = -d_pos
        return out

    def config(self) -> dict:
        return dict(architecture=ARCHITECTURE, elements=list(self.elements), message_passing=self.settings.to_dict())

    @classmethod
    def from_config(cls, cfg: dict) -> "MessagePassingPotential":
        mp = dict(cfg["message_passing"])
        mp.setdefault("switch_width_A", 0.0)  # models saved before the switch existed had none
        return cls(cfg["elements"], MessagePassingSettings(**mp))
