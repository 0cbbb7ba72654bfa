"""The validation protocol of the ML potential against its reference.

1. Accuracy on held-out data, per field: energy RMSE [meV/atom], force RMSE [meV/Å], charge
   RMSE [e] and dipole RMSE [e·Å] for every field value (including one never trained on); and
   with 95 % intervals that resample whole packings (:func:`errors_by_packing`: the frames of
   one packing share most of their energy error, so packings, not frames, are the samples).
2. Structure: radial distribution functions g_AB(r) (Li–O carbonyl, Li–F of BF₄⁻) from ML-MD
   versus reference MD at the same field and temperature: first-peak position and height, and
   the coordination number CN(r_min) = ⟨#B within r_min of A⟩, with r_min the first minimum of
   the reference g(r). g(r) is normalised to the mean density of B in the cell (peak positions
   and CN do not depend on that choice). A first shell of one Li⁺ holds a few hundred distances
   per picosecond, so the peak is also placed on the Gaussian-broadened g(r)
   (:func:`smoothed_first_peak`) with a jackknife error over trajectories or time blocks
   (:func:`compare_first_shells`, the CN too): a difference is only resolved where its
   interval is narrower than it.
3. Response: E(F) on fixed configurations, ML vs reference, fitted to the Stark form
   E(F) = E(0) − μF − ½αF² (μ in e·Å, α in e·Å²/V); induced dipole μ(F) − μ(0).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, check_range
from .graph import build_graph, collate
from .neighbours import neighbour_list


def predict_frames(ensemble, frames, *, batch_size: int = 8) -> list[dict]:
    """Ensemble predictions for labelled frames (field from ``atoms.info['field_V_per_A']``),
    the ensemble's baseline (if any) included."""
    el = ensemble.members[0].elements
    out = []
    for b in range(0, len(frames), batch_size):
        chunk = frames[b:b + batch_size]
        graphs = [build_graph(a, el, ensemble.cutoff_A, ensemble.angular_cutoff_A,
                              field_V_per_A=float(a.info.get("field_V_per_A", 0)), total_charge=0.0) for a in chunk]
        batch = collate(graphs, requires_grad=False)
        r = ensemble(batch)
        n0 = 0
        for k, a in enumerate(chunk):
            n = len(a)
            e_b, f_b = ensemble.baseline_energy_forces(a)
            out.append(dict(energy=float(r["energy"][k]) + e_b, forces=r["forces"][n0:n0 + n].numpy() + f_b,
                            charges=r["charges"][n0:n0 + n].numpy(), dipole_z=float(r["dipole_z"][k]),
                            sigma_f=r["force_uncertainty"][n0:n0 + n].numpy()))
            n0 += n
    return out


def _predictions(ensemble, frames, predictions) -> list[dict]:
    """``predictions`` (from :func:`predict_frames` on the same ``frames``) checked, or a fresh prediction.

    Why: a benchmark reports several statistics of one held-out set; predicting it once per
    statistic ran the ensemble three times over the same frames.
    """
    if not frames:
        raise InputError("frames is empty; nothing to evaluate")
    if predictions is None:
        return predict_frames(ensemble, frames)
    if len(predictions) != len(frames):
        raise InputError(f"predictions has {len(predictions)} entries for {len(frames)} frames; pass "
                         "predict_frames(ensemble, frames) for the same frames, or None")
    for k, (p, a) in enumerate(zip(predictions, frames)):
        if len(p["forces"]) != len(a):
            raise InputError(f"predictions[{k}] has forces for {len(p['forces'])} atoms, frames[{k}] has {len(a)}; "
                             "the predictions are not of these frames")
    return list(predictions)


def errors_by_field(ensemble, frames, *, predictions=None) -> dict:
    """RMSEs per field value: {field: {n, energy_meV_per_atom, force_meV_per_A, charge_e, dipole_eA}}.

    ``predictions``: :func:`predict_frames` of ``ensemble`` on these ``frames``, when the caller
    has them already (the ensemble is then not run); the same for the other error functions here.
    """
    from .training import dipole_defined

    pred = _predictions(ensemble, frames, predictions)
    groups: dict[float, list[int]] = {}
    for k, a in enumerate(frames):
        groups.setdefault(round(float(a.info.get("field_V_per_A", 0.0)), 4), []).append(k)
    res = {}
    for f, idx in sorted(groups.items()):
        de = [(pred[k]["energy"] - frames[k].get_potential_energy()) / len(frames[k]) for k in idx]
        df = np.concatenate([(pred[k]["forces"] - frames[k].get_forces()).ravel() for k in idx])
        dq = np.concatenate([pred[k]["charges"] - frames[k].calc.results["charges"] for k in idx])
        # z dipoles of cells filled along z (bulk) depend on the wrapping: not compared (NaN)
        dm = [pred[k]["dipole_z"] - frames[k].calc.results["dipole"][2] for k in idx if dipole_defined(frames[k])]
        sig = np.concatenate([pred[k]["sigma_f"] for k in idx])
        res[f] = dict(n=len(idx), energy_meV_per_atom=float(np.sqrt(np.mean(np.square(de))) * 1e3),
                      force_meV_per_A=float(np.sqrt(np.mean(df**2)) * 1e3),
                      charge_e=float(np.sqrt(np.mean(dq**2))),
                      dipole_eA=float(np.sqrt(np.mean(np.square(dm)))) if dm else float("nan"),
                      mean_sigma_f_meV_per_A=float(sig.mean() * 1e3))
    return res


def packing_statistics(energy_error_per_atom, force_sq_error_sum, force_n_components, packings, *,
                       n_bootstrap: int = 2000, seed: int = 0) -> dict:
    """Energy and force RMSEs with intervals that treat each packing as one sample.

    Frames of one packing (one reference trajectory from one random arrangement of molecules)
    share most of their error: a held-out energy RMSE over four packings is four numbers, not
    320. The interval resamples whole packings with replacement (percentile bootstrap, 95 %).

    Per frame: ``energy_error_per_atom`` (ML − reference) [any energy unit per atom],
    ``force_sq_error_sum`` Σ (ΔF)² over its force components and ``force_n_components`` their
    number; ``packings`` the packing label of each frame. Returns ``energy_rmse``,
    ``energy_rmse_interval``, ``offset_rms`` (the RMS over packings of each packing's mean
    energy error: the part of the energy error that is one constant per packing),
    ``force_rmse``, ``force_rmse_interval`` and ``n_packings``, in the units given.
    """
    de = np.asarray(energy_error_per_atom, dtype=float)
    fs = np.asarray(force_sq_error_sum, dtype=float)
    fn = np.asarray(force_n_components, dtype=float)
    labels = np.asarray(packings)
    if not (len(de) == len(fs) == len(fn) == len(labels)) or len(de) == 0:
        raise InputError(f"energy_error_per_atom, force_sq_error_sum, force_n_components and packings must be "
                         f"non-empty and of one length (got {len(de)}, {len(fs)}, {len(fn)}, {len(labels)})")
    if np.any(fn <= 0):
        raise InputError("force_n_components must be positive for every frame")
    n_bootstrap = int(check_range("n_bootstrap", n_bootstrap, low=100, high=1_000_000))
    names, inverse = np.unique(labels, return_inverse=True)
    n_p = len(names)
    # per-packing sums: Σ de², n frames, Σ de, Σ (ΔF)², n components
    sums = np.zeros((n_p, 5))
    for col, v in enumerate((de**2, np.ones_like(de), de, fs, fn)):
        np.add.at(sums[:, col], inverse, v)

    def rmses(weights):  # weights: how often each packing is drawn
        s = weights @ sums
        return np.sqrt(s[0] / s[1]), np.sqrt(s[3] / s[4])

    e_rmse, f_rmse = rmses(np.ones(n_p))
    rng = np.random.default_rng(seed)
    draws = np.stack([np.bincount(rng.integers(0, n_p, n_p), minlength=n_p) for _ in range(n_bootstrap)])
    boot = np.array([rmses(w) for w in draws.astype(float)])
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    return dict(n_packings=n_p, n_frames=len(de), energy_rmse=float(e_rmse),
                energy_rmse_interval=[float(lo[0]), float(hi[0])],
                offset_rms=float(np.sqrt(np.mean((sums[:, 2] / sums[:, 1]) ** 2))),
                force_rmse=float(f_rmse), force_rmse_interval=[float(lo[1]), float(hi[1])])


def errors_by_packing(ensemble, frames, *, n_bootstrap: int = 2000, seed: int = 0, predictions=None) -> dict:
    """:func:`packing_statistics` of an ensemble on labelled frames, packings from
    ``info['seed']`` (else ``info['task']``): energies in meV/atom, forces in meV/Å (keys with
    those suffixes). ``predictions`` as in :func:`errors_by_field`."""
    pred = _predictions(ensemble, frames, predictions)
    de = [(p["energy"] - a.get_potential_energy()) / len(a) * 1e3 for p, a in zip(pred, frames)]
    fs = [float(np.sum((1e3 * (p["forces"] - a.get_forces())) ** 2)) for p, a in zip(pred, frames)]
    fn = [3 * len(a) for a in frames]
    packs = [str(a.info.get("seed", a.info.get("task", ""))) for a in frames]
    s = packing_statistics(de, fs, fn, packs, n_bootstrap=n_bootstrap, seed=seed)
    return dict(n_packings=s["n_packings"], n_frames=s["n_frames"],
                energy_meV_per_atom=s["energy_rmse"], energy_interval_meV_per_atom=s["energy_rmse_interval"],
                offset_rms_meV_per_atom=s["offset_rms"],
                force_meV_per_A=s["force_rmse"], force_interval_meV_per_A=s["force_rmse_interval"])


def chemical_roles(atoms, *, bond_A: float = 1.6) -> list[str]:
    """A label per atom that separates atoms of one element by their bonding, for error breakdowns.

    From the bonds within ``bond_A``: ``C_graphene`` (three C neighbours), ``C_carbonyl`` (three O
    neighbours: the C of EC's C=O), ``O_carbonyl`` (one neighbour, a C: what
    :func:`carbonyl_oxygens` selects); every other atom keeps its element symbol (EC's CH₂ carbons ``C``,
    its ring oxygens ``O``, ``H``, ``Li``, ``B``, ``F``).
    """
    from ase.data import chemical_symbols

    check_range("bond_A", bond_A, low=0.5, high=2.5)
    z = atoms.numbers
    nl = neighbour_list(atoms.positions, atoms.cell, atoms.pbc, bond_A)
    labels = [chemical_symbols[x] for x in z]
    for a in np.nonzero((z == 6) | (z == 8))[0]:
        nb = z[nl.j[nl.i == a]]
        if z[a] == 6 and np.sum(nb == 6) == 3:
            labels[a] = "C_graphene"
        elif z[a] == 6 and np.sum(nb == 8) == 3:
            labels[a] = "C_carbonyl"
        elif z[a] == 8 and len(nb) == 1 and nb[0] == 6:
            labels[a] = "O_carbonyl"
    return labels


def force_errors_by_element(ensemble, frames, *, predictions=None, by: str = "element") -> dict:
    """Force RMSE per element [meV/Å] (and the reference force RMS), graphene carbon apart from molecular carbon.

    Graphene carbons are those with three carbon neighbours within 1.6 Å. Keys: element symbols,
    ``C_graphene``; values ``{"rmse_meV_per_A", "reference_rms_meV_per_A", "n_atoms",
    "share_of_squared_error"}`` (the label's fraction of the set's summed squared force error).
    ``by="role"`` splits further by :func:`chemical_roles` (``C_carbonyl``, ``O_carbonyl``).
    ``predictions`` as in :func:`errors_by_field`.
    """
    if by not in ("element", "role"):
        raise InputError(f"by = {by!r} must be 'element' or 'role'")
    pred = _predictions(ensemble, frames, predictions)
    err: dict[str, list] = {}
    ref: dict[str, list] = {}
    for k, a in enumerate(frames):
        labels = chemical_roles(a)
        if by == "element":
            labels = [lab if lab == "C_graphene" else lab.split("_")[0] for lab in labels]
        d = pred[k]["forces"] - a.get_forces()
        for i, lab in enumerate(labels):
            err.setdefault(lab, []).append(d[i])
            ref.setdefault(lab, []).append(a.get_forces()[i])
    total = sum(float(np.sum(np.square(v))) for v in err.values())
    return {lab: dict(rmse_meV_per_A=float(np.sqrt(np.mean(np.square(err[lab]))) * 1e3),
                      reference_rms_meV_per_A=float(np.sqrt(np.mean(np.square(ref[lab]))) * 1e3),
                      n_atoms=len(err[lab]),
                      share_of_squared_error=float(np.sum(np.square(err[lab])) / total) if total > 0 else 0.0)
            for lab in sorted(err)}


def pooled_force_rmse(by_element: dict, *, exclude=("C_graphene",)) -> float:
    """Force RMSE [meV/Å] over the atoms of ``by_element`` (from :func:`force_errors_by_element`) not in ``exclude``.

    The default leaves out the graphene sheet, which ML-MD holds rigid
    (:func:`multiscale.atomistic.system.freeze_electrode`): the result is the error on the atoms
    whose forces drive the dynamics. ``exclude=()`` gives the all-atom RMSE back.
    """
    kept = {k: v for k, v in by_element.items() if k not in set(exclude)}
    if not kept:
        raise InputError(f"by_element has no atoms outside exclude = {tuple(exclude)}; keys: {sorted(by_element)}")
    n = sum(v["n_atoms"] for v in kept.values())
    return float(np.sqrt(sum(v["n_atoms"] * v["rmse_meV_per_A"] ** 2 for v in kept.values()) / n))


def reference_nonlocality(atoms, calculator, centre: int, *, radius_A: float = 11.5, probe_radius_A: float = 1.5,
                          amplitude_A: float = 0.05, seed: int = 0, forces0=None) -> dict:
    """How much the reference forces near ``centre`` depend on atoms far away.

    Every atom farther than ``radius_A`` from atom ``centre`` (minimum image) is displaced by a
    random Gaussian ``amplitude_A`` per component; the forces on the atoms within
    ``probe_radius_A`` of the centre are recomputed. An energy model with cutoff r_c has forces of
    range 2 r_c (through its neighbours' energies), so with ``radius_A − probe_radius_A`` ≥ 2 r_c
    it predicts ΔF = 0 exactly: the measured |ΔF| is reference physics (long-range
    electrostatics, charge transfer, a metallic electrode's response) that it cannot represent.
    ``forces0``: the unperturbed reference forces if already computed. Returns
    ``{"n_far", "n_probe", "elements", "delta_force_meV_per_A" (per probe atom), "rms_meV_per_A"}``.
    """
    check_range("radius_A", radius_A, low=0.0, low_inclusive=False)
    check_range("probe_radius_A", probe_radius_A, low=0.0, high=radius_A)
    check_range("amplitude_A", amplitude_A, low=0.0, low_inclusive=False)
    d = atoms.get_distances(int(centre), np.arange(len(atoms)), mic=True)
    far = np.nonzero(d > radius_A)[0]
    probe = np.nonzero(d <= probe_radius_A)[0]
    if len(far) == 0:
        raise InputError(f"no atom is farther than radius_A = {radius_A} Å from atom {centre}; use a larger cell")
    if forces0 is None:
        base = atoms.copy()
        base.calc = calculator
        forces0 = base.get_forces()
    moved = atoms.copy()
    moved.positions[far] += np.random.default_rng(seed).normal(0.0, amplitude_A, (len(far), 3))
    moved.calc = calculator
    df = np.linalg.norm(moved.get_forces()[probe] - np.asarray(forces0)[probe], axis=1) * 1e3
    return {"n_far": int(len(far)), "n_probe": int(len(probe)),
            "elements": [atoms.get_chemical_symbols()[i] for i in probe],
            "delta_force_meV_per_A": df.tolist(), "rms_meV_per_A": float(np.sqrt(np.mean(df**2)))}


def molecules(atoms, *, bond_A: float = 1.7) -> np.ndarray:
    """Molecule index per atom: connected components of bonds shorter than ``bond_A`` (minimum
    image). The graphene sheet (:func:`~multiscale.atomistic.system.electrode_atoms`) is label −1
    and Li⁺ is never bonded (each ion its own molecule)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from .system import electrode_atoms

    check_range("bond_A", bond_A, low=0.5, high=3.0)
    sheet = electrode_atoms(atoms)
    nl = neighbour_list(atoms.positions, atoms.cell, atoms.pbc, bond_A)
    free = ~sheet & (atoms.numbers != 3)
    keep = free[nl.i] & free[nl.j]
    n = len(atoms)
    graph = coo_matrix((np.ones(int(keep.sum())), (nl.i[keep], nl.j[keep])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    _, label = np.unique(label, return_inverse=True)  # 0, 1, ... with the sheet's components included
    out = np.full(n, -1, dtype=int)
    _, out[~sheet] = np.unique(label[~sheet], return_inverse=True)
    return out


def move_far_molecules(atoms, centre: int, *, radius_A: float, amplitude_A: float, seed: int = 0):
    """A copy of ``atoms`` in which every molecule (:func:`molecules`) whose atoms are all farther
    than ``radius_A`` from atom ``centre`` (minimum image) is translated rigidly by a random
    Gaussian ``amplitude_A`` per component; the sheet and everything nearer stay. Bonds are kept:
    it is a change of the far solvent's configuration, not a distortion. Returns (copy, indices of
    the moved molecules)."""
    check_range("amplitude_A", amplitude_A, low=0.0, low_inclusive=False, high=5.0)
    label, far = _far_molecules(atoms, centre, radius_A)
    moved = atoms.copy()
    rng = np.random.default_rng(seed)
    for m in far:
        moved.positions[label == m] += rng.normal(0.0, amplitude_A, 3)
    return moved, far


def _far_molecules(atoms, centre: int, radius_A: float) -> tuple[np.ndarray, list]:
    """(:func:`molecules` labels, the molecules whose atoms are all farther than ``radius_A`` from
    atom ``centre``, minimum image)."""
    check_range("radius_A", radius_A, low=0.0, low_inclusive=False)
    label = molecules(atoms)
    d = atoms.get_distances(int(centre), np.arange(len(atoms)), mic=True)
    return label, [m for m in range(label.max() + 1) if np.all(d[label == m] > radius_A)]


def rotate_far_molecules(atoms, centre: int, *, radius_A: float, seed: int = 0, min_contact_A: float = 2.0,
                         tries: int = 100, max_angle_deg: float = 180.0):
    """A copy of ``atoms`` in which every molecule whose atoms are all farther than ``radius_A`` from
    atom ``centre`` is turned about its centroid by a random rotation (uniform over all rotations
    for ``max_angle_deg`` = 180; otherwise about a uniformly random axis by an angle uniform in
    [−``max_angle_deg``, ``max_angle_deg``], a libration rather than a redraw); the sheet and
    everything nearer stay, and so do the far molecules' centroids. Where :func:`move_far_molecules`
    nudges the far solvent, this redraws its orientations, and so the dipoles whose fields reach the
    centre.

    A rotation is kept only if every atom of the molecule stays farther than ``radius_A`` from the
    centre (a turn about the centroid swings the far side of a molecule nearer) and none comes
    closer to another molecule, the sheet or an ion than ``min_contact_A`` (or than the molecule's
    closest contact before, if that was closer); up to ``tries`` rotations are drawn, else the
    molecule stays as it was. Molecules are turned one after another, each checked against the
    others as they are by then. Single atoms (Li⁺) have nothing to turn. Returns (copy, indices of the turned molecules, indices of those
    left as they were for want of room)."""
    from ase.geometry import get_distances
    from scipy.spatial.transform import Rotation

    check_range("min_contact_A", min_contact_A, low=0.5, high=4.0)
    check_range("tries", tries, low=1, high=10000)
    check_range("max_angle_deg", max_angle_deg, low=0.0, low_inclusive=False, high=180.0)
    rng = np.random.default_rng(seed)

    def draw():
        if max_angle_deg >= 180.0:
            return Rotation.random(random_state=rng)
        axis = rng.normal(size=3)
        angle = np.deg2rad(rng.uniform(-max_angle_deg, max_angle_deg))
        return Rotation.from_rotvec(angle * axis / np.linalg.norm(axis))

    label, far = _far_molecules(atoms, centre, radius_A)
    moved = atoms.copy()
    turned, crowded = [], []
    for m in far:
        members = np.flatnonzero(label == m)
        if len(members) < 2:
            continue
        others = np.flatnonzero(label != m)
        # the molecule made whole across the periodic boundary, about its centroid
        rel = moved.get_distances(members[0], members, mic=True, vector=True)
        local = rel - rel.mean(0)
        centroid = moved.positions[members[0]] + rel.mean(0)

        def closest(positions):
            """(closest approach to another atom, to the centre) with the molecule at ``positions``."""
            _, to_others = get_distances(positions, moved.positions[others], cell=moved.cell, pbc=moved.pbc)
            _, to_centre = get_distances(moved.positions[int(centre)], positions, cell=moved.cell, pbc=moved.pbc)
            return to_others.min(), to_centre.min()

        floor = min(min_contact_A, closest(moved.positions[members])[0])
        for _ in range(int(tries)):
            candidate = centroid + draw().apply(local)
            contact, from_centre = closest(candidate)
            if contact >= floor and from_centre > radius_A:
                moved.positions[members] = candidate
                turned.append(m)
                break
        else:
            crowded.append(m)
    return moved, turned, crowded


def _model_databases(calc) -> list[Path]:
    """The label databases a loaded potential was trained on (``calc.info["dataset"]``: a path or a
    list, relative to the data folder if not found as given)."""
    from ..resources import data_path

    dbs = (calc.info or {}).get("dataset") or []
    if isinstance(dbs, str):
        dbs = [dbs]
    out = []
    for db in dbs:
        path = Path(db)
        if not path.is_file():
            parts = path.parts
            path = data_path(*parts[parts.index("data") + 1:]) if "data" in parts else path
        out.append(path)
    return out


def _validation_ids(calc) -> set:
    return set((calc.info or {}).get("history", {}).get("validation_config_ids", []))


def validation_frames(calc) -> list:
    """The configurations a loaded potential held out for validation, from the databases it was trained on.

    ``calc.info`` (the model's ``ensemble.json`` meta) names the databases (``dataset``: a path or a
    list, relative to the data folder if not found as given) and the validation ``config_id``s.
    Returns ``[]`` for a model that records neither.
    """
    from .labelling import load_dataset

    ids = _validation_ids(calc)
    return [a for path in _model_databases(calc) for a in load_dataset(path, split="train")
            if a.info.get("config_id") in ids]


def training_frames(calc, *, max_frames: int = 1000) -> list:
    """Up to ``max_frames`` configurations of a loaded potential's training split, evenly spaced
    over its databases in order (validation configurations left out). Frames between a training
    run's ``frame_stride`` are included: they neighbour, within a few fs, frames it trained on.
    Returns ``[]`` for a model that records no databases."""
    from .labelling import load_dataset

    max_frames = int(check_range("max_frames", max_frames, low=1, high=1_000_000))
    ids = _validation_ids(calc)
    frames = [a for path in _model_databases(calc) for a in load_dataset(path, split="train")
              if a.info.get("config_id") not in ids]
    if len(frames) <= max_frames:
        return frames
    keep = np.unique(np.linspace(0, len(frames) - 1, max_frames).round().astype(int))
    return [frames[k] for k in keep]


def carbonyl_oxygens(atoms) -> np.ndarray:
    """Indices of O bonded to exactly one C within 1.6 Å (the C=O oxygen of EC)."""
    return np.flatnonzero(np.array(chemical_roles(atoms)) == "O_carbonyl").astype(int)


@dataclass
class RDFResult:
    r_A: np.ndarray
    g: np.ndarray
    cn_running: np.ndarray
    label: str
    n_frames: int

    def first_peak(self, r_window=(1.5, 3.0)) -> tuple[float, float]:
        m = (self.r_A >= r_window[0]) & (self.r_A <= r_window[1])
        k = int(np.argmax(self.g[m]))
        # parabolic refinement of the maximum
        idx = np.nonzero(m)[0][k]
        if 0 < idx < len(self.g) - 1:
            y0, y1, y2 = self.g[idx - 1: idx + 2]
            den = y0 - 2 * y1 + y2
            shift = 0.5 * (y0 - y2) / den if den != 0 else 0.0
            dr = self.r_A[1] - self.r_A[0]
            return float(self.r_A[idx] + shift * dr), float(y1)
        return float(self.r_A[idx]), float(self.g[idx])

    def first_minimum(self, after_A: float) -> float:
        m = (self.r_A > after_A) & (self.r_A < after_A + 1.5)
        return float(self.r_A[m][np.argmin(self.g[m])])

    def coordination(self, r_cut_A: float) -> float:
        return float(np.interp(r_cut_A, self.r_A, self.cn_running))

    def plot(self, ax=None, **kw):
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        ax.plot(self.r_A, self.g, label=self.label, **kw)
        ax.set_xlabel("r [Å]")
        ax.set_ylabel("g(r)")
        return ax


def rdf(frames, centres, partners, *, r_max_A: float = 5.0, n_bins: int = 200, label: str = "") -> RDFResult:
    """g_AB(r) and running coordination over ``frames`` (same atom order), minimum image via pbc."""
    if len(frames) == 0:
        raise InputError("frames is empty; need at least one frame for an RDF")
    centres, partners = np.asarray(centres), np.asarray(partners)
    edges = np.linspace(0.0, r_max_A, n_bins + 1)
    hist = np.histogram(np.concatenate(pair_distances(frames, centres, partners, r_max_A=r_max_A)), bins=edges)[0]
    n_f, n_a = len(frames), len(centres)
    rho = len(partners) / frames[0].get_volume()
    r = 0.5 * (edges[1:] + edges[:-1])
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    g = hist / (n_f * n_a * rho * shell)
    cn = np.cumsum(hist) / (n_f * n_a)
    return RDFResult(r, g, cn, label, n_f)


def compare_rdfs(ml: RDFResult, ref: RDFResult) -> dict:
    """First-peak position/height and CN at the reference's first minimum, ML vs reference."""
    r_ref, h_ref = ref.first_peak()
    r_ml, h_ml = ml.first_peak()
    r_min = ref.first_minimum(r_ref)
    return dict(peak_ref_A=r_ref, peak_ml_A=r_ml, peak_shift_A=abs(r_ml - r_ref), height_ref=h_ref, height_ml=h_ml,
                r_min_A=r_min, cn_ref=ref.coordination(r_min), cn_ml=ml.coordination(r_min),
                cn_diff=abs(ml.coordination(r_min) - ref.coordination(r_min)))


def stark_fit(field_V_per_A, energy_eV) -> dict:
    """Least-squares E(F) = E0 − μF − ½αF²: returns energy0_eV, dipole_eA, polarizability_eA2_per_V."""
    f = np.asarray(field_V_per_A, dtype=float)
    e = np.asarray(energy_eV, dtype=float)
    if len(f) < 3:
        raise InputError(f"need >= 3 field values for a Stark fit, got {len(f)}")
    c2, c1, c0 = np.polyfit(f, e, 2)
    return dict(energy0_eV=float(c0), dipole_eA=float(-c1), polarizability_eA2_per_V=float(-2 * c2))


def field_response(calc_ml, calc_ref_factory, atoms, fields_V_per_A) -> dict:
    """E(F) and μ_z(F) on one configuration with the ML calculator and the reference."""
    out = dict(field_V_per_A=list(map(float, fields_V_per_A)), ml_energy_eV=[], ref_energy_eV=[], ml_dipole_eA=[],
               ref_dipole_eA=[])
    for f in fields_V_per_A:
        a = atoms.copy()
        calc_ml.set(field_V_per_A=float(f))
        a.calc = calc_ml
        out["ml_energy_eV"].append(a.get_potential_energy())
        out["ml_dipole_eA"].append(float(calc_ml.results["dipole"][2]))
        b = atoms.copy()
        b.calc = calc_ref_factory(float(f))
        out["ref_energy_eV"].append(b.get_potential_energy())
        out["ref_dipole_eA"].append(float(b.calc.results["dipole"][2]))
    out["ml_fit"] = stark_fit(fields_V_per_A, out["ml_energy_eV"])
    out["ref_fit"] = stark_fit(fields_V_per_A, out["ref_energy_eV"])
    return out


def reference_md_frames(db_path, *, field_V_per_A: float = 0.0, temperature_K: float = 300.0,
                        discard_fraction: float = 0.5) -> list:
    """Frames of the reference MD at (F, T), first ``discard_fraction`` of each task dropped.

    ``db_path`` is one label database or a sequence of them (read in order; a long reference set
    is split over files to keep each small enough to track). A task found in two of them is an
    error: the same trajectory would count twice in the jackknife over trajectories.
    """
    from .labelling import load_dataset

    paths = [db_path] if isinstance(db_path, (str, Path)) else list(db_path)
    if not paths:
        raise InputError("db_path: give at least one reference MD database")
    rows, owner = [], {}
    for path in paths:
        for a in load_dataset(path, split="train"):
            task = a.info.get("task")
            if owner.setdefault(task, path) != path:
                raise InputError(f"db_path: task {task!r} is in both {owner[task]} and {path}")
            if (abs(a.info["field_V_per_A"] - field_V_per_A) < 1e-6
                    and abs(a.info["temperature_K"] - temperature_K) < 1e-6):
                rows.append(a)
    out = []
    for frames in trajectories(rows):
        frames.sort(key=lambda a: a.info["step"])
        out += frames[int(discard_fraction * len(frames)):]
    if not out:
        raise InputError(f"no reference MD frames at field {field_V_per_A} V/Å and {temperature_K} K in {db_path}")
    return out


def trajectories(frames) -> list[list]:
    """``frames`` grouped by ``info['task']`` (one list per trajectory, first-seen order)."""
    groups: dict = {}
    for a in frames:
        groups.setdefault(a.info.get("task"), []).append(a)
    return list(groups.values())


def structure_comparison(calc, ref_frames, *, n_steps: int, timestep_fs: float = 0.5, temperature_K: float = 300.0,
                         sample_every: int = 5, seed: int = 0, progress: bool = False) -> dict:
    """ML Langevin MD vs reference MD: Li–O(carbonyl) and Li–F first RDF peaks and CN.

    One ML run of ``n_steps`` per reference trajectory (``info['task']``), each from that
    trajectory's last frame (relaxed on the ML surface first, see
    :func:`multiscale.atomistic.md.relax`), its first fifth dropped. Per pair, the histogram
    comparison of :func:`compare_rdfs` on the pooled frames and the smoothed first peak with its
    jackknife errors (peak and CN) of :func:`compare_first_shells`; with four or more reference
    trajectories also the paired errors (each ML run paired with the run it started from).
    Raises :class:`OutOfDomainError` if an ML run leaves the potential's domain.
    """
    from .md import relax, run_md
    from .system import freeze_electrode

    ref_trajs = trajectories(ref_frames)
    if any(not np.array_equal(t[0].numbers, ref_frames[0].numbers) for t in ref_trajs):
        raise InputError("ref_frames: the reference trajectories must share one atom order (same system and "
                         "composition) for one set of Li and partner indices")
    ml_trajs, n_untrusted, ml_time_fs = [], 0, 0.0
    for k, traj in enumerate(ref_trajs):
        start = traj[-1].copy()
        start.calc = None
        freeze_electrode(start)  # the electrode is rigid in ML-MD (see freeze_electrode)
        calc.set(field_V_per_A=float(traj[-1].info.get("field_V_per_A", 0.0)))
        relax(start, calc)
        res = run_md(start, calc, n_steps=n_steps, timestep_fs=timestep_fs, ensemble="langevin",
                     temperature_K=temperature_K, friction_per_fs=0.02, interval=sample_every, on_untrusted="flag",
                     initial_temperature_K=temperature_K, seed=seed + k, keep_frames=True, progress=progress)
        ml_trajs.append(res.frames[len(res.frames) // 5:])
        n_untrusted += res.n_untrusted
        ml_time_fs += float(res.time_fs[-1])
    out = dict(n_ml_frames=sum(map(len, ml_trajs)), n_ref_frames=len(ref_frames), n_untrusted=n_untrusted,
               n_trajectories=len(ref_trajs), ml_time_ps=ml_time_fs / 1000)
    li = np.nonzero(ref_frames[0].numbers == 3)[0]
    partners = dict(Li_O_carbonyl=carbonyl_oxygens(ref_frames[0]), Li_F=np.nonzero(ref_frames[0].numbers == 9)[0])
    for name, idx in partners.items():
        g_ref = rdf(ref_frames, li, idx, label=f"{name} reference")
        g_ml = rdf([a for t in ml_trajs for a in t], li, idx, label=f"{name} ML")
        out[name] = compare_rdfs(g_ml, g_ref)
        out[name]["smoothed"] = compare_first_shells(ml_trajs, ref_trajs, li, idx, r_min_A=out[name]["r_min_A"],
                                                     paired=len(ref_trajs) >= 4)
    return out


#: Gaussian broadening of each pair distance for the smoothed first-peak position [Å]: well below
#: the thermal width of a Li–O first peak (~0.1 Å), well above the histogram's 0.025 Å bins.
PEAK_BANDWIDTH_A = 0.04


def pair_distances(frames, centres, partners, *, r_max_A: float = 3.5) -> list[np.ndarray]:
    """Per frame, the centre–partner distances below ``r_max_A`` (periodic images included) [Å];
    the frames share one atom order."""
    if len(frames) == 0:
        return []
    is_c = np.zeros(len(frames[0]), dtype=bool)
    is_c[np.asarray(centres, dtype=int)] = True
    is_p = np.zeros(len(frames[0]), dtype=bool)
    is_p[np.asarray(partners, dtype=int)] = True
    out = []
    for a in frames:
        nl = neighbour_list(a.positions, a.cell, a.pbc, r_max_A)
        out.append(nl.distances[is_c[nl.i] & is_p[nl.j]])
    return out


def smoothed_first_peak(distances, *, bandwidth_A: float = PEAK_BANDWIDTH_A, window_A=(1.5, 3.0)) -> float:
    """Position [Å] of the maximum of the Gaussian-broadened g(r) ∝ Σ_k N(r; d_k, σ) / r² in ``window_A``.

    The histogram maximum of :meth:`RDFResult.first_peak` jumps by a bin or more between halves
    of a trajectory when a peak holds a few hundred distances (one Li⁺, one carbonyl O bound);
    broadening every distance by σ = ``bandwidth_A`` uses them all. The broadened peak of an
    asymmetric first peak lies slightly outside the sharp one; ML and reference share the bias.
    """
    check_range("bandwidth_A", bandwidth_A, low=1e-3, high=0.5)
    d = np.concatenate([np.asarray(x, dtype=float).ravel() for x in distances]) if len(distances) else np.zeros(0)
    lo, hi = float(window_A[0]), float(window_A[1])
    d = d[(d > lo - 4 * bandwidth_A) & (d < hi + 4 * bandwidth_A)]
    if len(d) == 0:
        raise InputError(f"no pair distance within window_A = {window_A} Å: no first peak to place")
    r = np.arange(lo, hi + 0.5e-3, 1e-3)
    g = np.zeros_like(r)
    for chunk in np.array_split(d, max(1, len(d) // 2000)):
        g += np.exp(-0.5 * ((r[:, None] - chunk[None, :]) / bandwidth_A) ** 2).sum(axis=1)
    g /= r ** 2
    return round(float(r[int(np.argmax(g))]), 4)


def jackknife(blocks, statistic) -> dict:
    """``statistic`` of all ``blocks`` pooled and its delete-one-block jackknife standard error.

    ``blocks``: a list of blocks, each a list of per-frame distance arrays
    (:func:`pair_distances`); ``statistic`` maps such a list to a number. Blocks must be (nearly)
    independent: whole trajectories, or contiguous stretches of one longer than its correlation
    time. Returns ``{"value", "se", "n_blocks", "leave_one_out"}`` (the statistic without each
    block in turn, for :func:`paired_difference`).
    """
    n = len(blocks)
    if n < 2:
        raise InputError(f"need >= 2 blocks for a jackknife error, got {n}")
    theta = float(statistic([d for b in blocks for d in b]))
    loo = [float(statistic([d for j, b in enumerate(blocks) if j != i for d in b])) for i in range(n)]
    return dict(value=theta, se=_jackknife_se(loo), n_blocks=n, leave_one_out=loo)


def _jackknife_se(leave_one_out) -> float:
    loo = np.asarray(leave_one_out, dtype=float)
    n = len(loo)
    return float(np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2)))


def first_peak_jackknife(blocks, **kwargs) -> dict:
    """:func:`smoothed_first_peak` of the pooled ``blocks`` with its jackknife error (:func:`jackknife`)."""
    j = jackknife(blocks, lambda d: smoothed_first_peak(d, **kwargs))
    return dict(peak_A=j["value"], se_A=j["se"], n_blocks=j["n_blocks"])


def coordination_number(distances, r_cut_A: float) -> float:
    """Mean number of partners closer than ``r_cut_A`` per frame, from per-frame distance arrays
    of one centre (several centres: divide by their number)."""
    return float(np.mean([np.count_nonzero(np.asarray(d) < r_cut_A) for d in distances]))


def split_blocks(trajs, min_blocks: int = 4) -> tuple[list, str]:
    """Jackknife blocks from trajectories: each trajectory one block when there are at least
    ``min_blocks``; else each split into contiguous stretches to make ``min_blocks`` or more."""
    trajs = [t for t in trajs if len(t)]
    if len(trajs) >= min_blocks:
        return [list(t) for t in trajs], "trajectories"
    per = -(-min_blocks // max(1, len(trajs)))  # ceil
    return [[t[i] for i in c] for t in trajs for c in np.array_split(np.arange(len(t)), per) if len(c)], \
        "contiguous time blocks"


def paired_jackknife(blocks_a, blocks_b, statistic) -> dict:
    """``statistic(a) − statistic(b)`` of pooled blocks, with the jackknife error that deletes one
    *pair* of blocks (``blocks_a[i]`` with ``blocks_b[i]``) at a time.

    For samples that share their sampling unit, such as an ML run started from the last frame of
    a reference run of the same packing: what the two share (the packing) cancels in the
    difference, which independent errors (:func:`jackknife` on each side) cannot know. Returns
    ``{"value", "se", "n_pairs"}``.
    """
    if len(blocks_a) != len(blocks_b):
        raise InputError(f"blocks_a, blocks_b: a paired jackknife needs one block of each per pair, "
                         f"got {len(blocks_a)} and {len(blocks_b)}")
    if len(blocks_a) < 2:
        raise InputError(f"need >= 2 pairs of blocks for a jackknife error, got {len(blocks_a)}")
    return paired_difference(jackknife(blocks_a, statistic), jackknife(blocks_b, statistic))


def paired_difference(jack_a: dict, jack_b: dict) -> dict:
    """The paired jackknife of ``a − b`` from the two sides' :func:`jackknife` results, whose
    blocks are paired by index: deleting pair i deletes block i on both sides, so the difference's
    leave-one-out values are those of the sides subtracted (nothing is recomputed)."""
    loo_a, loo_b = jack_a["leave_one_out"], jack_b["leave_one_out"]
    if len(loo_a) != len(loo_b):
        raise InputError(f"jack_a, jack_b: paired blocks need equal counts, got {len(loo_a)} and {len(loo_b)}")
    return dict(value=jack_a["value"] - jack_b["value"], se=_jackknife_se(np.subtract(loo_a, loo_b)),
                n_pairs=len(loo_a))


def compare_first_shells(ml_trajs, ref_trajs, centres, partners, *, r_min_A: float | None = None,
                         min_blocks: int = 4, paired: bool = False, **kwargs) -> dict:
    """First shells of ML and reference MD with jackknife errors: the smoothed first-peak
    positions and their shift and, given ``r_min_A`` (the reference's first minimum), the
    coordination numbers CN(r_min) and their difference.

    The ``*_ci95*`` entries are half-widths 1.96 √(se_ml² + se_ref²): a target narrower than one
    cannot be decided by these trajectories. One centre atom is assumed for the CN (one Li⁺).

    ``paired=True``: ``ml_trajs[k]`` continues ``ref_trajs[k]`` (the same packing), so the pair
    is the sampling unit. Then ``peak_shift_paired_ci95_A`` and ``cn_diff_paired_ci95`` are added:
    1.96 × the paired jackknife error (:func:`paired_difference`) of the signed difference,
    which removes the packing-to-packing scatter the two sides share. It needs as many ML as reference
    trajectories, at least ``min_blocks`` of each (whole trajectories as blocks).
    """
    if len(centres) != 1 and r_min_A is not None:
        raise InputError(f"centres: the coordination number here is for one centre atom, got {len(centres)}")
    if paired and (len(ml_trajs) != len(ref_trajs) or len(ref_trajs) < min_blocks):
        raise InputError(f"paired: needs one ML trajectory per reference trajectory and at least min_blocks = "
                         f"{min_blocks} of each, got {len(ml_trajs)} ML and {len(ref_trajs)} reference")
    if paired and any(len(t) == 0 for t in (*ml_trajs, *ref_trajs)):
        raise InputError("paired: a trajectory without frames would shift every pair after it")
    out, peaks, cns = {}, {}, {}
    for key, trajs in (("ml", ml_trajs), ("ref", ref_trajs)):
        blocks, how = split_blocks([pair_distances(t, centres, partners) for t in trajs], min_blocks)
        j = peaks[key] = jackknife(blocks, lambda d: smoothed_first_peak(d, **kwargs))
        out.update({f"peak_{key}_A": j["value"], f"peak_{key}_se_A": j["se"], f"n_blocks_{key}": j["n_blocks"],
                    f"blocks_{key}": how})
        if r_min_A is not None:
            c = cns[key] = jackknife(blocks, lambda d: coordination_number(d, r_min_A))
            out.update({f"cn_{key}": c["value"], f"cn_{key}_se": c["se"]})
    out["peak_shift_A"] = abs(out["peak_ml_A"] - out["peak_ref_A"])
    out["peak_shift_ci95_A"] = 1.96 * float(np.hypot(out["peak_ml_se_A"], out["peak_ref_se_A"]))
    out["bandwidth_A"] = float(kwargs.get("bandwidth_A", PEAK_BANDWIDTH_A))
    if paired:
        j = paired_difference(peaks["ml"], peaks["ref"])
        out["peak_shift_paired_ci95_A"] = 1.96 * j["se"]
        out["n_pairs"] = j["n_pairs"]
    if r_min_A is not None:
        out["r_min_A"] = float(r_min_A)
        out["cn_diff"] = abs(out["cn_ml"] - out["cn_ref"])
        out["cn_diff_ci95"] = 1.96 * float(np.hypot(out["cn_ml_se"], out["cn_ref_se"]))
        if paired:
            out["cn_diff_paired_ci95"] = 1.96 * paired_difference(cns["ml"], cns["ref"])["se"]
    return out


def run_protocol(db_path, model_name=None, *, rdf_steps: int = 0, response: bool = False,
                 progress: bool = False) -> dict:
    """The whole protocol on a label database and a shipped model; returns a JSON-able report."""
    from .calculator import load_potential
    from .labelling import load_dataset
    from .reference import reference_calculator

    calc = load_potential(model_name)
    ens = calc.ensemble
    train_rows = load_dataset(db_path, split="train")
    report: dict = dict(model=calc.model_name, reference=calc.reference)
    val = validation_frames(calc)
    if val:
        report["validation_errors_by_field"] = {str(k): v for k, v in errors_by_field(ens, val).items()}
    try:
        held = load_dataset(db_path, split="heldout")
        pred = predict_frames(ens, held)
        report["heldout_errors_by_field"] = {str(k): v for k, v in errors_by_field(ens, held, predictions=pred).items()}
        # packings are the independent samples of a held-out set: intervals over them
        report["heldout_errors_by_packing"] = errors_by_packing(ens, held, predictions=pred)
        # which atoms carry the error (EC's carbonyl C and O apart from its ring atoms)
        report["heldout_force_rmse_by_role"] = force_errors_by_element(ens, held, predictions=pred, by="role")
    except Exception as exc:  # noqa: BLE001 - a database without held-out rows is reported, not fatal
        report["heldout_errors_by_field"] = f"unavailable: {exc}"
        held = []
    report["errors_by_field"] = dict(validation=report.get("validation_errors_by_field"),
                                     heldout=report["heldout_errors_by_field"])
    if rdf_steps > 0:
        ref = reference_md_frames(db_path)
        report["structure"] = structure_comparison(calc, ref, n_steps=rdf_steps, progress=progress)
    if response:
        atoms = (held or train_rows)[0].copy()
        fields = [-0.1, -0.05, 0.0, 0.05, 0.1]
        report["response"] = field_response(calc, lambda f: reference_calculator(calc.reference, field_V_per_A=f),
                                            atoms, fields)
    return report
