"""Deep ensemble of field-aware potentials: mean prediction and the force spread σ_F.

M ≥ 4 independently initialised members (Lakshminarayanan, Pritzel & Blundell, NeurIPS 2017)
share the (parameter-free) symmetry-function descriptor, which is computed once per call.
Per atom, σ_F,i = sqrt( (1/M) Σ_m |F_i^(m) − F̄_i|² ) [eV/Å] (the DP-GEN model deviation,
Zhang et al., Comput. Phys. Commun. 253, 107206 (2020)); energies, charges and dipoles are
member means and ``energy_std`` is the member standard deviation of the total energy [eV].
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError
from .model import FieldAwarePotential

MIN_MEMBERS = 4


class PotentialEnsemble(nn.Module):
    """``forward(batch) -> dict`` with member means, member arrays and σ_F per atom."""

    def __init__(self, members: list[FieldAwarePotential]):
        super().__init__()
        if len(members) < 1:
            raise InputError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.compute_dtype = torch.float64

    def set_precision(self, precision: str) -> "PotentialEnsemble":
        """``"float64"`` (default, exact derivatives) or ``"float32"`` for the descriptor, the
        networks and the force contraction (about 2× faster; energies are still summed in float64,
        forces agree with float64 to ~1e-5 relative)."""
        if precision not in ("float32", "float64"):
            raise InputError(f"precision = {precision!r} must be 'float32' or 'float64'")
        dt = torch.float32 if precision == "float32" else torch.float64
        for m in self.members:
            m.nets.to(dt)
        self.compute_dtype = dt
        return self

    @property
    def descriptor(self):
        return self.members[0].descriptor

    def forward(self, batch: dict, *, compute_forces: bool = True) -> dict:
        d = self.descriptor
        vec = batch["vectors"].detach().to(self.compute_dtype)
        feats, jac = d.features_and_jacobian(batch["species"], vec, batch["i"], batch["j"],
                                             batch["tri_i"], batch["tri_j"], batch["tri_k"], len(batch["species"]))
        g_leaf = feats.requires_grad_(compute_forces)
        pos = batch["positions"].detach().requires_grad_(compute_forces)
        b2 = dict(batch, positions=pos)
        outs, d_g, d_pos = [], [], []
        with torch.enable_grad():
            for m in self.members:
                o = m.energy_from_features(g_leaf, b2)
                outs.append(o)
                if compute_forces:
                    gg, gp = torch.autograd.grad(o["energy"].sum(), [g_leaf, pos])
                    d_g.append(gg)
                    d_pos.append(gp)
        energy = torch.stack([o["energy"].detach() for o in outs])  # (M, B)
        res = dict(
            energy_members=energy,
            energy=energy.mean(0),
            energy_std=energy.std(0, unbiased=False),
            charges=torch.stack([o["charges"].detach() for o in outs]).mean(0),
            dipole_z=torch.stack([o["dipole_z"].detach() for o in outs]).mean(0),
            polarizability_zz=torch.stack([o["polarizability_zz"].detach() for o in outs]).mean(0),
        )
        if compute_forces:
            f = -(d.contract(torch.stack(d_g), jac).to(torch.float64) + torch.stack(d_pos))  # (M, N, 3)
            mean = f.mean(0)
            res["forces_members"] = f
            res["forces"] = mean
            res["force_uncertainty"] = torch.sqrt(((f - mean) ** 2).sum(-1).mean(0))
        return res
