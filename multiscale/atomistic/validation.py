"""The validation protocol of the ML potential against its reference.

1. Accuracy on held-out data, per field: energy RMSE [meV/atom], force RMSE [meV/Å], charge
   RMSE [e] and dipole RMSE [e·Å] for every field value (including one never trained on).
2. Structure: radial distribution functions g_AB(r) (Li–O carbonyl, Li–F of BF₄⁻) from ML-MD
   versus reference MD at the same field and temperature: first-peak position and height, and
   the coordination number CN(r_min) = ⟨#B within r_min of A⟩, with r_min the first minimum of
   the reference g(r). g(r) is normalised to the mean density of B in the cell (peak positions
   and CN do not depend on that choice).
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


def errors_by_field(ensemble, frames) -> dict:
    """RMSEs per field value: {field: {n, energy_meV_per_atom, force_meV_per_A, charge_e, dipole_eA}}."""
    from .training import dipole_defined

    if not frames:
        raise InputError("frames is empty; nothing to evaluate")
    pred = predict_frames(ensemble, frames)
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


def force_errors_by_element(ensemble, frames) -> dict:
    """Force RMSE per element [meV/Å] (and the reference force RMS), graphene carbon apart from molecular carbon.

    Graphene carbons are those with three carbon neighbours within 1.6 Å. Keys: element symbols,
    ``C_graphene``; values ``{"rmse_meV_per_A", "reference_rms_meV_per_A", "n_atoms"}``.
    """
    from ase.data import chemical_symbols

    if not frames:
        raise InputError("frames is empty; nothing to evaluate")
    pred = predict_frames(ensemble, frames)
    err: dict[str, list] = {}
    ref: dict[str, list] = {}
    for k, a in enumerate(frames):
        labels = [chemical_symbols[z] for z in a.numbers]
        nl = neighbour_list(a.positions, a.cell, a.pbc, 1.6)
        for c in np.nonzero(a.numbers == 6)[0]:
            if np.sum(a.numbers[nl.j[nl.i == c]] == 6) == 3:
                labels[c] = "C_graphene"
        d = pred[k]["forces"] - a.get_forces()
        for i, lab in enumerate(labels):
            err.setdefault(lab, []).append(d[i])
            ref.setdefault(lab, []).append(a.get_forces()[i])
    return {lab: dict(rmse_meV_per_A=float(np.sqrt(np.mean(np.square(err[lab]))) * 1e3),
                      reference_rms_meV_per_A=float(np.sqrt(np.mean(np.square(ref[lab]))) * 1e3),
                      n_atoms=len(err[lab]))
            for lab in sorted(err)}


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


def validation_frames(calc) -> list:
    """The configurations a loaded potential held out for validation, from the databases it was trained on.

    ``calc.info`` (the model's ``ensemble.json`` meta) names the databases (``dataset``: a path or a
    list, relative to the data folder if not found as given) and the validation ``config_id``s.
    Returns ``[]`` for a model that records neither.
    """
    from ..resources import data_path
    from .labelling import load_dataset

    meta = calc.info or {}
    ids = set(meta.get("history", {}).get("validation_config_ids", []))
    dbs = meta.get("dataset") or []
    if isinstance(dbs, str):
        dbs = [dbs]
    out = []
    for db in dbs:
        path = Path(db)
        if not path.is_file():
            parts = path.parts
            path = data_path(*parts[parts.index("data") + 1:]) if "data" in parts else path
        out += [a for a in load_dataset(path, split="train") if a.info.get("config_id") in ids]
    return out


def carbonyl_oxygens(atoms) -> np.ndarray:
    """Indices of O bonded to exactly one C within 1.6 Å (the C=O oxygen of EC)."""
    nl = neighbour_list(atoms.positions, atoms.cell, atoms.pbc, 1.6)
    z = atoms.numbers
    out = []
    for o in np.nonzero(z == 8)[0]:
        nb = nl.j[nl.i == o]
        if np.sum(z[nb] == 6) == 1 and len(nb) == 1:
            out.append(o)
    return np.array(out, dtype=int)


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
    hist = np.zeros(n_bins)
    is_partner = np.zeros(len(frames[0]), dtype=bool)
    is_partner[partners] = True
    is_centre = np.zeros(len(frames[0]), dtype=bool)
    is_centre[centres] = True
    for a in frames:
        nl = neighbour_list(a.positions, a.cell, a.pbc, r_max_A)
        sel = is_centre[nl.i] & is_partner[nl.j]
        hist += np.histogram(nl.distances[sel], bins=edges)[0]
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
    """Frames of the reference MD at (F, T) from a label database, first ``discard_fraction`` of each task dropped."""
    from .labelling import load_dataset

    rows = [a for a in load_dataset(db_path, split="train")
            if abs(a.info["field_V_per_A"] - field_V_per_A) < 1e-6 and abs(a.info["temperature_K"] - temperature_K) < 1e-6]
    tasks: dict[str, list] = {}
    for a in rows:
        tasks.setdefault(a.info["task"], []).append(a)
    out = []
    for frames in tasks.values():
        frames.sort(key=lambda a: a.info["step"])
        out += frames[int(discard_fraction * len(frames)):]
    if not out:
        raise InputError(f"no reference MD frames at field {field_V_per_A} V/Å and {temperature_K} K in {db_path}")
    return out


def structure_comparison(calc, ref_frames, *, n_steps: int, timestep_fs: float = 0.5, temperature_K: float = 300.0,
                         sample_every: int = 5, seed: int = 0, progress: bool = False) -> dict:
    """ML Langevin MD from the last reference frame (relaxed on the ML surface first, see
    :func:`multiscale.atomistic.md.relax`); Li–O(carbonyl) and Li–F RDFs vs the reference frames.
    Raises :class:`OutOfDomainError` if the ML-MD leaves the potential's domain."""
    from .md import relax, run_md

    from .system import freeze_electrode

    start = ref_frames[-1].copy()
    start.calc = None
    freeze_electrode(start)  # the electrode is rigid in ML-MD (see freeze_electrode)
    calc.set(field_V_per_A=float(ref_frames[-1].info.get("field_V_per_A", 0.0)))
    relax(start, calc)
    res = run_md(start, calc, n_steps=n_steps, timestep_fs=timestep_fs, ensemble="langevin",
                 temperature_K=temperature_K, friction_per_fs=0.02, interval=sample_every, on_untrusted="flag",
                 initial_temperature_K=temperature_K, seed=seed, keep_frames=True, progress=progress)
    ml_frames = res.frames[len(res.frames) // 5:]
    li = np.nonzero(start.numbers == 3)[0]
    pairs = dict(Li_O_carbonyl=carbonyl_oxygens(ref_frames[0]), Li_F=np.nonzero(start.numbers == 9)[0])
    out = dict(n_ml_frames=len(ml_frames), n_ref_frames=len(ref_frames), n_untrusted=res.n_untrusted,
               ml_time_ps=float(res.time_fs[-1] / 1000))
    for name, partners in pairs.items():
        g_ref = rdf(ref_frames, li, partners, label=f"{name} reference")
        g_ml = rdf(ml_frames, li, partners, label=f"{name} ML")
        out[name] = compare_rdfs(g_ml, g_ref)
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
        report["heldout_errors_by_field"] = {str(k): v for k, v in errors_by_field(ens, held).items()}
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
