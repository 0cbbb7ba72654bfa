"""Deep ensemble of field-aware potentials: mean prediction and the force spread σ_F.

M ≥ 4 independently initialised members (Lakshminarayanan, Pritzel & Blundell, NeurIPS 2017).
Symmetry-function members share the (parameter-free) descriptor, which is computed once per
call; message-passing members (:mod:`multiscale.atomistic.message_passing`) each run their own
forward and backward pass.
Per atom, σ_F,i = sqrt( (1/M) Σ_m |F_i^(m) − F̄_i|² ) [eV/Å] (the DP-GEN model deviation,
Zhang et al., Comput. Phys. Commun. 253, 107206 (2020)); energies, charges and dipoles are
member means and ``energy_std`` is the member standard deviation of the total energy [eV].
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError
from .model import FLOAT32_RADIAL_TOLERANCE, pair_gradient

MIN_MEMBERS = 4


class PotentialEnsemble(nn.Module):
    """``forward(batch) -> dict`` with member means, member arrays and σ_F per atom."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if len(members) < 1:
            raise InputError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.compute_dtype = torch.float64
        #: physics term the members were trained on top of (Δ-learning), or None:
        #: :class:`multiscale.atomistic.pi_electrons.PiBandSettings`. ``forward`` returns the
        #: members' part only; :meth:`baseline_energy_forces` is what the calculator adds.
        self.baseline = None

    def baseline_energy_forces(self, atoms, *, sheet=None):
        """(energy [eV], forces [eV/Å]) of the baseline for one Atoms; zeros without one.
        ``sheet``: the graphene carbons' indices if the caller knows them."""
        import numpy as np

        if self.baseline is None:
            return 0.0, np.zeros((len(atoms), 3))
        from .pi_electrons import sheet_energy_forces

        return sheet_energy_forces(atoms, self.baseline, sheet=sheet)

    def set_precision(self, precision: str) -> "PotentialEnsemble":
        """``"float64"`` (default, exact derivatives) or ``"float32"`` for the descriptor, the
        networks and the force contraction (about 2× faster, and it evaluates only the radial
        Gaussians above float32's resolution; energies are still summed in float64, forces agree
        with float64 to ~1e-5 relative)."""
        if precision not in ("float32", "float64"):
            raise InputError(f"precision = {precision!r} must be 'float32' or 'float64'")
        dt = torch.float32 if precision == "float32" else torch.float64
        for m in self.members:
            (m.nets if self.uses_descriptor else m.net).to(dt)
            if getattr(m, "messages", None) is not None:
                m.messages.to(dt)
        self.compute_dtype = dt
        return self

    @property
    def uses_descriptor(self) -> bool:
        """True for symmetry-function members (a shared, parameter-free descriptor)."""
        return hasattr(self.members[0], "descriptor")

    @property
    def descriptor(self):
        return self.members[0].descriptor

    @property
    def cutoff_A(self) -> float:
        return self.members[0].cutoff_A

    @property
    def angular_cutoff_A(self) -> float:
        return self.members[0].angular_cutoff_A

    def forward(self, batch: dict, *, compute_forces: bool = True) -> dict:
        if not self.uses_descriptor:
            return self._forward_members(batch, compute_forces)
        d = self.descriptor
        vec = batch["vectors"].detach().to(self.compute_dtype)
        # float32: skip the radial Gaussians below its resolution (~half of them; ~20 % of a step)
        tol = FLOAT32_RADIAL_TOLERANCE if self.compute_dtype == torch.float32 else None
        feats, jac = d.features_and_jacobian(batch["species"], vec, batch["i"], batch["j"],
                                             batch["tri_i"], batch["tri_j"], batch["tri_k"], len(batch["species"]),
                                             radial_tolerance=tol)
        if self._stackable():
            return self._forward_stacked(batch, feats, jac, compute_forces)
        g_leaf = feats.requires_grad_(compute_forces)
        pos = batch["positions"].detach().requires_grad_(compute_forces)
        b2 = dict(batch, positions=pos)
        leaves = [g_leaf, pos]
        if self._has_messages():  # their radial weights depend on the pair vectors directly
            b2["vectors"] = vec.requires_grad_(compute_forces)
            leaves.append(b2["vectors"])
        outs, d_g, d_pos = [], [], []
        with torch.enable_grad():
            for m in self.members:
                o = m.energy_from_features(g_leaf, b2)
                outs.append(o)
                if compute_forces:
                    grads = torch.autograd.grad(o["energy"].sum(), leaves)
                    d_g.append(grads[0])
                    d_pos.append(grads[1] if len(grads) == 2
                                 else grads[1] + pair_gradient(batch, grads[2]).to(grads[1].dtype))
        return self._combine(outs, None if not compute_forces else -(
            d.contract(torch.stack(d_g), jac).to(torch.float64) + torch.stack(d_pos)))

    def _forward_members(self, batch: dict, compute_forces: bool) -> dict:
        """Members without a shared descriptor (message passing): one forward/backward each."""
        outs = [m(batch, forces=compute_forces) for m in self.members]
        forces = torch.stack([o["forces"].detach().to(torch.float64) for o in outs]) if compute_forces else None
        return self._combine(outs, forces)

    @staticmethod
    def _combine(outs: list[dict], forces) -> dict:
        """Member means, spreads and σ_F from per-member outputs; ``forces`` (M, N, 3) or None."""
        energy = torch.stack([o["energy"].detach() for o in outs])  # (M, B)
        res = dict(
            energy_members=energy,
            energy=energy.mean(0),
            energy_std=energy.std(0, unbiased=False),
            charges=torch.stack([o["charges"].detach() for o in outs]).mean(0),
            dipole_z=torch.stack([o["dipole_z"].detach() for o in outs]).mean(0),
            polarizability_zz=torch.stack([o["polarizability_zz"].detach() for o in outs]).mean(0),
        )
        if forces is not None:
            f = forces  # (M, N, 3)
            mean = f.mean(0)
            res["forces_members"] = f
            res["forces"] = mean
            res["force_uncertainty"] = torch.sqrt(((f - mean) ** 2).sum(-1).mean(0))
        return res

    # ------------------------------------------------------------------------------------------
    # All members in one pass. Members share the descriptor and, when trained together, their
    # normalisation buffers; their element networks then run as batched matrix products over
    # the member axis, and every member's dE/dG comes from a backward pass written out by hand
    # (∂E/∂outputs is the same for all members, then back through the SiLU layers: no autograd
    # graph, no per-element gather to scatter back). The field's position terms likewise:
    # ∂/∂z_i [−F Σ p_j z_j − ½F² Σ χ_j z_j] = −F p_i − ½F² χ_i (p, χ depend on r only through G).
    # Equal to the per-member loop with autograd to round-off (tested, with and without a field).
    # ------------------------------------------------------------------------------------------
    def _has_messages(self) -> bool:
        return any(getattr(m, "messages", None) is not None for m in self.members)

    def _stackable(self) -> bool:
        m0 = self.members[0]
        if not self.uses_descriptor or self._has_messages():
            return False
        if len(self.members) < 2 or self.training:
            return False
        for m in self.members[1:]:
            for name in ("feature_mean", "feature_std", "energy_shift", "energy_scale"):
                if not torch.equal(getattr(m, name), getattr(m0, name)):
                    return False
            if m.network_settings.to_dict() != m0.network_settings.to_dict():
                return False
        return m0.network_settings.activation == "silu"

    def _stacked_layers(self, k: int):
        """[(W (M, in, out), b (M, 1, out))] of element network k across members (cached until any
        member parameter changes: in-place updates bump ``_version``, ``set_precision`` makes new
        tensors, replacing ``.data`` moves the storage)."""
        # the layers' parameter dicts read directly: Module.parameters() cost ~1 ms per MD step
        key = tuple((id(q), q._version, q.data_ptr()) for m in self.members for mod in m.nets[k]._modules.values()
                    for q in mod._parameters.values() if q is not None)
        cache = self.__dict__.setdefault("_stack_cache", {})
        if cache.get(k, (None,))[0] != key:
            cache[k] = (key, self._build_stacked_layers(k))
        return cache[k][1]

    def _build_stacked_layers(self, k: int):
        layers = []
        linears = [[mod for mod in m.nets[k] if isinstance(mod, nn.Linear)] for m in self.members]
        for li in range(len(linears[0])):
            w = torch.stack([lin[li].weight.detach().t() for lin in linears])
            b = torch.stack([lin[li].bias.detach() for lin in linears])[:, None, :]
            layers.append((w, b))
        return layers

    def _forward_stacked(self, batch: dict, feats, jac, compute_forces: bool) -> dict:
        m0 = self.members[0]
        n_m = len(self.members)
        species, b, nb = batch["species"], batch["batch"], int(batch["n_configs"])
        net_dtype = m0.nets[0][0].weight.dtype
        std = m0.feature_std.to(net_dtype)
        x0 = ((feats.detach() - m0.feature_mean.to(feats.dtype)) / m0.feature_std.to(feats.dtype)).to(net_dtype)
        raw = torch.zeros(n_m, len(species), 4, dtype=net_dtype)
        saved = []  # per element: atom indices and pre-activations, for the hand-written backward
        for k in range(len(m0.elements)):
            idx = torch.nonzero(species == k).squeeze(1)
            if len(idx) == 0:
                continue
            layers = self._stacked_layers(k)
            h = x0[idx].unsqueeze(0).expand(n_m, -1, -1)
            pre = []
            for li, (w, bias) in enumerate(layers):
                h = torch.baddbmm(bias, h, w)
                if li < len(layers) - 1:
                    pre.append(h)
                    h = torch.nn.functional.silu(h)
            raw.index_copy_(1, idx, h)
            saved.append((idx, layers, pre))
        raw = raw.to(m0.energy_scale.dtype)
        raw_eps = raw[..., 0]
        sheet_const = m0.masks_sheet  # sheet carbons: their element's constant (FieldAwarePotential.masks_sheet)
        if sheet_const:
            bias = torch.stack([torch.stack([net[-1].bias.detach()[0] for net in m.nets]) for m in self.members])
            raw_eps = torch.where(batch["sheet"].bool()[None, :], bias.to(raw_eps.dtype)[:, species], raw_eps)
        eps = raw_eps * m0.energy_scale + m0.energy_shift[species]

        def per_config(v):  # (M, N) → (M, B)
            return torch.zeros(n_m, nb, dtype=v.dtype).index_add(1, b, v)

        count = per_config(torch.ones_like(eps))
        q_total = (batch["total_charge"].to(eps.dtype) / count)[:, b]
        q0 = raw[..., 1] - (per_config(raw[..., 1]) / count)[:, b] + q_total
        p0 = raw[..., 2] - (per_config(raw[..., 2]) / count)[:, b] + q_total
        chi_raw = 0.1 * raw[..., 3]
        chi = chi_raw - (per_config(chi_raw) / count)[:, b]
        f = batch["field"].to(eps.dtype)
        z = batch["positions"].detach()[:, 2].to(eps.dtype)
        mu0 = per_config(p0 * z)
        alpha = per_config(chi * z)
        energy = per_config(eps) - f * mu0 - 0.5 * f**2 * alpha  # (M, B)
        if compute_forces:
            # ∂E/∂raw per atom, the same for every member (they share energy_scale): ε scaled (0 on
            # a masked sheet), the neutral p and χ through the dipole, Σ_i (p_i − p̄) z_i = Σ_i p_i (z_i − z̄)
            zc = z - (torch.zeros(nb, dtype=z.dtype).index_add(0, b, z) / count[0])[b]
            fb0 = f[b]
            g_eps = m0.energy_scale.expand(len(species)).clone()
            if sheet_const:
                g_eps[batch["sheet"].bool()] = 0.0
            g_raw = torch.stack([g_eps, torch.zeros_like(z), -fb0 * zc, -0.05 * fb0**2 * zc], 1).to(net_dtype)
            # atoms with ∂E/∂raw = 0 (a masked sheet at zero field, ~40 % of a step's pairs and
            # triplets in ML-MD) have ∂E/∂G = 0: neither the backward nor the contraction visits them
            active = (g_raw != 0).any(1)
            all_active = bool(active.all())
            d_g = (torch.empty if all_active else torch.zeros)(n_m, len(species), x0.shape[1], dtype=net_dtype)
            for idx, layers, pre in saved:
                if not all_active:
                    sel = torch.nonzero(active.index_select(0, idx)).squeeze(1)
                    if len(sel) == 0:
                        continue
                    idx, pre = idx.index_select(0, sel), [h.index_select(1, sel) for h in pre]
                g = g_raw[idx].unsqueeze(0).expand(n_m, -1, -1)
                for li in range(len(layers) - 1, 0, -1):
                    g = torch.bmm(g, layers[li][0].transpose(1, 2))
                    sg = torch.sigmoid(pre[li - 1])
                    g = g * (sg * (1.0 + pre[li - 1] * (1.0 - sg)))  # silu'
                # through the first layer and the standardisation at once: ∂E/∂G = ∂E/∂x / σ_G
                d_g.index_copy_(1, idx, torch.bmm(g, layers[0][0].transpose(1, 2) / std))
        fb = f[b]
        res = dict(
            energy_members=energy.detach(),
            energy=energy.detach().mean(0),
            energy_std=energy.detach().std(0, unbiased=False),
            charges=(q0 + fb * chi).detach().mean(0),
            dipole_z=(mu0 + f * alpha).detach().mean(0),
            polarizability_zz=alpha.detach().mean(0),
        )
        if compute_forces:
            d_pos = torch.zeros(n_m, len(species), 3, dtype=torch.float64)
            d_pos[..., 2] = (-fb * p0 - 0.5 * fb**2 * chi).detach().to(torch.float64)
            if not all_active:
                jac = m0.descriptor.restrict_jacobian(jac, active)
            forces = -(m0.descriptor.contract(d_g.to(self.compute_dtype), jac).to(torch.float64) + d_pos)
            mean = forces.mean(0)
            res["forces_members"] = forces
            res["forces"] = mean
            res["force_uncertainty"] = torch.sqrt(((forces - mean) ** 2).sum(-1).mean(0))
        return res
