"""How far does the reference reach? Forces near an atom when only distant molecules move.

``bench_descriptor_information.py`` found that what the ML potential leaves of the GFN1-xTB forces
is not learnable from the atoms' symmetry functions (nor from their neighbours'). One physical
reading: the reference forces depend on the configuration beyond the model's reach. This measures
it directly, reference and model side by side.

On the 300-atom MD cell, for a centre atom of each chemical role, every molecule whose atoms are
all farther than R from the centre is translated rigidly (random, ``--amplitude`` Å per component;
bonds kept; the sheet and everything nearer stay:
:func:`~multiscale.atomistic.validation.move_far_molecules`). Recorded: the change of the force
on the atoms within 1.5 Å of the centre (the centre and its bonded neighbours), by the reference
and by the model for the same move, and what the model misses (reference change − model change).
A model with descriptor cutoff r_c has forces of range 2 r_c, so it can follow a move at R < 2 r_c
only through its neighbours' energies; the ``missed`` column is what it does not follow.

    python benchmarks/bench_force_reach.py --json [--model NAME] [--radii 6.5,8,10] [--amplitude 0.3]
        [--move translate|rotate] [--max-angle 180] [--repeats 1] [--roles C_carbonyl,O_carbonyl,C,O,Li] [--workers 2]

``--move rotate`` turns each far molecule about its centroid by a uniformly random rotation
instead (clash-checked: :func:`~multiscale.atomistic.validation.rotate_far_molecules`), which
redraws the far dipoles' orientations rather than nudging them. If the turned cell were an
independent draw of the far solvent given the near one, the reference's RMS change / √2 would be
the force error that any model seeing nothing beyond R must leave
(``locality_floor_per_component_meV_per_A``, per Cartesian component as the potential's force RMSEs
are; the other columns are RMS force-vector lengths, √3 times a per-component RMS);
the far molecules keep their places (a partial redraw) and the turned orientations are not the
liquid's, so it is an estimate, not a bound.
``--max-angle θ`` (with ``rotate``) turns each by at most θ about a random axis instead: a
libration of the far solvent, nearer the liquid's own fluctuations than a redraw.
``--repeats n`` moves each (centre, R) n times with seeds seed … seed + n − 1.

Each (centre, R, repeat) is one reference call of the moved cell (about 40 s), in parallel over
``--workers`` processes (``multiscale.parallel``); the unmoved cell's forces are computed once.
Prints JSON: per centre and R the moved molecules, the RMS force changes [meV/Å] and the
reference's change of the sheet's Mulliken charge [e]; per R those pooled over the centres; and
per R, over every molecular atom that did not move, its force change (reference, model, missed;
per component) binned by its distance from the nearest moved atom, before or after the move
(``unmoved_atoms_by_distance``):
a local model of cutoff r_c sees a move within r_c directly, and within 2 r_c only through its
neighbours' energies.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

PROBE_RADIUS_A = 1.5


def _cell():
    from multiscale.atomistic import default_system

    return default_system(0, size="md")


def _centres(atoms, roles) -> dict:
    """The atom of each role nearest the cell's middle in-plane (room for far molecules all round)."""
    from multiscale.atomistic.validation import chemical_roles

    labels = np.array(chemical_roles(atoms))
    mid = atoms.cell.array[:2, :2].sum(0) / 2
    out = {}
    for role in roles:
        idx = np.flatnonzero(labels == role)
        if len(idx) == 0:
            raise SystemExit(f"--roles: no atom of role {role!r} in the cell; roles there: "
                             f"{', '.join(sorted(set(labels)))}")
        out[role] = int(idx[np.argmin(np.linalg.norm(atoms.positions[idx, :2] - mid, axis=1))])
    return out


def _rms(x) -> float:
    """RMS force-vector length [meV/Å] of (n, 3) changes in eV/Å."""
    return float(np.sqrt(np.mean(np.sum(np.asarray(x) ** 2, axis=1))) * 1e3)


def moved_cell(cell, item: dict):
    """(``cell`` moved as ``item`` says: centre, radius_A, move, amplitude_A, seed; the moved molecules)."""
    from multiscale.atomistic.validation import move_far_molecules, rotate_far_molecules

    if item["move"] == "rotate":
        moved, far, _ = rotate_far_molecules(cell, item["centre"], radius_A=item["radius_A"], seed=item["seed"],
                                             max_angle_deg=item.get("max_angle_deg", 180.0))
        return moved, far
    return move_far_molecules(cell, item["centre"], radius_A=item["radius_A"], amplitude_A=item["amplitude_A"],
                              seed=item["seed"])


def reference_forces(item: dict) -> dict:
    """The reference forces of the cell moved as ``item`` says (:func:`moved_cell`; ``centre`` None:
    the unmoved cell)."""
    from multiscale.atomistic import reference_calculator

    atoms, far = _cell(), []
    if item["centre"] is not None:
        atoms, far = moved_cell(atoms, item)
    atoms.calc = reference_calculator()
    t = time.perf_counter()
    forces = atoms.get_forces()
    return dict(item, forces=forces.tolist(), charges=atoms.get_charges().tolist(), moved_molecules=list(map(int, far)),
                seconds=time.perf_counter() - t)


#: bins [Å] of an unmoved molecular atom's distance from the nearest moved atom
DISTANCE_BINS_A = (0.0, 3.0, 4.5, 6.0, 7.5, 9.0, 12.0)


def distance_bins(cell, moved, moved_atoms, still, d_ref, d_ml) -> np.ndarray:
    """Per bin of :data:`DISTANCE_BINS_A`: (atoms, Σ|ΔF_ref|², Σ|ΔF_ml|², Σ|ΔF_ref − ΔF_ml|²) over the
    atoms ``still`` marks, by their distance from the nearest atom ``moved_atoms`` marks, before
    (``cell``) or after (``moved``) the move, whichever is nearer (minimum image); forces in eV/Å,
    changes of the whole cell's (n, 3) arrays."""
    idx = np.flatnonzero(still)
    near = np.min([a.get_distances(int(k), idx, mic=True) for a in (cell, moved) for k in np.flatnonzero(moved_atoms)],
                  axis=0)
    k = np.digitize(near, DISTANCE_BINS_A) - 1
    out = np.zeros((len(DISTANCE_BINS_A) - 1, 4))
    for col, x in enumerate((d_ref, d_ml, d_ref - d_ml), start=1):
        np.add.at(out[:, col], k[k < len(out)], np.sum(x[idx] ** 2, axis=1)[k < len(out)])
    np.add.at(out[:, 0], k[k < len(out)], 1)
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--json", action="store_true")
    p.add_argument("--model", default="mlp_li_ec_graphene_vff")
    p.add_argument("--radii", default="6.5,8,10", help="comma-separated R [Å]: molecules wholly beyond move")
    p.add_argument("--amplitude", type=float, default=0.3, help="rigid displacement per component [Å]")
    p.add_argument("--move", default="translate", choices=("translate", "rotate"),
                   help="translate the far molecules rigidly (--amplitude) or turn each about its centroid")
    p.add_argument("--max-angle", type=float, default=180.0,
                   help="with --move rotate: 180 turns at random; less, a libration by up to this angle [deg]")
    p.add_argument("--repeats", type=int, default=1, help="moves per centre and radius (seeds seed, seed + 1, …)")
    p.add_argument("--roles", default="C_carbonyl,O_carbonyl,C,O,Li",
                   help="centre roles (multiscale.atomistic.validation.chemical_roles: C and O alone are EC's "
                        "CH₂ carbon and ring oxygen)")
    p.add_argument("--workers", type=int, default=2, help="reference calls side by side (0: serial)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        radii = [float(x) for x in args.radii.split(",")]
    except ValueError:
        raise SystemExit(f"--radii {args.radii!r} must be comma-separated numbers") from None
    if not radii or not all(2.0 <= r <= 12.0 for r in radii):
        raise SystemExit(f"--radii {args.radii!r}: each must be in [2, 12] Å (the cell is 19.7 × 17.0 Å in-plane)")
    if not 0.01 <= args.amplitude <= 2.0:
        raise SystemExit(f"--amplitude = {args.amplitude} is out of range: must be in [0.01, 2] Å")
    if not 0 < args.max_angle <= 180:
        raise SystemExit(f"--max-angle = {args.max_angle} is out of range: must be in (0, 180] degrees")
    if not 1 <= args.repeats <= 20:
        raise SystemExit(f"--repeats = {args.repeats} is out of range: must be in [1, 20]")
    if not 0 <= args.workers <= 8:
        raise SystemExit(f"--workers = {args.workers} is out of range: must be in [0, 8]")
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    from multiscale.atomistic import load_potential
    from multiscale.atomistic.validation import molecules
    from multiscale.parallel import parallel_map

    cell = _cell()
    centres = _centres(cell, roles)
    move = dict(move=args.move, amplitude_A=args.amplitude, max_angle_deg=args.max_angle)
    items = [dict(centre=None, radius_A=None, seed=args.seed, **move)]
    items += [dict(role=role, centre=c, radius_A=r, seed=args.seed + k, **move)
              for role, c in centres.items() for r in radii for k in range(args.repeats)]
    t0 = time.perf_counter()
    done = parallel_map(reference_forces, items, n_workers=min(args.workers, len(items)), progress=not args.json,
                        description="reference calls")
    f0, q0 = np.array(done[0]["forces"]), np.array(done[0]["charges"])
    calc = load_potential(args.model, precision="float64")
    base = cell.copy()
    base.calc = calc
    m0 = base.get_forces()
    from multiscale.atomistic.system import electrode_atoms

    label, sheet = molecules(cell), electrode_atoms(cell)
    rows, bins = [], {r: 0.0 for r in radii}
    for item in done[1:]:
        moved, far = moved_cell(cell, item)
        assert list(map(int, far)) == item["moved_molecules"]  # the same move in both processes
        moved.calc = calc
        d = cell.get_distances(item["centre"], np.arange(len(cell)), mic=True)
        probe = np.flatnonzero(d <= PROBE_RADIUS_A)
        d_ref_all, d_ml_all = np.array(item["forces"]) - f0, moved.get_forces() - m0
        d_ref, d_ml = d_ref_all[probe], d_ml_all[probe]
        moved_atoms = np.isin(label, far)
        if far:
            still = ~moved_atoms & ~sheet
            bins[item["radius_A"]] = bins[item["radius_A"]] + distance_bins(cell, moved, moved_atoms, still,
                                                                            d_ref_all, d_ml_all)
        dq = np.array(item["charges"]) - q0
        rows.append(dict(role=item["role"], centre=item["centre"], radius_A=item["radius_A"], seed=item["seed"],
                         n_moved_molecules=len(far), n_moved_atoms=int(moved_atoms.sum()),
                         nearest_moved_atom_A=float(moved.get_distances(item["centre"], np.flatnonzero(moved_atoms),
                                                                         mic=True).min()) if far else None,
                         probe=[cell.get_chemical_symbols()[k] for k in probe],
                         reference_change_meV_per_A=_rms(d_ref), model_change_meV_per_A=_rms(d_ml),
                         missed_meV_per_A=_rms(d_ref - d_ml), reference_seconds=item["seconds"],
                         sheet_charge_change_e=float(dq[sheet].sum()),
                         largest_unmoved_molecule_charge_change_e=float(max(
                             (abs(dq[label == m].sum()) for m in set(label[~moved_atoms & ~sheet])), default=0.0))))
    pooled = {}
    for r in radii:
        sel = [x for x in rows if x["radius_A"] == r and x["n_moved_molecules"] > 0]
        if sel:
            pooled[str(r)] = {k: float(np.sqrt(np.mean([x[k] ** 2 for x in sel])))
                              for k in ("reference_change_meV_per_A", "model_change_meV_per_A", "missed_meV_per_A")}
            # per component, as the potential's force RMSEs are: a vector's RMS length is √3 times that
            pooled[str(r)]["locality_floor_per_component_meV_per_A"] = (
                pooled[str(r)]["reference_change_meV_per_A"] / np.sqrt(2 * 3))
    by_distance = {}  # per component [meV/Å], as the potential's RMSEs
    for r, b in bins.items():
        if np.ndim(b):
            by_distance[str(r)] = [dict(from_A=lo, to_A=hi, n_atom_moves=int(n), **{
                key: float(np.sqrt(x / (3 * n)) * 1e3) if n else None for key, x in zip(
                    ("reference_change_meV_per_A", "model_change_meV_per_A", "missed_meV_per_A"), rest)})
                for lo, hi, (n, *rest) in zip(DISTANCE_BINS_A[:-1], DISTANCE_BINS_A[1:], b)]
    out = dict(model=args.model, move=args.move, amplitude_A=args.amplitude, max_angle_deg=args.max_angle,
               repeats=args.repeats,
               probe_radius_A=PROBE_RADIUS_A,
               model_cutoff_A=float(calc.ensemble.cutoff_A), centres=centres, rows=rows, pooled_by_radius=pooled,
               unmoved_atoms_by_distance=by_distance,
               wall_minutes=(time.perf_counter() - t0) / 60)
    print(json.dumps(out, indent=1 if args.json else None))
    return out


if __name__ == "__main__":
    main()
