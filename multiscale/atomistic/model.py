"""Field-aware Behler–Parrinello potential: E(R, F), charges q(R, F), forces by autograd.

Energy of a configuration R (positions [Å]) in a uniform field F along +z [V/Å]::

    E(R, F) = Σ_i ε_{s_i}(G_i) − F μ⁰_z − ½ F² α_zz ,
    μ⁰_z = Σ_i p_i z_i ,  α_zz = Σ_i χ_i z_i ,
    μ_z(F) = μ⁰_z + F α_zz = −∂E/∂F ,   q_i(F) = q⁰_i + F χ_i .

G_i are atom-centred symmetry functions (Behler & Parrinello, PRL 98, 146401 (2007); Behler,
JCP 134, 074106 (2011)) within the cutoff r_c: element-resolved radial Gaussians
G^R_i[s, k] = Σ_{j∈s} exp(−η (r_ij − μ_k)²) f_c(r_ij) and element-pair resolved angular terms
G^A_i[(s,s'), a] = Σ_{j<k} 2^{1−ζ}(1 + λ cos θ_ijk)^ζ exp(−η_a((r_ij+r_ik)/2 − μ_a)²) f_c f_c with
f_c(r) = ½(cos(π r / r_c) + 1). Per-element MLPs map the standardised G_i to the atomic energy
ε_i, a raw charge q̃_i (trained on the reference's Mulliken charges), a raw effective charge
p̃_i (whose dipole is trained on the reference dipole, which in xTB includes atomic dipoles)
and a raw charge response χ̃_i. Exact neutrality: q⁰_i = q̃_i − ⟨q̃⟩ + Q/N, likewise p_i, and
χ_i = χ̃_i − ⟨χ̃⟩ per configuration (mean shift), so Σ q_i = Q for every F and the dipole does
not depend on the origin. The Stark form E(F) = E(0) − μF − ½αF² is
exact in this model. Forces are F_i = −∂E/∂r_i (autograd), which includes the field force
F q_i ẑ and the charge-transfer terms.

Optionally (:class:`MessageSettings`) the networks also see one round of learned linear messages,
h_i[k, c] = Σ_j φ_k(r_ij) (P_{s_j} x_j)_c over neighbours within the message cutoff (x_j the
standardised G_j, P a learned projection per element, φ_k radial Gaussians times f_c): the
neighbours' own environments, i.e. body order beyond three, for one sparse sum per pair. Their
forces add the pair term ∂E/∂v_ij of φ_k to the descriptor's Jacobian contraction.

The module is pure: ``forward(batch) -> dict`` with tensors only; constants (element list,
descriptor grid, standardisation, energy shift, trained field range) are buffers and travel
with the state dict.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn

from ..errors import InputError

#: elements the default model knows (H, Li, B, C, O, F)
DEFAULT_ELEMENTS = (1, 3, 5, 6, 8, 9)
#: radial Gaussians (and r-derivatives, 1/Å) below this are not evaluated in float32 MD: a tenth
#: of float32's resolution, so the descriptor and forces equal the full evaluation to rounding
FLOAT32_RADIAL_TOLERANCE = 0.1 * float(np.finfo(np.float32).eps)
#: the Jacobian factors (:meth:`SymmetryFunctions.features_and_jacobian`) that make up most of a
#: training cache, and that ``--cache-dtype float16`` stores in half precision
BULK_JACOBIAN_FACTORS = ("rad_dg", "ang_shape", "ang_dshape", "ang_radial", "ang_dradial")
ARCHITECTURE = "behler-parrinello"


@dataclass
class DescriptorSettings:
    """Symmetry-function grid. Cutoffs in Å."""

    cutoff_A: float = 5.0
    angular_cutoff_A: float = 3.5
    n_radial: int = 12
    radial_width_A: float = 0.45
    n_angular_radial: int = 3
    zetas: tuple = (1.0, 4.0)
    #: width of the Gaussians of the angular functions' radial shells (in ρ = ½(r_ij + r_ik))
    angular_width_A: float = 0.6

    def to_dict(self) -> dict:
        d = asdict(self)
        d["zetas"] = list(self.zetas)
        return d

    def validate(self) -> None:
        """Raise :class:`InputError` naming the setting and its allowed range."""
        if not 2.0 <= self.cutoff_A <= 12.0:
            raise InputError(f"descriptor.cutoff_A = {self.cutoff_A} must be in [2, 12] Å")
        if not 1.6 <= self.angular_cutoff_A <= self.cutoff_A:
            # the angular shells sit on [1.0, angular_cutoff_A − 0.5] Å
            raise InputError(f"descriptor.angular_cutoff_A = {self.angular_cutoff_A} must be in [1.6, cutoff_A = "
                             f"{self.cutoff_A}] Å")
        if self.n_radial < 1 or self.n_angular_radial < 1:
            raise InputError(f"descriptor.n_radial = {self.n_radial} and n_angular_radial = {self.n_angular_radial} "
                             "must be >= 1")
        for name in ("radial_width_A", "angular_width_A"):
            if not 0.02 <= getattr(self, name) <= 3.0:
                raise InputError(f"descriptor.{name} = {getattr(self, name)} must be in [0.02, 3] Å")
        if not self.zetas or min(self.zetas) < 1.0:
            # (1 ± cos θ)^(ζ−1) in the Jacobian is singular at θ = 0, π for ζ < 1
            raise InputError(f"descriptor.zetas = {self.zetas} must be one or more values >= 1")


@dataclass
class MessageSettings:
    """One round of learned linear messages on top of the symmetry functions (optional).

    Each neighbour j within ``cutoff_A`` sends m_j = P_{s_j} x_j, a learned linear projection (one
    matrix per element) of its own standardised descriptor x_j to ``n_channels`` channels; atom i
    receives h_i[k, c] = Σ_j φ_k(r_ij) m_j[c], with ``n_radial`` Gaussians φ_k of width ``width_A``
    (centres from 1 Å to cutoff − 0.5 Å) times the cosine cutoff. The element networks see
    [x_i, h_i]: information on the neighbours' own environments (higher body order than the
    two- and three-body symmetry functions), at the cost of one sparse sum per pair.
    """

    n_channels: int = 16
    n_radial: int = 4
    cutoff_A: float = 4.0
    width_A: float = 0.4

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        """Raise :class:`InputError` naming the setting and its allowed range."""
        if not 1 <= self.n_channels <= 256:
            raise InputError(f"messages.n_channels = {self.n_channels} must be in [1, 256]")
        if not 1 <= self.n_radial <= 32:
            raise InputError(f"messages.n_radial = {self.n_radial} must be in [1, 32]")
        if not 1.6 <= self.cutoff_A <= 12.0:
            raise InputError(f"messages.cutoff_A = {self.cutoff_A} must be in [1.6, 12] Å")
        if not 0.05 <= self.width_A <= 3.0:
            raise InputError(f"messages.width_A = {self.width_A} must be in [0.05, 3] Å")


@dataclass
class NetworkSettings:
    hidden: tuple = (64, 64)
    activation: str = "silu"
    #: the graphene sheet's own atomic energies ε_i come from the model's physics baseline, not
    #: from the network (the ε_i of sheet carbons are their element's constant, the network's
    #: output bias plus offset, independent of the environment; charges, effective charges and
    #: response stay): the network then describes the electrolyte and its interaction with the
    #: sheet, and the sheet's internal mechanics are the baseline's
    #: (:mod:`multiscale.atomistic.pi_electrons`). Needs a baseline with bond terms.
    sheet_energy_from_baseline: bool = False
    #: learned linear messages from the neighbours' descriptors (:class:`MessageSettings`), or None
    messages: MessageSettings | None = None

    def to_dict(self) -> dict:
        return dict(hidden=list(self.hidden), activation=self.activation,
                    sheet_energy_from_baseline=self.sheet_energy_from_baseline,
                    messages=None if self.messages is None else self.messages.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> "NetworkSettings":
        d = dict(d)
        d["hidden"] = tuple(d["hidden"])
        if d.get("messages") is not None:
            d["messages"] = MessageSettings(**d["messages"])
        return cls(**d)


def cutoff_function(r: torch.Tensor, r_c: float) -> torch.Tensor:
    """Behler cosine cutoff f_c(r) = ½(cos(πr/r_c) + 1) for r < r_c, 0 beyond."""
    return torch.where(r < r_c, 0.5 * (torch.cos(torch.pi * r / r_c) + 1.0), torch.zeros_like(r))


class SymmetryFunctions(nn.Module):
    """Atom-centred radial + angular symmetry functions, element resolved (no learned weights)."""

    def __init__(self, elements=DEFAULT_ELEMENTS, settings: DescriptorSettings | None = None):
        super().__init__()
        s = settings or DescriptorSettings()
        self.settings = s
        n_el = len(elements)
        lut = torch.full((119,), -1, dtype=torch.long)
        lut[torch.as_tensor(elements)] = torch.arange(n_el)
        self.register_buffer("species_lut", lut)
        self.register_buffer("radial_mu", torch.linspace(0.7, s.cutoff_A - 0.3, s.n_radial, dtype=torch.float64))
        self.radial_eta = 1.0 / (2 * s.radial_width_A**2)
        self.register_buffer("ang_mu", torch.linspace(1.0, s.angular_cutoff_A - 0.5, s.n_angular_radial,
                                                      dtype=torch.float64))
        self.ang_eta = 1.0 / (2 * s.angular_width_A**2)
        pair = torch.zeros(n_el, n_el, dtype=torch.long)
        k = 0
        for a in range(n_el):
            for b in range(a, n_el):
                pair[a, b] = pair[b, a] = k
                k += 1
        self.register_buffer("pair_index", pair)
        self.n_elements = n_el
        self.n_pairs = k
        self.n_ang_shapes = 2 * len(s.zetas)
        self.zetas = tuple(float(z) for z in s.zetas)
        self.n_radial_features = n_el * s.n_radial
        self.n_angular_features = k * self.n_ang_shapes * s.n_angular_radial
        self.n_features = self.n_radial_features + self.n_angular_features

    def forward(self, species, vectors, i, j, tri_i, tri_j, tri_k, n_atoms: int):
        """Descriptors (n_atoms, n_features) from pair vectors r_ij (n_pairs, 3).

        ``tri_*`` index pairs: the triplet (i; j, k) uses pair rows ``tri_j`` and ``tri_k`` (both
        starting at atom ``tri_i``).
        """
        s = self.settings
        r = torch.linalg.norm(vectors, dim=1)
        fc = cutoff_function(r, s.cutoff_A)
        g = torch.exp(-self.radial_eta * (r[:, None] - self.radial_mu) ** 2) * fc[:, None]
        rad = torch.zeros(n_atoms * self.n_elements, s.n_radial, dtype=vectors.dtype, device=vectors.device)
        rad = rad.index_add(0, i * self.n_elements + species[j], g)
        rad = rad.view(n_atoms, self.n_radial_features)
        if len(tri_i) == 0:
            ang = torch.zeros(n_atoms, self.n_angular_features, dtype=vectors.dtype, device=vectors.device)
            return torch.cat([rad, ang], 1)
        rij, rik = r[tri_j], r[tri_k]
        cos = (vectors[tri_j] * vectors[tri_k]).sum(1) / (rij * rik)
        fca = cutoff_function(rij, s.angular_cutoff_A) * cutoff_function(rik, s.angular_cutoff_A)
        shapes = []
        for z in self.zetas:
            for lam in (1.0, -1.0):
                shapes.append(2.0 ** (1.0 - z) * (1.0 + lam * cos).clamp(min=0.0) ** z)
        shape = torch.stack(shapes, 1)  # (T, n_shapes)
        radial = torch.exp(-self.ang_eta * (0.5 * (rij + rik)[:, None] - self.ang_mu) ** 2) * fca[:, None]
        terms = (shape[:, :, None] * radial[:, None, :]).reshape(len(tri_i), -1)
        pidx = self.pair_index[species[j[tri_j]], species[j[tri_k]]]
        ang = torch.zeros(n_atoms * self.n_pairs, terms.shape[1], dtype=vectors.dtype, device=vectors.device)
        ang = ang.index_add(0, tri_i * self.n_pairs + pidx, terms).view(n_atoms, self.n_angular_features)
        return torch.cat([rad, ang], 1)

    def radial_window(self, tolerance: float | None) -> int:
        """How many radial Gaussians per pair are evaluated when those whose value and r-derivative
        [1/Å] at the pair's distance are both below ``tolerance`` are dropped (``None``: all).

        The centres are evenly spaced, so the window is the same width for every pair: the
        ``w`` centres nearest r_ij. The nearest dropped centre lies ≥ (w/2 − ½)Δμ away.
        """
        k = self.settings.n_radial
        if tolerance is None or k < 4:
            return k
        if not 0.0 < tolerance < 1.0:
            raise InputError(f"radial tolerance = {tolerance!r} must be in (0, 1) or None")
        dmu = float(self.radial_mu[1] - self.radial_mu[0])
        for w in range(2, k, 2):
            d = (w / 2 - 0.5) * dmu
            if math.exp(-self.radial_eta * d * d) * max(1.0, 2.0 * self.radial_eta * d) < tolerance:
                return w
        return k

    @torch.no_grad()
    def features_and_jacobian(self, species, vectors, i, j, tri_i, tri_j, tri_k, n_atoms: int, *,
                              radial_tolerance: float | None = None):
        """Descriptors G (N, D) and the factors of ∂G/∂r_ij needed to contract dE/dG into forces.

        Radial: ∂G^R_i[s_j, k]/∂v_ij = g'_k(r_ij) v̂_ij. Angular (term t = (i; j, k)):
        ∂G^A/∂v_ij = C_cos ∂cosθ/∂v_ij + C_rij v̂_ij with ∂cosθ/∂v_ij = (v̂_ik − cosθ v̂_ij)/r_ij,
        and likewise for v_ik. Computed without autograd (analytic), so that training and MD need
        no double backward through the descriptor.

        ``radial_tolerance`` (e.g. :data:`FLOAT32_RADIAL_TOLERANCE`): evaluate only the
        :meth:`radial_window` Gaussians nearest each r_ij, the others being below it; ``None``
        evaluates all (exact, for float64 and finite-difference checks).
        """
        s = self.settings
        r = torch.linalg.norm(vectors, dim=1)
        u = vectors / r[:, None]
        fc = cutoff_function(r, s.cutoff_A)
        dfc = torch.where(r < s.cutoff_A, -0.5 * torch.pi / s.cutoff_A * torch.sin(torch.pi * r / s.cutoff_A),
                          torch.zeros_like(r))
        mu_r = self.radial_mu.to(vectors.dtype)
        k, w = s.n_radial, self.radial_window(radial_tolerance)
        rad_row = i * self.n_elements + species.index_select(0, j)
        if w < k:
            # the w centres nearest r: from one below the nearest, w/2 − 1 further down (clamped)
            dmu = float(self.radial_mu[1] - self.radial_mu[0])
            near = torch.round((r - float(self.radial_mu[0])) / dmu).long()
            kk = (near - (w // 2 - 1)).clamp(0, k - w)[:, None] + torch.arange(w)
            x = r[:, None] - mu_r.index_select(0, kk.reshape(-1)).view(kk.shape)
        else:
            x = r[:, None] - mu_r
        gauss = torch.exp(-self.radial_eta * x * x)
        g = gauss * fc[:, None]
        dg = gauss * (-2 * self.radial_eta * x) * fc[:, None] + gauss * dfc[:, None]
        if w < k:
            rad_flat = ((rad_row * k)[:, None] + kk).reshape(-1)
            rad = torch.zeros(n_atoms * self.n_elements * k, dtype=vectors.dtype)
            rad = rad.index_add(0, rad_flat, g.reshape(-1)).view(n_atoms, self.n_radial_features)
        else:
            rad_flat = None
            rad = torch.zeros(n_atoms * self.n_elements, k, dtype=vectors.dtype)
            rad = rad.index_add(0, rad_row, g).view(n_atoms, self.n_radial_features)
        # rad_dg is (P, K), or (P, w) for the centres rad_flat names (flat indices into (N·n_el·K))
        jac = dict(rad_row=rad_row, rad_dg=dg, rad_flat=rad_flat, unit=u, i=i, j=j, n_atoms=n_atoms)
        if len(tri_i) == 0:
            ang = torch.zeros(n_atoms, self.n_angular_features, dtype=vectors.dtype)
            jac["ang_row"] = None
            return torch.cat([rad, ang], 1), jac
        rij, rik = r.index_select(0, tri_j), r.index_select(0, tri_k)
        uij, uik = u.index_select(0, tri_j), u.index_select(0, tri_k)
        cos = (uij * uik).sum(1)
        fa = lambda x: cutoff_function(x, s.angular_cutoff_A)  # noqa: E731
        rca = s.angular_cutoff_A
        dfa = lambda x: torch.where(x < rca, -0.5 * torch.pi / rca * torch.sin(torch.pi * x / rca),  # noqa: E731
                                    torch.zeros_like(x))
        fij, fik = fa(rij), fa(rik)
        dfij, dfik = dfa(rij), dfa(rik)
        lam = torch.tensor([1.0, -1.0], dtype=vectors.dtype)
        base = (1.0 + cos[:, None] * lam).clamp(min=0.0)  # (T, 2): λ = +1, −1
        shape = torch.cat([2.0 ** (1.0 - z) * base**z for z in self.zetas], 1)  # (T, S): S_s(cosθ), ζ-major
        dshape = torch.cat([2.0 ** (1.0 - z) * z * lam * base ** (z - 1.0) for z in self.zetas], 1)
        x = 0.5 * (rij + rik)[:, None] - self.ang_mu.to(vectors.dtype)
        radial = torch.exp(-self.ang_eta * x * x)  # (T, R): R_r(ρ), ρ = (r_ij + r_ik)/2
        ff = fij * fik
        n_t = len(tri_i)
        terms = (shape[:, :, None] * (radial * ff[:, None])[:, None, :]).reshape(n_t, -1)  # s-major, as G
        pidx = self.pair_index[species[j[tri_j]], species[j[tri_k]]]
        ang_row = tri_i * self.n_pairs + pidx
        ang = torch.zeros(n_atoms * self.n_pairs, terms.shape[1], dtype=vectors.dtype)
        ang = ang.index_add(0, ang_row, terms).view(n_atoms, self.n_angular_features)
        # G_t[s, r] = S_s R_r f_ij f_ik factorises, so contract() needs only its factors, their
        # derivatives and the angle's geometry: 2S + 2R + 6 numbers per triplet (24 here) instead of
        # the 3·S·R + 6 of ∂G/∂(cosθ, r_ij, r_ik) and ∂cosθ/∂v (66); training caches these per
        # mini-batch, and they were most of its memory
        jac.update(ang_row=ang_row, tri_j=tri_j, tri_k=tri_k, ang_shape=shape, ang_dshape=dshape,
                   ang_radial=radial, ang_dradial=radial * (-2 * self.ang_eta * x),
                   ang_ff=ff, ang_dff_ij=dfij * fik, ang_dff_ik=fij * dfik, ang_cos=cos,
                   ang_inv_rij=1.0 / rij, ang_inv_rik=1.0 / rik)
        return torch.cat([rad, ang], 1), jac

    @staticmethod
    def restrict_jacobian(jac: dict, centre_active: torch.Tensor) -> dict:
        """The factors of ``jac`` for the pairs and triplets centred on ``centre_active`` atoms only.

        Why: a row of dE/dG that is zero (a masked sheet carbon at zero field: its energy is a
        constant and its charge heads enter the energy only through the field) adds nothing to the
        forces, but ``contract`` would still gather and multiply every pair and triplet around it.
        Pair rows are renumbered; a triplet's two pairs share its centre, so both stay.
        """
        if bool(centre_active.all()):
            return jac
        keep = torch.nonzero(centre_active.index_select(0, jac["i"])).squeeze(1)
        out = dict(jac)
        for key in ("rad_row", "rad_dg", "unit", "i", "j"):
            out[key] = jac[key].index_select(0, keep)
        if jac.get("rad_flat") is not None:
            w = jac["rad_dg"].shape[1]
            out["rad_flat"] = jac["rad_flat"].view(-1, w).index_select(0, keep).reshape(-1)
        if jac.get("ang_row") is not None:
            renumber = torch.full((len(jac["i"]),), -1, dtype=torch.long)
            renumber[keep] = torch.arange(len(keep))
            tk = torch.nonzero(centre_active.index_select(0, jac["i"].index_select(0, jac["tri_j"]))).squeeze(1)
            if len(tk) == 0:  # as features_and_jacobian marks a graph without triplets
                out["ang_row"] = None
                return out
            for key in ("ang_row", "ang_shape", "ang_dshape", "ang_radial", "ang_dradial", "ang_ff", "ang_dff_ij",
                        "ang_dff_ik", "ang_cos", "ang_inv_rij", "ang_inv_rik"):
                out[key] = jac[key].index_select(0, tk)
            out["tri_j"] = renumber.index_select(0, jac["tri_j"].index_select(0, tk))
            out["tri_k"] = renumber.index_select(0, jac["tri_k"].index_select(0, tk))
        return out

    def contract(self, dE_dG: torch.Tensor, jac: dict) -> torch.Tensor:
        """Chain rule through the descriptor: (M, N, D) dE/dG → (M, N, 3) dE/dr (differentiable in dE/dG)."""
        m = dE_dG.shape[0]
        n = jac["n_atoms"]
        k = self.settings.n_radial
        nr = self.n_radial_features
        dt = dE_dG.dtype
        # atom-major with the member axis innermost: every gather and scatter below moves whole
        # rows of M (or M·3) contiguous values, far faster than strided slices; index_select, not
        # t[idx]: its CPU kernel gathers rows 2-4× faster (torch 2.13)
        vt = dE_dG.permute(1, 2, 0)  # (N, D, M)
        dg = jac["rad_dg"].to(dt)
        unit = jac["unit"].to(dt)
        if jac.get("rad_flat") is not None:  # windowed radial basis: (P, w) factors
            vr = vt[:, :nr, :].reshape(-1, m).index_select(0, jac["rad_flat"]).view(*dg.shape, m)
        else:
            vr = vt[:, :nr, :].reshape(n * self.n_elements, k, m).index_select(0, jac["rad_row"])  # (P, K, M)
        c = torch.bmm(dg[:, None, :], vr)[:, 0, :]  # (P, M): ∂E/∂r_p of each member
        if jac.get("ang_row") is not None:
            va = vt[:, nr:, :].reshape(n * self.n_pairs, -1, m).index_select(0, jac["ang_row"])  # (T, A, M)
            n_t = va.shape[0]
            ff, cos = jac["ang_ff"].to(dt)[:, None], jac["ang_cos"].to(dt)[:, None]
            inv_rij, inv_rik = jac["ang_inv_rij"].to(dt)[:, None], jac["ang_inv_rik"].to(dt)[:, None]
            # ∂G_t/∂(cosθ, r_ij, r_ik) rebuilt from the factors, (T, 3, S, R): one batched product with
            # dE/dG then gives all three (cheaper than contracting the factors one at a time)
            sh, dsh = jac["ang_shape"].to(dt), jac["ang_dshape"].to(dt)
            rad = jac["ang_radial"].to(dt)
            r_d = 0.5 * jac["ang_dradial"].to(dt) * ff
            outer = torch.stack([dsh[:, :, None] * (rad * ff)[:, None, :],
                                 sh[:, :, None] * (r_d + rad * jac["ang_dff_ij"].to(dt)[:, None])[:, None, :],
                                 sh[:, :, None] * (r_d + rad * jac["ang_dff_ik"].to(dt)[:, None])[:, None, :]], 1)
            coef = torch.bmm(outer.view(n_t, 3, -1), va)  # (T, 3, M): ∂E/∂cosθ, ∂E/∂r_ij, ∂E/∂r_ik (cosθ fixed)
            c_cos, c_rij, c_rik = coef[:, 0], coef[:, 1], coef[:, 2]
            # ∂E/∂v_ij = c_cos (v̂_ik − cosθ v̂_ij)/r_ij + c_rij v̂_ij = a_j v̂_ik + b_j v̂_ij (and for v_ik):
            # each b multiplies its own pair's unit vector, so it joins the radial scalar per pair
            a_j, a_k = c_cos * inv_rij, c_cos * inv_rik
            c = c.index_add(0, jac["tri_j"], c_rij - a_j * cos).index_add(0, jac["tri_k"], c_rik - a_k * cos)
            gvt = (c[:, :, None] * unit[:, None, :]).reshape(-1, m * 3)
            u_j, u_k = unit.index_select(0, jac["tri_j"]), unit.index_select(0, jac["tri_k"])
            gvt = gvt.index_add(0, jac["tri_j"], (a_j[:, :, None] * u_k[:, None, :]).reshape(n_t, m * 3))
            gvt = gvt.index_add(0, jac["tri_k"], (a_k[:, :, None] * u_j[:, None, :]).reshape(n_t, m * 3))
        else:
            gvt = (c[:, :, None] * unit[:, None, :]).reshape(-1, m * 3)  # dE/dv_p, (P, M·3)
        grad = torch.zeros(n, m * 3, dtype=dt)
        grad = grad.index_add(0, jac["j"], gvt).index_add(0, jac["i"], -gvt)
        return grad.view(n, m, 3).permute(1, 0, 2)


class LinearMessages(nn.Module):
    """The message round of :class:`MessageSettings`: ``forward(x, species, i, j, vectors)`` → h (N, n_radial ·
    n_channels) from standardised descriptors x (N, D) and the pair rows (i, j, v_ij = r_j − r_i)."""

    def __init__(self, n_elements: int, n_features: int, settings: MessageSettings):
        super().__init__()
        settings.validate()
        self.settings = settings
        self.projection = nn.Parameter(torch.randn(n_elements, n_features, settings.n_channels, dtype=torch.float64)
                                       / math.sqrt(n_features))
        self.register_buffer("mu", torch.linspace(1.0, max(1.0, settings.cutoff_A - 0.5), settings.n_radial,
                                                  dtype=torch.float64))
        self.eta = 1.0 / (2 * settings.width_A ** 2)
        self.n_outputs = settings.n_radial * settings.n_channels

    def forward(self, x, species, i, j, vectors):
        dt = self.projection.dtype
        x = x.to(dt)
        m = torch.zeros(len(species), self.projection.shape[2], dtype=dt, device=x.device)
        for k in range(self.projection.shape[0]):
            idx = torch.nonzero(species == k).squeeze(1)
            if len(idx):
                m = m.index_copy(0, idx, x[idx] @ self.projection[k])
        near = torch.linalg.norm(vectors.detach(), dim=1) < self.settings.cutoff_A
        r = torch.linalg.norm(vectors[near], dim=1).to(dt)
        phi = torch.exp(-self.eta * (r[:, None] - self.mu.to(dt)) ** 2)
        phi = phi * cutoff_function(r, self.settings.cutoff_A)[:, None]
        h = torch.zeros(len(species), phi.shape[1], m.shape[1], dtype=dt, device=x.device)
        h = h.index_add(0, i[near], phi[:, :, None] * m[j[near]][:, None, :])
        return h.reshape(len(species), -1)


def _mlp(n_in: int, hidden, n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    last = n_in
    for h in hidden:
        layers += [nn.Linear(last, h, dtype=torch.float64), nn.SiLU()]
        last = h
    layers.append(nn.Linear(last, n_out, dtype=torch.float64))
    return nn.Sequential(*layers)


def field_outputs(out: torch.Tensor, batch: dict) -> dict:
    """Energy, neutral charges and dipole of each configuration from the atomic outputs.

    ``out`` (N, 4) = (ε_i [eV], q̃_i [e], p̃_i [e], χ̃_i [e/(V/Å)]) of any member architecture.
    Two neutral charge sets: ``charges`` q_i (trained on the reference's Mulliken charges,
    reported for ρ(x)) and effective charges p_i whose dipole μ⁰_z = Σ p_i z_i is trained on the
    reference dipole (which in xTB also contains atomic dipoles). Neutrality by mean shift per
    configuration (Σ q_i = Q, Σ χ_i = 0, so the dipole does not depend on the origin). The field
    couples to the dipole: E = Σ ε_i − F μ⁰_z − ½F² Σ χ_i z_i, μ_z = −∂E/∂F.
    """
    b, nb = batch["batch"], int(batch["n_configs"])
    dt, dev = out.dtype, out.device

    def per_config(x):
        return torch.zeros(nb, dtype=dt, device=dev).index_add(0, b, x)

    count = per_config(torch.ones_like(out[:, 0]))
    q_total = (batch["total_charge"].to(dt) / count)[b]
    q0 = out[:, 1] - (per_config(out[:, 1]) / count)[b] + q_total
    p0 = out[:, 2] - (per_config(out[:, 2]) / count)[b] + q_total
    chi = out[:, 3] - (per_config(out[:, 3]) / count)[b]
    f = batch["field"].to(dt)
    z = batch["positions"][:, 2].to(dt)
    mu0 = per_config(p0 * z)
    alpha = per_config(chi * z)
    energy = per_config(out[:, 0]) - f * mu0 - 0.5 * f**2 * alpha
    return dict(energy=energy, charges=q0 + f[b] * chi, dipole_z=mu0 + f * alpha, atomic_energy=out[:, 0],
                polarizability_zz=alpha)


class FieldAwarePotential(nn.Module):
    """One member: element MLPs on symmetry functions → (ε_i, q̃_i, χ̃_i); see the module docstring.

    ``forward(batch)`` takes a dict with ``species`` (N,) element index, ``positions`` (N, 3) Å,
    ``vectors`` (P, 3) pair vectors r_j − r_i (built from positions and the cell shifts so that
    gradients flow), ``i``, ``j`` (P,), ``tri_i``, ``tri_j``, ``tri_k`` (T,), ``batch`` (N,)
    configuration index, ``field`` (B,) V/Å, ``total_charge`` (B,) e, ``n_configs`` int, and
    optionally precomputed ``descriptors`` (N, D). Returns ``energy`` (B,) eV, ``charges`` (N,)
    e, ``dipole_z`` (B,) e·Å, ``atomic_energy`` (N,).
    """

    def __init__(self, elements=DEFAULT_ELEMENTS, descriptor: DescriptorSettings | None = None,
                 network: NetworkSettings | None = None):
        super().__init__()
        self.elements = tuple(int(e) for e in elements)
        self.descriptor = SymmetryFunctions(self.elements, descriptor)
        net = network or NetworkSettings()
        self.network_settings = net
        d = self.descriptor.n_features
        if net.messages is not None and net.messages.cutoff_A > self.descriptor.settings.cutoff_A:
            # the messages' pairs are the descriptor's: beyond its cutoff they would be cut silently
            raise InputError(f"messages.cutoff_A = {net.messages.cutoff_A} must be <= descriptor.cutoff_A = "
                             f"{self.descriptor.settings.cutoff_A} Å")
        self.messages = None if net.messages is None else LinearMessages(len(self.elements), d, net.messages)
        n_in = d + (0 if self.messages is None else self.messages.n_outputs)
        self.nets = nn.ModuleList([_mlp(n_in, net.hidden, 4) for _ in self.elements])
        self.register_buffer("feature_mean", torch.zeros(d, dtype=torch.float64))
        self.register_buffer("feature_std", torch.ones(d, dtype=torch.float64))
        self.register_buffer("energy_shift", torch.zeros(len(self.elements), dtype=torch.float64))
        self.register_buffer("energy_scale", torch.ones((), dtype=torch.float64))
        self.register_buffer("field_range", torch.tensor([0.0, 0.0], dtype=torch.float64))
        self.register_buffer("min_distance", torch.tensor(0.5, dtype=torch.float64))

    def atomic_outputs(self, features: torch.Tensor, species: torch.Tensor, sheet=None, pairs=None) -> torch.Tensor:
        """(N, 4): ε_i [eV], q̃_i (charge) [e], p̃_i (effective charge) [e], χ̃_i [e/(V/Å)], raw.
        ``sheet`` (bool per atom) masks the network part of the sheet's ε_i when the settings say so;
        ``pairs`` = (i, j, vectors) of the batch, needed by a model with messages."""
        net_dtype = self.nets[0][0].weight.dtype  # float32 nets run in float32 (speed), energies stay float64
        x = ((features - self.feature_mean) / self.feature_std).to(net_dtype)
        if self.messages is not None:
            if pairs is None:
                raise InputError("this model has messages; atomic_outputs needs pairs = (i, j, vectors)")
            x = torch.cat([x, self.messages(x, species, *pairs).to(net_dtype)], 1)
        out = torch.zeros(len(species), 4, dtype=net_dtype, device=features.device)
        for k, net in enumerate(self.nets):
            mask = species == k
            if bool(mask.any()):
                idx = torch.nonzero(mask).squeeze(1)
                out = out.index_copy(0, idx, net(x[idx]))
        out = out.to(self.energy_scale.dtype)
        raw_eps = out[:, 0]
        if self.masks_sheet:
            if sheet is None:
                raise InputError("this model takes the sheet's energy from its baseline; the batch needs 'sheet'")
            bias = torch.stack([net[-1].bias[0] for net in self.nets]).to(raw_eps.dtype)[species]
            raw_eps = torch.where(sheet.bool(), bias, raw_eps)
        eps = raw_eps * self.energy_scale + self.energy_shift[species]
        return torch.stack([eps, out[:, 1], out[:, 2], 0.1 * out[:, 3]], 1)

    def forward(self, batch: dict, *, features=None, forces: bool = True, create_graph: bool = False) -> dict:
        """Predict ``energy``, ``charges``, ``dipole_z`` and (``forces``) F = −∂E/∂r for a batch.

        ``features`` = (G, jacobian) from :meth:`SymmetryFunctions.features_and_jacobian` may be
        passed to reuse a descriptor (ensembles, cached training batches). ``create_graph`` keeps
        the graph of the forces for a force loss.
        """
        if features is None:
            features = self.descriptor.features_and_jacobian(
                batch["species"], batch["vectors"].detach(), batch["i"], batch["j"], batch["tri_i"],
                batch["tri_j"], batch["tri_k"], len(batch["species"]))
        feats, jac = features
        with torch.enable_grad():
            g_leaf = feats.detach().requires_grad_(forces)
            pos = batch["positions"].detach().requires_grad_(forces)
            leaves = [g_leaf, pos]
            b2 = dict(batch, positions=pos)
            if self.messages is not None:  # the messages' radial weights depend on the pair vectors directly
                b2["vectors"] = batch["vectors"].detach().requires_grad_(forces)
                leaves.append(b2["vectors"])
            out = self.energy_from_features(g_leaf, b2)
            if forces:
                grads = torch.autograd.grad(out["energy"].sum(), leaves, create_graph=create_graph)
                d_pos = grads[1] if self.messages is None else grads[1] + pair_gradient(batch, grads[2])
                out["forces"] = -(self.descriptor.contract(grads[0][None], jac)[0] + d_pos)
        return out

    def energy_from_features(self, feats: torch.Tensor, batch: dict) -> dict:
        """Energy, charges and dipole from descriptors; see the module docstring.

        Two neutral charge sets are predicted: ``charges`` q_i (trained on the reference's
        Mulliken charges, reported for ρ(x)) and effective charges p_i whose dipole
        μ⁰_z = Σ p_i z_i is trained on the reference dipole (which in xTB also contains atomic
        dipoles). The field couples to the dipole: E = Σ ε_i − F μ⁰_z − ½F² Σ χ_i z_i.
        """
        pairs = None if self.messages is None else (batch["i"], batch["j"], batch["vectors"])
        return field_outputs(self.atomic_outputs(feats, batch["species"], batch.get("sheet"), pairs), batch)

    @property
    def masks_sheet(self) -> bool:
        """Whether the sheet carbons' ε_i are their element's constant (last-layer bias, offset), not
        the network's function of their environment: their internal energy is then the baseline's.
        The constant keeps one per-element offset valid for sheet and EC carbons alike, so that the
        atomic-energy refit of continued training stays consistent."""
        return bool(getattr(self.network_settings, "sheet_energy_from_baseline", False))

    @property
    def cutoff_A(self) -> float:
        return float(self.descriptor.settings.cutoff_A)

    @property
    def angular_cutoff_A(self) -> float:
        return float(self.descriptor.settings.angular_cutoff_A)

    def config(self) -> dict:
        return dict(architecture=ARCHITECTURE, elements=list(self.elements),
                    descriptor=self.descriptor.settings.to_dict(), network=self.network_settings.to_dict())

    @classmethod
    def from_config(cls, cfg: dict) -> "FieldAwarePotential":
        d = dict(cfg["descriptor"])
        d["zetas"] = tuple(d["zetas"])
        return cls(cfg["elements"], DescriptorSettings(**d), NetworkSettings.from_dict(cfg["network"]))


def pair_gradient(batch: dict, d_vectors: torch.Tensor) -> torch.Tensor:
    """∂E/∂r (N, 3) from ∂E/∂v_ij over the batch's pair rows, v_ij = r_j − r_i."""
    n = len(batch["species"])
    out = torch.zeros(n, 3, dtype=d_vectors.dtype, device=d_vectors.device)
    return out.index_add(0, batch["j"], d_vectors).index_add(0, batch["i"], -d_vectors)


def triplets(i: np.ndarray, distances: np.ndarray, angular_cutoff_A: float):
    """Triplet index arrays (tri_i, tri_j, tri_k) over pair rows: pairs j<k sharing centre i."""
    sel = np.nonzero(distances < angular_cutoff_A)[0]
    ci = i[sel]
    if len(sel) == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    order = np.argsort(ci, kind="stable")
    sel, ci = sel[order], ci[order]
    counts = np.bincount(ci)
    starts = np.cumsum(counts) - counts
    n_t = counts * (counts - 1) // 2
    centres = np.repeat(np.arange(len(counts)), n_t)
    # for each centre, all (a, b) with a < b among its local pair rows
    a_list = []
    for c in np.unique(counts):
        if c < 2:
            continue
        aa, bb = np.triu_indices(c, 1)
        a_list.append((c, aa, bb))
    tri_j = np.empty(int(n_t.sum()), dtype=np.int64)
    tri_k = np.empty_like(tri_j)
    tri_off = np.cumsum(n_t) - n_t
    for c, aa, bb in a_list:
        cs = np.nonzero(counts == c)[0]
        rows = tri_off[cs][:, None] + np.arange(len(aa))[None, :]
        tri_j[rows.ravel()] = sel[(starts[cs][:, None] + aa[None, :]).ravel()]
        tri_k[rows.ravel()] = sel[(starts[cs][:, None] + bb[None, :]).ravel()]
    return centres.astype(np.int64), tri_j, tri_k


def member_from_config(cfg: dict) -> nn.Module:
    """A fresh member of the architecture named in ``cfg`` (configs without one are Behler–Parrinello)."""
    arch = cfg.get("architecture", ARCHITECTURE)
    if arch == ARCHITECTURE:
        return FieldAwarePotential.from_config(cfg)
    from .message_passing import ARCHITECTURE as MP, MessagePassingPotential

    if arch == MP:
        return MessagePassingPotential.from_config(cfg)
    raise InputError(f"architecture = {arch!r} is unknown; expected {ARCHITECTURE!r} or {MP!r}")


def widen_networks(member: FieldAwarePotential, hidden, *, init_std: float = 0.05,
                   seed: int = 0) -> FieldAwarePotential:
    """A copy of ``member`` whose element networks have the wider ``hidden`` layers, computing the
    same function (Net2WiderNet-style): each added unit gets random incoming weights (normal,
    ``init_std``) and zero outgoing weights, so energies, charges and forces are unchanged until
    training moves them. For continued training with more capacity than the parent had, without
    giving up what it learned. Descriptor, normalisation and every buffer are copied.

    ``hidden`` needs as many layers as the member has, each at least as wide.
    """
    hidden = tuple(int(h) for h in hidden)
    old = tuple(member.network_settings.hidden)
    if len(hidden) != len(old) or any(h < o for h, o in zip(hidden, old)):
        raise InputError(f"hidden = {list(hidden)} must have {len(old)} layers, each at least as wide as the "
                         f"member's {list(old)}")
    if not 0.0 < init_std <= 1.0:
        raise InputError(f"init_std = {init_std} must be in (0, 1]")
    settings = replace(member.network_settings, hidden=hidden)
    wide = FieldAwarePotential(member.elements, member.descriptor.settings, settings).to(
        member.nets[0][0].weight.dtype)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for net_old, net_new in zip(member.nets, wide.nets):
            lin_old = [m for m in net_old if isinstance(m, nn.Linear)]
            lin_new = [m for m in net_new if isinstance(m, nn.Linear)]
            for li, (a, b) in enumerate(zip(lin_old, lin_new)):
                n_out, n_in = a.weight.shape
                b.weight.zero_()
                b.bias.zero_()
                if li < len(lin_old) - 1:  # added units: random inputs from the (old) units below
                    b.weight[n_out:, :].normal_(0.0, init_std, generator=gen)
                b.weight[:n_out, :n_in] = a.weight  # columns of added units below stay zero
                b.bias[:n_out] = a.bias
        wide_buffers = dict(wide.named_buffers())
        for name, buf in member.named_buffers():
            wide_buffers[name].copy_(buf)
        if member.messages is not None:
            wide.messages.projection.copy_(member.messages.projection)
    return wide


def add_messages(member: FieldAwarePotential, settings: MessageSettings, *, seed: int = 0) -> FieldAwarePotential:
    """A copy of ``member`` with learned linear messages (:class:`MessageSettings`) added, computing
    the same function: the first layers' weights on the message inputs start at zero (the projection
    random), so energies, charges and forces are unchanged until training moves them. For continued
    training with more information per atom than the parent had. Needs a member without messages.
    """
    if member.messages is not None:
        raise InputError(f"the member already has messages ({member.messages.settings.to_dict()})")
    settings.validate()
    net = replace(member.network_settings, messages=settings)
    new = FieldAwarePotential(member.elements, member.descriptor.settings, net).to(member.nets[0][0].weight.dtype)
    gen = torch.Generator().manual_seed(seed)
    d = member.descriptor.n_features
    with torch.no_grad():
        proj = new.messages.projection
        proj.copy_(torch.randn(proj.shape, generator=gen, dtype=torch.float64).to(proj.dtype) / math.sqrt(d))
        for net_old, net_new in zip(member.nets, new.nets):
            for k, (a, b) in enumerate(zip(net_old, net_new)):
                if not isinstance(a, nn.Linear):
                    continue
                b.bias.copy_(a.bias)
                if k == 0:
                    b.weight.zero_()
                    b.weight[:, :d] = a.weight
                else:
                    b.weight.copy_(a.weight)
        new_buffers = dict(new.named_buffers())
        for name, buf in member.named_buffers():
            new_buffers[name].copy_(buf)
    return new
