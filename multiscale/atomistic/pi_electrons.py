"""π electrons of the graphene electrode: a Γ-point Hückel band term, the metallic part of the sheet.

Why this exists. The reference (GFN1-xTB through tblite) treats the periodic training cell at
the Γ point only, with 1000 K Fermi smearing. Graphene is a semimetal: when the supercell's
repeat along the zigzag direction is a multiple of 3 (the 60-atom training cell's 3 × 2
rectangular cell is), its Dirac points fold onto Γ and four degenerate π states sit at the
Fermi level. How a distortion splits them depends on the *pattern* of bond lengths over the
whole cell (a Kekulé-type response), so the sheet's in-plane forces are not a sum of local
terms: a 6.5 Å symmetry-function network had 650 meV/Å in-plane force errors on the sheet,
against ~170 for the electrolyte's atoms. A least-squares check on 225 training frames (in the
model card) shows what they are: this term with the textbook parameters (t₀ = 2.4 eV, β = 2 Å⁻¹,
coefficient fitted 1.01) plus three local bond-stretch terms reproduces the reference's
in-plane sheet forces to 167 meV/Å, where the bond terms alone reach 716 (reference RMS 991).

The model. One p_z orbital per sheet carbon (:func:`sheet_carbons`),
nearest-neighbour hopping

    H_ij = −t(r_ij),  t(r) = t₀ exp(−β (r − r₀)) · s(r),

summed over periodic images at Γ (the reference's own k-sampling of the same cell), with s(r) a
cosine switch from 1 at ``switch_start_A`` to 0 at ``cutoff_A`` (second neighbours at 2.46 Å are
never included). One electron per carbon (neutral sheet: the reference's Mulliken sheet charge,
−0.37 … +0.22 e, made no difference to the fit). Occupations are Fermi–Dirac at the reference's
electronic temperature with μ fixed by the electron count, and the energy is the Mermin free
energy

    Ω = Σ_n 2 f_n ε_n + 2 k_B T Σ_n [f_n ln f_n + (1 − f_n) ln(1 − f_n)] − N ω_∞,

whose exact gradient is the Hellmann–Feynman force F_a = −Σ_ij ρ_ij ∂H_ij/∂R_a with the density
matrix ρ = 2 Σ_n f_n c_n c_nᵀ (no derivative of the occupations is needed: Ω is variational in
them at fixed N). ω_∞ is the free energy per atom of the ideal infinite sheet (a dense k-grid),
subtracted so that the term is a small number for an ideal sheet whatever its size.

The σ bonds. An optional pair term over the sheet's bonds, V(r) = Σ_k c_k (r − r₀)^(k+1)/(k+1)
(k = 0…3), fitted by least squares to the in-plane sheet forces of the labels minus the π term
(:func:`fit_bond_terms`). With it the baseline is a whole force field for the sheet's internal
mechanics (`benchmarks/bench_pi_baseline.py`: 171 meV/Å in-plane on held-out packings, where
the bond term alone gives 828 and the shipped network 655).

The σ framework's angles (2026-12-06). A pair term cannot resist bond-angle bending, which
carries much of the in-plane force. Three valence-angle terms per angle j–i–k (angle bending,
stretch–bend and stretch–stretch couplings, ``angle_coefficients``; the in-plane part of a
valence force field), fitted jointly with the bond term, take the in-plane residual from 171 to
61 meV/Å on held-out packings (`benchmarks/bench_pi_baseline.py`).

The flexural force constants (2026-12-06). The sheet's normal forces track its corrugation
through more than its nearest neighbours: the single ½ k Σ h² term left 290 meV/Å of them on
held-out packings and 440 on equilibrium (2.4 ps) reference frames, out of 430 and 525 RMS.
Harmonic force constants over five neighbour shells (``flexural_coefficients``, the
Born–von Kármán model of the ZA branch) leave 58 and 76, fitted on a trained model's
residual normal forces (:func:`fit_flexural`).

Use. A Δ-learning baseline (``baseline`` of a trained ensemble): the network learns reference −
baseline and the calculator adds it back. With ``NetworkSettings.sheet_energy_from_baseline``
the network's own atomic energies of the sheet carbons are masked, so the sheet's internal
energy is the baseline's alone and the network describes the electrolyte and its interaction
with the sheet (which reach the sheet through the electrolyte atoms' energies). The term has no
field dependence (a flat sheet normal to the field has none at first order); the field's
coupling to the sheet's induced charges stays in the network's charge and response heads.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from ..errors import InputError, check_range

K_B_EV_PER_K = 8.617333262e-5


@dataclass(frozen=True)
class PiBandSettings:
    """Parameters of the Hückel π term (defaults: the fit to GFN1-xTB described in the module)."""

    hopping_eV: float = 2.4
    decay_per_A: float = 2.0
    bond_A: float = 1.42
    switch_start_A: float = 1.8
    cutoff_A: float = 2.1
    electronic_temperature_K: float = 1000.0
    #: the C–C distance below which two carbons count as bonded when the sheet is identified
    sheet_bond_A: float = 1.8
    #: optional σ-bond term of the sheet: c_k [eV/Å^(k+1)] of V'(r) = Σ_k c_k (r − bond_A)^k, a pair
    #: potential V(r) = Σ_k c_k (r − bond_A)^(k+1)/(k+1) over the sheet's bonds (switched like t),
    #: fitted by :func:`fit_bond_terms`; empty: the π term alone
    bond_coefficients: tuple = ()
    #: out-of-plane correction k [eV/Å²]: E = ½ k Σ_i h_i², h_i = z_i − the mean z of its sheet
    #: neighbours (the sheet lies in the xy plane, as in every cell of this package). Fitted on a
    #: trained model's residual normal forces by :func:`fit_bending`; it may be negative, since it
    #: corrects the out-of-plane stiffness that the pair and π terms imply (fitted in-plane)
    bending_eV_per_A2: float = 0.0
    #: optional σ valence-angle terms of the sheet, (a_θθ, a_rθ, a_rr) [eV, eV/Å, eV/Å²] of
    #: Σ_i Σ_{j<k bonded to i} w_ij w_ik [a_θθ x² + a_rθ (d_ij + d_ik) x + a_rr d_ij d_ik],
    #: x = cos θ_jik + ½ (0 at 120°), d = r − bond_A, w the bonds' switch. Fitted with the bond
    #: term to the in-plane forces by :func:`fit_bond_terms` (``angles=True``); empty: none
    angle_coefficients: tuple = ()
    #: optional flexural (out-of-plane) force constants k_s [eV/Å²] of the neighbour shells
    #: :data:`FLEXURAL_SHELLS` (1st … 5th neighbours): E = ¼ Σ_pairs(both orders) k(r_ij) (z_i − z_j)²,
    #: k(r) = k_s inside shell s, switched smoothly between shells. Fitted on a trained model's
    #: residual normal forces by :func:`fit_flexural`; empty: none
    flexural_coefficients: tuple = ()

    def validate(self) -> "PiBandSettings":
        check_range("hopping_eV", self.hopping_eV, low=0.0, low_inclusive=False)
        check_range("decay_per_A", self.decay_per_A, low=0.0)
        check_range("bond_A", self.bond_A, low=0.5, high=3.0)
        check_range("electronic_temperature_K", self.electronic_temperature_K, low=1.0)
        if not 0.0 < self.switch_start_A < self.cutoff_A < 2.4:
            raise InputError(f"switch_start_A = {self.switch_start_A}, cutoff_A = {self.cutoff_A}: need "
                             "0 < switch_start_A < cutoff_A < 2.4 Å (nearest neighbours only)")
        if self.angle_coefficients and (len(self.angle_coefficients) != N_ANGLE_TERMS or not self.bond_coefficients):
            raise InputError(f"angle_coefficients = {self.angle_coefficients}: give {N_ANGLE_TERMS} values "
                             "(a_θθ, a_rθ, a_rr), together with bond_coefficients, or none")
        if len(self.flexural_coefficients) > len(FLEXURAL_SHELLS):
            raise InputError(f"flexural_coefficients has {len(self.flexural_coefficients)} values; at most "
                             f"{len(FLEXURAL_SHELLS)} (one per neighbour shell)")
        return self

    def to_dict(self) -> dict:
        return dict(asdict(self), bond_coefficients=[float(c) for c in self.bond_coefficients],
                    angle_coefficients=[float(c) for c in self.angle_coefficients],
                    flexural_coefficients=[float(c) for c in self.flexural_coefficients],
                    kind="graphene_pi_gamma")

    @classmethod
    def from_dict(cls, d: dict) -> "PiBandSettings":
        kind = d.get("kind", "graphene_pi_gamma")
        if kind != "graphene_pi_gamma":
            raise InputError(f"baseline kind = {kind!r}; this package knows 'graphene_pi_gamma'")
        kw = {k: v for k, v in d.items() if k != "kind"}
        for key in ("bond_coefficients", "angle_coefficients", "flexural_coefficients"):
            kw[key] = tuple(float(c) for c in kw.get(key, ()))
        return cls(**kw).validate()


def _fermi(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 - np.tanh(0.5 * x))  # = 1/(1+e^x), without overflow


def _occupations(eps: np.ndarray, n_electrons: float, kT: float) -> tuple[np.ndarray, float]:
    """Spin-orbital occupations f_n ∈ [0, 1] with 2 Σ f = n_electrons (bisection on μ)."""
    lo, hi = eps.min() - 50 * kT - 1.0, eps.max() + 50 * kT + 1.0
    for _ in range(200):
        mu = 0.5 * (lo + hi)
        if 2.0 * _fermi((eps - mu) / kT).sum() > n_electrons:
            hi = mu
        else:
            lo = mu
        if hi - lo < 1e-13:
            break
    mu = 0.5 * (lo + hi)
    return _fermi((eps - mu) / kT), mu


def _entropy_term(f: np.ndarray) -> float:
    """Σ [f ln f + (1 − f) ln(1 − f)] (≤ 0), 0 ln 0 = 0."""
    g = np.clip(f, 1e-300, 1.0)
    h = np.clip(1.0 - f, 1e-300, 1.0)
    return float(np.sum(f * np.log(g) + (1.0 - f) * np.log(h)))


@lru_cache(maxsize=16)
def ideal_sheet_free_energy_per_atom(hopping_eV: float, electronic_temperature_K: float, n_k: int = 240) -> float:
    """ω_∞ [eV/atom]: Mermin free energy per atom of the ideal infinite sheet (bands ±t₀|γ(k)|, μ = 0)."""
    kT = K_B_EV_PER_K * electronic_temperature_K
    u = (np.arange(n_k) + 0.5) / n_k
    U, V = np.meshgrid(u, u, indexing="ij")
    gamma = np.abs(1.0 + np.exp(2j * np.pi * U) + np.exp(2j * np.pi * V))
    eps = np.concatenate([-hopping_eV * gamma.ravel(), hopping_eV * gamma.ravel()])
    f = _fermi(eps / kT)  # half filling: μ = 0 by particle–hole symmetry
    omega = 2.0 * np.sum(f * eps) + 2.0 * kT * _entropy_term(f)
    return float(omega / (2 * n_k * n_k))  # two atoms per primitive cell


def _switch(r: np.ndarray, r_on: float, r_off: float) -> tuple[np.ndarray, np.ndarray]:
    """Cosine switch s(r) (1 below r_on, 0 above r_off) and ds/dr."""
    x = np.clip((r - r_on) / (r_off - r_on), 0.0, 1.0)
    s = 0.5 * (1.0 + np.cos(np.pi * x))
    ds = np.where((x > 0) & (x < 1), -0.5 * np.pi * np.sin(np.pi * x) / (r_off - r_on), 0.0)
    return s, ds


def sheet_carbons(atoms, bond_A: float = 1.8) -> np.ndarray:
    """Indices of the sheet: carbons with at least three carbon neighbours within ``bond_A``
    (:func:`~multiscale.atomistic.system.electrode_atoms`).

    At least, not exactly three: an EC carbon that comes within ``bond_A`` of a sheet carbon
    (seen in 19 of the 1,500 active-learning rows) would otherwise drop that carbon from the π
    system, and the term would jump. The EC carbon itself has two carbon neighbours at most and
    never joins.
    """
    from .system import electrode_atoms

    return np.flatnonzero(electrode_atoms(atoms, bond_A=bond_A))


def _sheet_hamiltonian(atoms, s: PiBandSettings, sheet=None):
    """(sheet indices, Γ-point H [eV], neighbour list of the sheet, dt/dr per list entry [eV/Å])."""
    from .neighbours import neighbour_list

    if sheet is None:
        sheet = sheet_carbons(atoms, s.sheet_bond_A)
    sheet = np.asarray(sheet, dtype=int)
    if len(sheet) == 0:
        return sheet, np.zeros((0, 0)), None, None
    if not (atoms.pbc[0] and atoms.pbc[1]):
        raise InputError(f"atoms.pbc = {list(map(bool, atoms.pbc))}: the π-band term needs a sheet periodic in x and y")
    nl = neighbour_list(atoms.positions[sheet], atoms.cell.array, atoms.pbc, s.cutoff_A)
    r = nl.distances
    sw, dsw = _switch(r, s.switch_start_A, s.cutoff_A)
    ex = np.exp(-s.decay_per_A * (r - s.bond_A))
    t = s.hopping_eV * ex * sw
    dt_dr = s.hopping_eV * ex * (dsw - s.decay_per_A * sw)
    H = np.zeros((len(sheet), len(sheet)))
    np.add.at(H, (nl.i, nl.j), -t)  # Γ point: the images of one pair add; the list has both orders
    return sheet, H, nl, dt_dr


def pi_hamiltonian(atoms, settings: PiBandSettings | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the sheet carbons, their Γ-point Hückel Hamiltonian [eV]); empty without a sheet."""
    sheet, H, _, _ = _sheet_hamiltonian(atoms, (settings or PiBandSettings()).validate())
    return sheet, H


def pi_band_energy_forces(atoms, settings: PiBandSettings | None = None, *, sheet=None) -> tuple[float, np.ndarray, int]:
    """Mermin free energy [eV] of the sheet's π electrons (− N ω_∞), forces [eV/Å] on all atoms, sheet size.

    ``sheet``: indices of the sheet carbons when the caller has them (the calculator finds them
    from its own neighbour graph); by default :func:`sheet_carbons` with ``settings.sheet_bond_A``.

    Atoms that are not sheet carbons get zero force; a frame without a sheet gives (0, 0, 0).
    Raises ``InputError`` for a sheet that is not periodic in x and y (a Γ-point band term is
    defined for the periodic sheet only).
    """
    s = (settings or PiBandSettings()).validate()
    e, forces, sheet, _ = _pi_terms(atoms, s, sheet)
    return e, forces, len(sheet)


def _pi_terms(atoms, s: PiBandSettings, sheet):
    """(Ω [eV], forces on all atoms [eV/Å], sheet indices, the sheet's neighbour list or None)."""
    forces = np.zeros((len(atoms), 3))
    sheet, H, nl, dt_dr = _sheet_hamiltonian(atoms, s, sheet)
    n = len(sheet)
    if n == 0:
        return 0.0, forces, sheet, None
    eps, c = np.linalg.eigh(H)
    kT = K_B_EV_PER_K * s.electronic_temperature_K
    f, _ = _occupations(eps, float(n), kT)
    omega = 2.0 * np.sum(f * eps) + 2.0 * kT * _entropy_term(f)
    omega -= n * ideal_sheet_free_energy_per_atom(s.hopping_eV, s.electronic_temperature_K)
    rho = 2.0 * (c * f) @ c.T
    # dΩ/dR = Σ_ab ρ_ab ∂H_ab/∂R (Hellmann–Feynman). Each entry e = (i → j, image S) of the
    # neighbour list is one term −t(r_e) of H_ij, r_e = |r_j + S·h − r_i|, so it adds
    # −ρ_ij t'(r_e) u_e to dΩ/dR_j and the opposite to dΩ/dR_i (u_e the unit vector i → j).
    u = nl.vectors / nl.distances[:, None]
    g = (rho[nl.i, nl.j] * dt_dr)[:, None] * u  # = −dΩ/dR_j from entry e
    f_sheet = np.zeros((n, 3))
    np.add.at(f_sheet, nl.j, g)
    np.add.at(f_sheet, nl.i, -g)
    forces[sheet] = f_sheet
    return float(omega), forces, sheet, nl


def _bond_energy_forces(nl, r, n_atoms, s: PiBandSettings):
    """σ-bond pair term over a neighbour list with both orders of every pair: (E [eV], F [eV/Å])."""
    f = np.zeros((n_atoms, 3))
    if not s.bond_coefficients:
        return 0.0, f
    x = r - s.bond_A
    c = np.asarray(s.bond_coefficients, dtype=float)
    v = sum(ck * x ** (k + 1) / (k + 1) for k, ck in enumerate(c))
    dv = sum(ck * x ** k for k, ck in enumerate(c))
    sw, dsw = _switch(r, s.switch_start_A, s.cutoff_A)
    g = (0.5 * (dv * sw + v * dsw))[:, None] * nl.vectors / r[:, None]  # each pair is listed twice
    np.add.at(f, nl.i, g)
    np.add.at(f, nl.j, -g)
    return float(0.5 * np.sum(v * sw)), f


def sheet_energy_forces(atoms, settings: PiBandSettings | None = None, *, sheet=None) -> tuple[float, np.ndarray]:
    """The whole baseline: π band plus the σ-bond term if ``settings.bond_coefficients`` (E [eV], F [eV/Å])."""
    s = (settings or PiBandSettings()).validate()
    e, f, idx, nl = _pi_terms(atoms, s, sheet)
    if len(idx) == 0 or not s.bond_coefficients:
        return e, f
    e_b, f_b = _bond_energy_forces(nl, nl.distances, len(idx), s)  # the π term's list: same sheet, same cutoff
    f[idx] += f_b
    if s.angle_coefficients:
        t, g = _angle_basis(nl, len(idx), s)
        c = np.asarray(s.angle_coefficients, dtype=float)
        e_b += float(t @ c)
        f[idx] += g @ c
    if s.flexural_coefficients:
        t, g = _flexural_basis(atoms.positions[idx], atoms.cell.array, atoms.pbc, s)
        c = np.asarray(s.flexural_coefficients, dtype=float)
        e_b += float(t @ c)
        f[idx] += g @ c
    if s.bending_eV_per_A2:
        h, fz = _bending(nl, len(idx), s.sheet_bond_A)
        e_b += 0.5 * s.bending_eV_per_A2 * float(np.sum(h ** 2))
        f[idx, 2] += s.bending_eV_per_A2 * fz
    return e + e_b, f


#: number of σ valence-angle terms (a_θθ, a_rθ, a_rr)
N_ANGLE_TERMS = 3
#: neighbour shells of the flexural force constants, in units of the bond length: the 1st … 5th
#: neighbour distances of the ideal honeycomb (1, √3, 2, √7, 3), and the edges between them
FLEXURAL_SHELLS = (1.0, 3 ** 0.5, 2.0, 7 ** 0.5, 3.0)
FLEXURAL_EDGES = (0.7, 1.366, 1.866, 2.323, 2.823, 3.232)
#: width [Å] over which k(r) switches from one shell's constant to the next
FLEXURAL_SWITCH_A = 0.1


def _triplets(nl):
    """Pairs (p, q), p < q, of neighbour-list rows that start at the same atom (the angles j–i–k)."""
    order = np.argsort(nl.i, kind="stable")
    counts = np.bincount(nl.i, minlength=int(nl.i.max()) + 1 if len(nl.i) else 0)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    P, Q = [], []
    for a in range(int(counts.max()) if len(counts) else 0):
        for b in range(a + 1, int(counts.max())):
            ok = counts > b
            P.append(order[starts[ok] + a])
            Q.append(order[starts[ok] + b])
    if not P:
        return np.zeros(0, int), np.zeros(0, int)
    return np.concatenate(P), np.concatenate(Q)


def _angle_basis(nl, n: int, s: PiBandSettings) -> tuple[np.ndarray, np.ndarray]:
    """The three σ valence-angle energies T_m [eV per unit coefficient] and their forces (n, 3, 3).

    T_0 = Σ w_j w_k x², T_1 = Σ w_j w_k (d_j + d_k) x, T_2 = Σ w_j w_k d_j d_k over the angles
    (i; j, k) of the sheet's bond list, x = cos θ + ½, d = r − bond_A, w the bond switch.
    Analytic: ∂cos θ/∂v_ij = (û_ik − cos θ û_ij)/r_ij, ∂r_ij/∂v_ij = û_ij.
    """
    P, Q = _triplets(nl)
    t = np.zeros(N_ANGLE_TERMS)
    forces = np.zeros((n, 3, N_ANGLE_TERMS))
    if len(P) == 0:
        return t, forces
    r = nl.distances
    u = nl.vectors / r[:, None]
    w, dw = _switch(r, s.switch_start_A, s.cutoff_A)
    d = r - s.bond_A
    cos = np.sum(u[P] * u[Q], axis=1)
    x = cos + 0.5
    ww = w[P] * w[Q]
    dsum = d[P] + d[Q]
    t[:] = [np.sum(ww * x * x), np.sum(ww * dsum * x), np.sum(ww * d[P] * d[Q])]
    # ∂T/∂r_p, ∂T/∂r_q and ∂T/∂cos per angle, one column per term
    dr_p = np.stack([dw[P] * w[Q] * x * x, dw[P] * w[Q] * dsum * x + ww * x,
                     dw[P] * w[Q] * d[P] * d[Q] + ww * d[Q]], 1)
    dr_q = np.stack([w[P] * dw[Q] * x * x, w[P] * dw[Q] * dsum * x + ww * x,
                     w[P] * dw[Q] * d[P] * d[Q] + ww * d[P]], 1)
    dcos = np.stack([2 * ww * x, ww * dsum, np.zeros_like(x)], 1)
    dcos_dvp = (u[Q] - cos[:, None] * u[P]) / r[P][:, None]
    dcos_dvq = (u[P] - cos[:, None] * u[Q]) / r[Q][:, None]
    g_p = dr_p[:, None, :] * u[P][:, :, None] + dcos[:, None, :] * dcos_dvp[:, :, None]  # dT/dv_p (A, 3, 3)
    g_q = dr_q[:, None, :] * u[Q][:, :, None] + dcos[:, None, :] * dcos_dvq[:, :, None]
    # v_p = R_j(+image) − R_i: dE/dR_j += dT/dv_p, dE/dR_i −= dT/dv_p; forces are −dE/dR
    np.add.at(forces, nl.j[P], -g_p)
    np.add.at(forces, nl.i[P], g_p)
    np.add.at(forces, nl.j[Q], -g_q)
    np.add.at(forces, nl.i[Q], g_q)
    return t, forces


def _smooth_step(x: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """0 for x ≤ −width/2, 1 for x ≥ width/2, cosine in between; and its derivative."""
    y = np.clip(x / width + 0.5, 0.0, 1.0)
    inside = (y > 0) & (y < 1)
    return 0.5 * (1.0 - np.cos(np.pi * y)), np.where(inside, 0.5 * np.pi / width * np.sin(np.pi * y), 0.0)


def _flexural_basis(positions, cell, pbc, s: PiBandSettings) -> tuple[np.ndarray, np.ndarray]:
    """Energies T_s = ¼ Σ_pairs B_s(r) (z_i − z_j)² per shell and their forces (n, 3, n_shells).

    B_s(r) = step(r − e_s) − step(r − e_{s+1}) with the edges :data:`FLEXURAL_EDGES` × bond_A:
    1 inside shell s, switched over :data:`FLEXURAL_SWITCH_A` at its edges, so E and F are
    continuous whatever the pair distances do. The list has both orders of each pair, hence ¼.
    """
    from .neighbours import neighbour_list

    n_s = len(s.flexural_coefficients) or len(FLEXURAL_SHELLS)
    n = len(positions)
    edges = np.asarray(FLEXURAL_EDGES[:n_s + 1]) * s.bond_A
    nl = neighbour_list(positions, cell, pbc, edges[-1] + FLEXURAL_SWITCH_A)
    r = nl.distances
    u = nl.vectors / r[:, None]
    dz = nl.vectors[:, 2]  # z_j − z_i (the sheet lies in the xy plane, as in every cell of this package)
    steps = [_smooth_step(r - e, FLEXURAL_SWITCH_A) for e in edges]
    t = np.zeros(n_s)
    forces = np.zeros((n, 3, n_s))
    for k in range(n_s):
        b = steps[k][0] - steps[k + 1][0]
        db = steps[k][1] - steps[k + 1][1]
        t[k] = 0.25 * np.sum(b * dz ** 2)
        # dT/dv (v = R_j − R_i): ¼ [db û dz² + 2 b dz ẑ]; each pair's two orders give the ½ back
        g = 0.25 * db[:, None] * dz[:, None] ** 2 * u
        g[:, 2] += 0.5 * b * dz
        np.add.at(forces[:, :, k], nl.j, -g)
        np.add.at(forces[:, :, k], nl.i, g)
    return t, forces


def _bending(nl, n: int, bond_A: float) -> tuple[np.ndarray, np.ndarray]:
    """Heights h_i = z_i − mean_j z_j over the bonded neighbours, and −∂(½ Σ h²)/∂z per atom."""
    bonded = nl.distances < bond_A
    i, j, dz = nl.i[bonded], nl.j[bonded], nl.vectors[bonded, 2]  # dz = z_j − z_i (with the image)
    count = np.maximum(np.bincount(i, minlength=n), 1)
    h = -np.bincount(i, weights=dz, minlength=n) / count
    grad = h.copy()
    np.add.at(grad, j, -h[i] / count[i])
    return h, -grad


def bending_force_column(atoms, sheet, settings: PiBandSettings) -> np.ndarray:
    """z force per unit k of the out-of-plane term on each sheet atom (for fitting)."""
    from .neighbours import neighbour_list

    nl = neighbour_list(atoms.positions[sheet], atoms.cell.array, atoms.pbc, settings.cutoff_A)
    return _bending(nl, len(sheet), settings.sheet_bond_A)[1]


def fit_bending(frames, predicted_forces, settings: PiBandSettings) -> tuple[PiBandSettings, dict]:
    """k of the out-of-plane term by least squares on the residual forces normal to the sheet,
    reference − ``predicted_forces`` (a trained model's, baseline included, for the same frames).
    Returns the settings with ``bending_eV_per_A2`` increased by the fit, and the RMS errors
    [meV/Å] before and after."""
    from dataclasses import replace

    s = settings.validate()
    x, y = [], []
    for a, f_pred in zip(frames, predicted_forces):
        sheet = sheet_carbons(a, s.sheet_bond_A)
        if len(sheet):
            x.append(bending_force_column(a, sheet, s))
            y.append((a.get_forces() - f_pred)[sheet, 2])
    if not x:
        raise InputError("no frame has a graphene sheet; the out-of-plane term cannot be fitted")
    x, y = np.concatenate(x), np.concatenate(y)
    k = float(x @ y / (x @ x))
    report = dict(n_frames=len(frames), fitted_eV_per_A2=k,
                  normal_force_rmse_before_meV_per_A=float(np.sqrt(np.mean(y ** 2)) * 1e3),
                  normal_force_rmse_after_meV_per_A=float(np.sqrt(np.mean((y - k * x) ** 2)) * 1e3))
    return replace(s, bending_eV_per_A2=s.bending_eV_per_A2 + k).validate(), report


def bond_force_columns(atoms, sheet, settings: PiBandSettings) -> np.ndarray:
    """(n_sheet, 3, K): the force of each bond-term coefficient c_k on the sheet atoms (for fitting)."""
    from .neighbours import neighbour_list

    nl = neighbour_list(atoms.positions[sheet], atoms.cell.array, atoms.pbc, settings.cutoff_A)
    u = nl.vectors / nl.distances[:, None]
    sw, _ = _switch(nl.distances, settings.switch_start_A, settings.cutoff_A)
    cols = np.zeros((len(sheet), 3, N_BOND_TERMS))
    for k in range(N_BOND_TERMS):
        np.add.at(cols[:, :, k], nl.i, ((nl.distances - settings.bond_A) ** k * sw)[:, None] * u)
    return cols


#: polynomial order + 1 of the fitted σ-bond term
N_BOND_TERMS = 4


def angle_force_columns(atoms, sheet, settings: PiBandSettings) -> np.ndarray:
    """(n_sheet, 3, N_ANGLE_TERMS): the force of each valence-angle coefficient on the sheet atoms (for fitting)."""
    from .neighbours import neighbour_list

    nl = neighbour_list(atoms.positions[sheet], atoms.cell.array, atoms.pbc, settings.cutoff_A)
    return _angle_basis(nl, len(sheet), settings)[1]


def _trimmed_lstsq(A_blocks, y_blocks, trim: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Least squares over frames (one block of rows each), refitted once without the frames whose
    residual RMS exceeds ``trim`` × the median frame's. Returns (coefficients, frames kept)."""
    A, y = np.concatenate(A_blocks), np.concatenate(y_blocks)
    c, *_ = np.linalg.lstsq(A, y, rcond=None)
    keep = np.ones(len(A_blocks), dtype=bool)
    if trim is not None:
        rms = np.array([np.sqrt(np.mean((yb - Ab @ c) ** 2)) for Ab, yb in zip(A_blocks, y_blocks)])
        keep = rms <= trim * np.median(rms)
        if not keep.all():
            c, *_ = np.linalg.lstsq(np.concatenate([b for b, k in zip(A_blocks, keep) if k]),
                                    np.concatenate([b for b, k in zip(y_blocks, keep) if k]), rcond=None)
    return c, keep


def fit_bond_terms(frames, settings: PiBandSettings | None = None, *, max_frames: int = 400,
                   seed: int = 0, angles: bool = False, trim: float | None = None) -> tuple[PiBandSettings, dict]:
    """Fit the σ-bond coefficients by least squares to the in-plane forces on the sheet carbons
    of labelled ``frames``, minus the π term (whose parameters are kept); with ``angles`` the
    valence-angle coefficients too, jointly.

    In-plane only: the sheet's forces normal to it come from the electrolyte and the field,
    which the network describes. Returns the settings with ``bond_coefficients`` (and
    ``angle_coefficients``) and a dict with the fit's RMS errors [meV/Å] (π only, π + the
    fitted terms) on the frames used.

    ``trim``: refit without the frames whose in-plane residual RMS exceeds ``trim`` × the median
    frame's. Frames where electrolyte atoms press into the sheet (the configurations active
    learning collects where ML-MD failed: median 180, worst 3,000 meV/Å after a fit that gives
    60 on ordinary frames) have in-plane sheet forces that are interaction, not σ framework,
    and would otherwise set the coefficients. None keeps every frame (the behaviour before).
    """
    s = (settings or PiBandSettings()).validate()
    with_sheet = [a for a in frames if len(sheet_carbons(a, s.sheet_bond_A))]
    if len(with_sheet) < 5:
        raise InputError(f"{len(with_sheet)} frames have a graphene sheet; fitting the bond term needs >= 5")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(with_sheet), size=min(max_frames, len(with_sheet)), replace=False)
    A, y = [], []
    for k in np.sort(pick):
        a = with_sheet[k]
        sheet = sheet_carbons(a, s.sheet_bond_A)
        cols = bond_force_columns(a, sheet, s)
        if angles:
            cols = np.concatenate([cols, angle_force_columns(a, sheet, s)], axis=2)
        A.append(cols[:, :2].reshape(-1, cols.shape[2]))
        y.append((a.get_forces() - pi_band_energy_forces(a, s, sheet=sheet)[1])[sheet][:, :2].ravel())
    c, keep = _trimmed_lstsq(A, y, trim)
    A, y = np.concatenate([b for b, k in zip(A, keep) if k]), np.concatenate([b for b, k in zip(y, keep) if k])
    ref = np.sqrt(np.mean((y + 0.0) ** 2))
    report = dict(n_frames=int(keep.sum()), n_frames_trimmed=int((~keep).sum()),
                  pi_only_rmse_meV_per_A=float(ref * 1e3),
                  pi_plus_bonds_rmse_meV_per_A=float(np.sqrt(np.mean((y - A @ c) ** 2)) * 1e3), angles=bool(angles),
                  trim=trim)
    from dataclasses import replace

    return replace(s, bond_coefficients=tuple(float(x) for x in c[:N_BOND_TERMS]),
                   angle_coefficients=tuple(float(x) for x in c[N_BOND_TERMS:])).validate(), report


def fit_flexural(frames, predicted_forces, settings: PiBandSettings, *,
                 trim: float | None = 3.0) -> tuple[PiBandSettings, dict]:
    """Flexural force constants k_s by least squares on the residual forces normal to the sheet,
    reference − ``predicted_forces`` (a trained model's, baseline included, for the same frames).

    Why: the sheet's normal forces track its corrugation through more than its nearest
    neighbours (the Γ-point metal again); a single ½ k Σ h² term left 290 meV/Å of them on
    held-out frames, the five-shell force-constant model of the ZA phonon branch (Wirtz & Rubio,
    Solid State Commun. 131, 141 (2004), fitted to graphene's flexural branch with four or five
    shells) is linear in its constants. Returns the settings with the fit added to
    ``flexural_coefficients`` and the RMS errors [meV/Å] before and after, on the frames kept
    (``trim`` as in :func:`fit_bond_terms`).
    """
    from dataclasses import replace

    s = settings.validate()
    n_s = len(FLEXURAL_SHELLS)
    full = replace(s, flexural_coefficients=(0.0,) * n_s)  # all shells, for the columns
    x, y = [], []
    for a, f_pred in zip(frames, predicted_forces):
        sheet = sheet_carbons(a, s.sheet_bond_A)
        if len(sheet):
            x.append(_flexural_basis(a.positions[sheet], a.cell.array, a.pbc, full)[1][:, 2, :])
            y.append((a.get_forces() - f_pred)[sheet, 2])
    if not x:
        raise InputError("no frame has a graphene sheet; the flexural terms cannot be fitted")
    k, keep = _trimmed_lstsq(x, y, trim)
    x, y = np.concatenate([b for b, m in zip(x, keep) if m]), np.concatenate([b for b, m in zip(y, keep) if m])
    old = np.zeros(n_s)
    old[:len(s.flexural_coefficients)] = s.flexural_coefficients
    report = dict(n_frames=int(keep.sum()), n_frames_trimmed=int((~keep).sum()), fitted_eV_per_A2=[float(v) for v in k],
                  normal_force_rmse_before_meV_per_A=float(np.sqrt(np.mean(y ** 2)) * 1e3),
                  normal_force_rmse_after_meV_per_A=float(np.sqrt(np.mean((y - x @ k) ** 2)) * 1e3))
    return replace(s, flexural_coefficients=tuple(float(v) for v in old + k)).validate(), report


def subtract_baseline(frames, settings: PiBandSettings) -> list:
    """Copies of labelled frames whose energy and forces are reference − baseline (for training)."""
    from ase.calculators.singlepoint import SinglePointCalculator

    out = []
    for a in frames:
        e_b, f_b = sheet_energy_forces(a, settings)
        b = a.copy()
        res = dict(a.calc.results)
        res["energy"] = float(a.get_potential_energy()) - e_b
        res["forces"] = a.get_forces() - f_b
        b.calc = SinglePointCalculator(b, **{k: v for k, v in res.items()
                                             if k in ("energy", "forces", "charges", "dipole", "stress")})
        b.info = dict(a.info)
        out.append(b)
    return out
