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

    def validate(self) -> "PiBandSettings":
        check_range("hopping_eV", self.hopping_eV, low=0.0, low_inclusive=False)
        check_range("decay_per_A", self.decay_per_A, low=0.0)
        check_range("bond_A", self.bond_A, low=0.5, high=3.0)
        check_range("electronic_temperature_K", self.electronic_temperature_K, low=1.0)
        if not 0.0 < self.switch_start_A < self.cutoff_A < 2.4:
            raise InputError(f"switch_start_A = {self.switch_start_A}, cutoff_A = {self.cutoff_A}: need "
                             "0 < switch_start_A < cutoff_A < 2.4 Å (nearest neighbours only)")
        return self

    def to_dict(self) -> dict:
        return dict(asdict(self), bond_coefficients=[float(c) for c in self.bond_coefficients],
                    kind="graphene_pi_gamma")

    @classmethod
    def from_dict(cls, d: dict) -> "PiBandSettings":
        kind = d.get("kind", "graphene_pi_gamma")
        if kind != "graphene_pi_gamma":
            raise InputError(f"baseline kind = {kind!r}; this package knows 'graphene_pi_gamma'")
        kw = {k: v for k, v in d.items() if k != "kind"}
        kw["bond_coefficients"] = tuple(float(c) for c in kw.get("bond_coefficients", ()))
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
    if s.bending_eV_per_A2:
        h, fz = _bending(nl, len(idx), s.sheet_bond_A)
        e_b += 0.5 * s.bending_eV_per_A2 * float(np.sum(h ** 2))
        f[idx, 2] += s.bending_eV_per_A2 * fz
    return e + e_b, f


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


def fit_bond_terms(frames, settings: PiBandSettings | None = None, *, max_frames: int = 400,
                   seed: int = 0) -> tuple[PiBandSettings, dict]:
    """Fit the σ-bond coefficients by least squares to the in-plane forces on the sheet carbons
    of labelled ``frames``, minus the π term (whose parameters are kept).

    In-plane only: the sheet's forces normal to it come from the electrolyte and the field,
    which the network describes. Returns the settings with ``bond_coefficients`` and a dict
    with the fit's RMS errors [meV/Å] (reference, π only, π + bonds) on the frames used.
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
        A.append(bond_force_columns(a, sheet, s)[:, :2].reshape(-1, N_BOND_TERMS))
        y.append((a.get_forces() - pi_band_energy_forces(a, s, sheet=sheet)[1])[sheet][:, :2].ravel())
    A, y = np.concatenate(A), np.concatenate(y)
    c, *_ = np.linalg.lstsq(A, y, rcond=None)
    ref = np.sqrt(np.mean((y + 0.0) ** 2))
    report = dict(n_frames=len(pick), pi_only_rmse_meV_per_A=float(ref * 1e3),
                  pi_plus_bonds_rmse_meV_per_A=float(np.sqrt(np.mean((y - A @ c) ** 2)) * 1e3))
    from dataclasses import replace

    return replace(s, bond_coefficients=tuple(float(x) for x in c)).validate(), report


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
