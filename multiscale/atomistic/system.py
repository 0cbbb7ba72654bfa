"""The embedded default interface: Li⁺/BF₄⁻ in ethylene carbonate on a graphene basal plane.

Geometry (ASE units, Å): a flat graphene sheet (C–C 1.42 Å, orthogonal 4-atom cell
2.46 × 4.261 Å) in the plane z = ``GRAPHENE_Z_A``, periodic in x and y; above it a film of
ethylene carbonate (EC, C₃H₄O₃) holding one or more LiBF₄ ion pairs, packed at the liquid
density of EC (1.32 g/cm³) with a 3.0 Å gap to the sheet; vacuum above the film. The cell is
periodic in all three directions for the reference code (tblite treats any periodic cell as
3-D), so the vacuum gap (≥ 14 Å) decouples the slab from its z-images; a uniform field
along +z then stands in for the electrode potential (the film is never cut by the z
boundary, so the field term −F·Σ qᵢzᵢ is well defined).

Why LiBF₄: BF₄⁻ is a common battery salt anion, small (5 atoms, so the ~80-atom training
cells stay cheap), closed-shell and well described by GFN1-xTB (B and F are parametrised,
no hypervalent P–F bonding as in PF₆⁻, and it does not react with EC as a bare F⁻ would).
EC and BF₄⁻ geometries are GFN1-xTB minima (computed once, stored here).
"""
from __future__ import annotations

import numpy as np
from ase import Atoms

from ..errors import InputError, ConvergenceError

GRAPHENE_A_A = 2.46  #: graphene lattice constant [Å]
GRAPHENE_Z_A = 2.0  #: height of the sheet in the cell [Å]
VACUUM_A = 16.0  #: vacuum above the film [Å]
GAP_A = 3.0  #: sheet-to-film gap [Å]
EC_DENSITY_G_CM3 = 1.32
MIN_DISTANCE_A = 1.9  #: closest intermolecular contact accepted when packing [Å]

_EC_SYMBOLS = ["C", "O", "C", "C", "O", "O", "H", "H", "H", "H"]
_EC_POSITIONS = np.array([
    [-0.0, 0.7731, -0.0], [-1.1047, -0.0029, -0.0], [-0.7715, -1.3753, 0.0],
    [0.7715, -1.3753, 0.0], [1.1047, -0.0029, 0.0], [0.0, 1.9569, -0.0],
    [-1.1902, -1.8502, 0.8947], [-1.1902, -1.8502, -0.8947], [1.1902, -1.8502, 0.8947],
    [1.1902, -1.8502, -0.8947],
])
_BF4_POSITIONS = np.array([
    [0.0, 0.0, 0.0], [0.8129, 0.8129, 0.8129], [-0.8129, -0.8129, 0.8129],
    [-0.8129, 0.8129, -0.8129], [0.8129, -0.8129, -0.8129],
])
_MASS_EC_G_MOL = 88.06
_MASS_LIBF4_G_MOL = 93.75
_AVOGADRO_A3 = 0.602214076  # N_A × 1e-24: (g/mol)/(g/cm³) → Å³ per molecule / this


def graphene_sheet(n_x: int, n_y: int, *, z_A: float = GRAPHENE_Z_A) -> Atoms:
    """An orthogonal ``n_x × n_y`` graphene supercell (4 C per 2.46 × 4.261 Å cell) at height z."""
    if int(n_x) < 1 or int(n_y) < 1:
        raise InputError(f"graphene supercell (n_x, n_y) = ({n_x}, {n_y}) must be >= 1 each")
    a = GRAPHENE_A_A
    b = a * np.sqrt(3.0)
    base = np.array([[0.0, 0.0], [a / 2, b / 6], [a / 2, b / 2], [0.0, 2 * b / 3]])
    pos = [[p[0] + i * a, p[1] + j * b, z_A] for i in range(n_x) for j in range(n_y) for p in base]
    return Atoms(f"C{len(pos)}", positions=pos, cell=[n_x * a, n_y * b, 1.0], pbc=True)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _min_dist_xy_periodic(new: np.ndarray, old: np.ndarray, lx: float, ly: float, lz: float | None = None) -> float:
    """Closest contact between two point sets, minimum image in x, y (and z when ``lz`` is given)."""
    if len(old) == 0:
        return np.inf
    d = new[:, None, :] - old[None, :, :]
    for k, length in enumerate((lx, ly, lz)):
        if length is not None:
            d[..., k] -= length * np.round(d[..., k] / length)
    return float(np.sqrt((d**2).sum(-1)).min())


def build_interface(
    n_x: int = 4,
    n_y: int = 2,
    *,
    n_ec: int = 4,
    n_salt: int = 1,
    seed: int = 0,
    max_tries: int = 20000,
) -> Atoms:
    """Graphene (n_x × n_y orthogonal cells) + ``n_ec`` EC + ``n_salt`` LiBF₄, random packing.

    The film height h follows from the EC liquid density: h = Σ V_molecule / (L_x L_y).
    Molecules get uniform random orientations and centres; a placement is rejected when
    any atom comes closer than ``MIN_DISTANCE_A`` to an already placed atom (minimum image in
    x, y) or leaves the slab [z_sheet + gap, z_sheet + gap + h]. Atom tags: 0 graphene,
    1.. molecule index; ``atoms.info`` records the composition.
    """
    if int(n_ec) < 0 or int(n_salt) < 0:
        raise InputError(f"n_ec = {n_ec}, n_salt = {n_salt} must be >= 0")
    rng = np.random.default_rng(seed)
    sheet = graphene_sheet(n_x, n_y)
    lx, ly = sheet.cell[0, 0], sheet.cell[1, 1]
    volume_A3 = (n_ec * _MASS_EC_G_MOL + n_salt * _MASS_LIBF4_G_MOL) / (EC_DENSITY_G_CM3 * _AVOGADRO_A3)
    height_A = max(volume_A3 / (lx * ly), 4.0)
    molecules = _molecules(n_ec, n_salt)
    # random sequential packing; if it jams, the film is made 10 % thicker and packing restarts
    for expansion in (1.0, 1.1, 1.2, 1.35, 1.5):
        packed = _pack(molecules, rng, lx, ly, GRAPHENE_Z_A + GAP_A, height_A * expansion, max_tries)
        if packed is not None:
            break
    else:
        raise ConvergenceError(
            f"could not pack {n_ec} EC + {n_salt} LiBF4 on a {n_x}x{n_y} graphene sheet "
            f"in {max_tries} tries; use fewer molecules or a larger sheet"
        )
    symbols = list(sheet.get_chemical_symbols())
    positions = [p for p in sheet.positions]
    tags = [0] * len(sheet)
    charges = [0.0] * len(sheet)
    for k, ((syms, _), trial) in enumerate(zip(molecules, packed), start=1):
        symbols += syms
        positions += list(trial)
        tags += [k] * len(syms)
        charges += [1.0] if syms == ["Li"] else ([-1.0] + [0.0] * 4 if syms[0] == "B" else [0.0] * len(syms))
    top = max(p[2] for p in positions)
    atoms = Atoms(symbols, positions=positions, cell=[lx, ly, top + VACUUM_A], pbc=True, tags=tags)
    atoms.set_initial_charges(charges)  # formal charges; the total (0) is what the reference uses
    atoms.wrap()
    atoms.info.update(system="LiBF4/EC/graphene", n_ec=int(n_ec), n_salt=int(n_salt), seed=int(seed))
    return atoms


def salt_concentration_mol_L(atoms: Atoms) -> float:
    """LiBF₄ concentration of a bulk electrolyte cell, mol/L (number of Li / cell volume)."""
    n_li = int((atoms.numbers == 3).sum())
    return n_li / (abs(np.linalg.det(np.array(atoms.cell))) * _AVOGADRO_A3) * 1000.0


def build_bulk_electrolyte(n_ec: int = 5, n_salt: int = 1, *, seed: int = 0, max_tries: int = 20000) -> Atoms:
    """Bulk LiBF₄/EC: ``n_ec`` EC + ``n_salt`` LiBF₄ in a cubic cell, periodic in x, y and z.

    The edge follows from the same volume rule as the interface film (each molecule takes
    mass/ρ with ρ the liquid density of EC, 1.32 g/cm³), so 5 EC + 1 LiBF₄ is a 8.7 Å cube at
    about 2.5 mol/L and 26 EC + 2 LiBF₄ a 14.6 Å cube at about 1.1 mol/L
    (:func:`salt_concentration_mol_L`). Random orientations and centres with a minimum image
    contact of ``MIN_DISTANCE_A`` in all three directions. No field: the bulk has no electrode.
    """
    if int(n_ec) < 0 or int(n_salt) < 0 or int(n_ec) + int(n_salt) < 1:
        raise InputError(f"n_ec = {n_ec}, n_salt = {n_salt} must be >= 0 with at least one molecule")
    rng = np.random.default_rng(seed)
    volume_A3 = (n_ec * _MASS_EC_G_MOL + n_salt * _MASS_LIBF4_G_MOL) / (EC_DENSITY_G_CM3 * _AVOGADRO_A3)
    molecules = _molecules(n_ec, n_salt)
    for expansion in (1.0, 1.05, 1.1, 1.2):
        edge = (volume_A3 * expansion) ** (1.0 / 3.0)
        packed = _pack(molecules, rng, edge, edge, 0.0, edge, max_tries, periodic_z=True)
        if packed is not None:
            break
    else:
        raise ConvergenceError(f"could not pack {n_ec} EC + {n_salt} LiBF4 in a periodic cube in {max_tries} tries")
    symbols, positions, tags, charges = [], [], [], []
    for k, ((syms, _), trial) in enumerate(zip(molecules, packed), start=1):
        symbols += syms
        positions += list(trial)
        tags += [k] * len(syms)
        charges += [1.0] if syms == ["Li"] else ([-1.0] + [0.0] * 4 if syms[0] == "B" else [0.0] * len(syms))
    atoms = Atoms(symbols, positions=positions, cell=[edge, edge, edge], pbc=True, tags=tags)
    atoms.set_initial_charges(charges)
    atoms.wrap()
    atoms.info.update(system="LiBF4/EC bulk", n_ec=int(n_ec), n_salt=int(n_salt), seed=int(seed))
    return atoms


def _molecules(n_ec: int, n_salt: int) -> list[tuple[list[str], np.ndarray]]:
    molecules: list[tuple[list[str], np.ndarray]] = []
    for _ in range(n_salt):
        molecules.append((["Li"], np.zeros((1, 3))))
        molecules.append((["B", "F", "F", "F", "F"], _BF4_POSITIONS))
    for _ in range(n_ec):
        molecules.append((_EC_SYMBOLS, _EC_POSITIONS))
    return molecules


def default_system(seed: int = 0, *, size: str = "train") -> Atoms:
    """The embedded default interface system, a fresh random packing per ``seed``.

    ``size="train"`` (default): 3×2 graphene cell (24 C, 7.38 × 8.52 Å), 3 EC, 1 LiBF₄ —
    60 atoms, the cell the shipped labels were computed on (a 78-atom 4×2 cell with 4 EC took
    ~3 s per GFN1-xTB call here, too slow for the labelling budget). ``size="md"``: 8×4 cell (128 C, 19.7 × 17.0 Å), 16 EC,
    2 LiBF₄ — 300 atoms, for ML-MD. Field along +z, normal to the electrode.
    """
    if size == "train":
        return build_interface(3, 2, n_ec=3, n_salt=1, seed=seed)
    if size == "md":
        return build_interface(8, 4, n_ec=16, n_salt=2, seed=seed)
    raise InputError(f"size = {size!r} must be one of ['train', 'md']")


#: C–C distance [Å] below which carbons count as bonded when the sheet is identified
#: (as :class:`multiscale.atomistic.pi_electrons.PiBandSettings` ``sheet_bond_A``)
SHEET_BOND_A = 1.8


def sheet_mask(numbers, i, j, distances, bond_A: float = SHEET_BOND_A) -> np.ndarray:
    """Carbons with at least three carbon neighbours closer than ``bond_A``, from a pair list with
    both orders of every pair (an EC carbon has two at most)."""
    numbers = np.asarray(numbers)
    cc = (numbers[i] == 6) & (numbers[j] == 6) & (distances < bond_A)
    return (numbers == 6) & (np.bincount(i[cc], minlength=len(numbers)) >= 3)


def electrode_atoms(atoms: Atoms, *, bond_A: float | None = None) -> np.ndarray:
    """Boolean mask of the graphene electrode: carbons with at least three carbon neighbours
    within ``bond_A`` (default :data:`SHEET_BOND_A`, 1.8 Å).

    Found from the geometry, not from tags (ASE's default tag is 0 for every atom), so it works
    on any frame: in ethylene carbonate no carbon has more than one carbon neighbour. At least
    three, within 1.8 Å: the earlier rule (exactly three within 1.6 Å) lost sheet carbons of hot,
    distorted sheets (1 of 392 hot frames, 11 of 300 active-learning frames) and a sheet carbon
    that an EC carbon touches (19 of 1,500 active-learning rows). One rule for the sheet
    everywhere: freezing, the electrode loss weight, the π baseline and the model's graph.
    """
    from .neighbours import neighbour_list

    bond_A = SHEET_BOND_A if bond_A is None else float(bond_A)
    nl = neighbour_list(atoms.positions, atoms.cell, atoms.pbc, bond_A)
    return sheet_mask(atoms.numbers, nl.i, nl.j, nl.distances, bond_A)


def freeze_electrode(atoms: Atoms) -> int:
    """Hold the graphene electrode fixed (``ase.constraints.FixAtoms``); returns the number frozen.

    The electrode is rigid in ML-MD, as in constant-potential electrode MD: the GFN-xTB sheet of
    the small training cell is metallic and its forces are not local, so the potential does not
    learn them (see the model card); its interaction with the electrolyte it does learn.
    Existing constraints are kept.
    """
    from ase.constraints import FixAtoms

    mask = electrode_atoms(atoms)
    if mask.any():
        atoms.set_constraint(list(atoms.constraints) + [FixAtoms(mask=mask)])
    return int(mask.sum())


def _pack(molecules, rng, lx, ly, z_lo, height_A, max_tries, *, periodic_z: bool = False):
    """Place rigid molecules one by one (random orientation and centre); None if it jams.

    ``periodic_z``: the cell is periodic along z too (bulk): centres anywhere in [z_lo, z_lo +
    height_A), contacts by minimum image in z.
    """
    z_hi = z_lo + height_A
    placed = np.empty((0, 3))
    out = []
    tries = 0
    for _, local in molecules:
        while True:
            tries += 1
            if tries > max_tries:
                return None
            xyz = local @ _random_rotation(rng).T
            if periodic_z:
                trial = xyz - xyz.mean(0) + rng.uniform(0, 1, 3) * [lx, ly, height_A] + [0, 0, z_lo]
                if _min_dist_xy_periodic(trial, placed, lx, ly, height_A) >= MIN_DISTANCE_A:
                    break
                continue
            span = xyz[:, 2].max() - xyz[:, 2].min()
            lo = z_lo - xyz[:, 2].min()
            hi = max(lo, z_hi - xyz[:, 2].max()) if span < height_A else lo + 0.5
            centre = np.array([rng.uniform(0, lx), rng.uniform(0, ly), rng.uniform(lo, hi)])
            trial = xyz + centre
            if _min_dist_xy_periodic(trial, placed, lx, ly) >= MIN_DISTANCE_A:
                break
        placed = np.vstack([placed, trial])
        out.append(trial)
    return out
