"""Field-aware ML potential vs its GFN1-xTB reference: accuracy, speed, NVE drift, Li–O structure.

Measured in one run, on this machine:

* accuracy on held-out data: energy RMSE [meV/atom] and force RMSE [meV/Å] on the held-out
  field (0.075 V/Å, a field never trained on, four packings never trained on) and on the
  model's validation configurations (whole trajectories when it was trained with
  ``--validation-split trajectory``), with force RMSE per element; and, reported without a
  target, on the held-out bulk LiBF₄/EC cubes of ``labels_bulk.db`` (packings never trained on)
  and on equilibrium liquid at the interface (``equilibrium_*``: every 25th kept frame of the
  2.4 ps reference xTB runs, F = 0, never trained on; the held-out set is the first 80 fs after
  random packings); the held-out energy and force RMSEs get 95 % intervals that resample whole
  packings (``heldout_*_interval``), the RMS of the per-packing mean energy error
  (``heldout_energy_offset_rms``), and the same on ``labels_heldout2.db`` (``heldout2_*``: 40 more
  packings at the same untrained field, 40 fs each; reported, no target);
* speed: the whole ensemble (4 members, forces + σ_F + charges, neighbour list included) on the
  300-atom MD cell → atom-steps/s, with torch on one and on both cores (the target is for the
  2-core machine: the faster of the two is compared with it), in ``--speed-rounds`` interleaved
  rounds whose median is the headline (each round is printed: the host drifts by ±25 %), at zero
  field, where a model that masks the sheet skips its atoms in the backward (reported beside it:
  the same cell at ``SPEED_FIELD_V_PER_A``, where it cannot); the per-force-call ratio xTB/ML,
  both timed here on the same 300-atom cell (target) and on the 60-atom training cell (reported);
* NVE drift at a 0.5 fs step on the 60-atom cell (linear fit of E_tot/atom vs time);
* Li–O(carbonyl) first RDF peak and coordination number from ML Langevin MD vs reference xTB
  MD (F = 0, 300 K): the 2.4 ps runs of the training cell (``reference_md.db`` to
  ``reference_md4.db``, ``REFERENCE_MD_DBS``; one ML run from the end of each,
  ``--ml-md-factor`` (default 2) times as long as a kept reference run) when shipped, else the
  label trajectories; reported too, in the bulk electrolyte, against the 2.4 ps reference runs
  of a LiBF₄/EC cube (``reference_md_bulk.db``).
  The peak is the maximum of the Gaussian-broadened g(r) (σ = 0.04 Å), with a 95 % jackknife
  interval on the shift (trajectories as blocks; the CN difference gets one too) and the paired
  one (each ML run with the reference run it started from, ``*_paired_ci95*``); the histogram
  maximum is printed beside it;
* how local the reference is: on the 300-atom cell, the change of the xTB forces within 1.5 Å of
  a centre atom (a sheet carbon, the Li) when only atoms beyond 11.5 Å move (0.05 Å rms): beyond
  the 10 Å force range of a 5 Å-cutoff model, so any change is a floor for its error.

    python benchmarks/bench_potential.py --json [--model mlp_li_ec_graphene] [--nve-steps 1000] [--rdf-steps 2000]

``--model`` names a shipped model folder (``models/<name>``): the symmetry-function default or
the message-passing ``mlp_li_ec_graphene_painn``; both are measured by the same code.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


TARGETS = dict(heldout_force_rmse_meV_per_A=50.0, heldout_energy_rmse_meV_per_atom=2.0,
               atom_steps_per_s=10_000.0, speedup_vs_xtb=100.0, nve_drift_meV_per_atom_per_ps=1.0,
               li_o_peak_shift_A=0.03, li_o_cn_diff=0.3)
# the 2.4 ps reference xTB MDs of the training cell (F = 0, 300 K), split over files to keep each
# under the size limit for tracked files: seeds 500–504, 505–508 + 512, 513–519, 520–522
REFERENCE_MD_DBS = ("reference_md.db", "reference_md2.db", "reference_md3.db", "reference_md4.db")
#: the field of the reported (not target) speed at a field [V/Å]; the headline runs at zero field
SPEED_FIELD_V_PER_A = 0.05


def _time_calls(fn, n):
    fn()  # warm-up
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--json", action="store_true")
    p.add_argument("--model", default=None, help="shipped model folder name (default: the package default)")
    p.add_argument("--nve-steps", type=int, default=1000)
    p.add_argument("--rdf-steps", type=int, default=2000)
    p.add_argument("--speed-calls", type=int, default=5, help="force calls per timing (their mean is one timing)")
    p.add_argument("--speed-rounds", type=int, default=5,
                   help="interleaved timing rounds; the speed headline is their median (1 before 2026-12-06)")
    p.add_argument("--ml-md-factor", type=float, default=2.0,
                   help="each interface ML run is this many times as long as one kept reference run (ML sampling "
                        "is cheap: longer runs shrink the ML side of the peak and CN intervals; 1 before 2026-12-06)")
    p.add_argument("--skip-xtb-300", action="store_true", help="time xTB on the 60-atom cell only (~80 s saved)")
    args = p.parse_args(argv)
    if not 1 <= args.speed_rounds <= 50:
        raise SystemExit(f"--speed-rounds = {args.speed_rounds} is out of range: must be in [1, 50]")
    if not 0.1 <= args.ml_md_factor <= 20:
        raise SystemExit(f"--ml-md-factor = {args.ml_md_factor} is out of range: must be in [0.1, 20]")

    import numpy as np
    import torch

    torch.set_num_threads(1)
    from multiscale.atomistic import default_system, load_potential, reference_calculator
    from multiscale.atomistic.labelling import load_dataset
    from multiscale.atomistic.md import run_md
    from multiscale.atomistic.validation import (errors_by_field, errors_by_packing, force_errors_by_element,
                                                 pooled_force_rmse, predict_frames, reference_md_frames,
                                                 structure_comparison, validation_frames)
    from multiscale.errors import DataFileError, InputError
    from multiscale.resources import data_path

    db = data_path("xtb_li_ec_graphene", "labels.db")
    calc = load_potential(args.model)
    out: dict = dict(model=calc.model_name, architecture=calc.ensemble.members[0].config().get("architecture"),
                     reference=calc.reference, n_members=len(calc.ensemble.members))

    # accuracy
    held = load_dataset(db, split="heldout")
    # each set is predicted once and its statistics share that prediction
    held_pred = predict_frames(calc.ensemble, held)
    he = errors_by_field(calc.ensemble, held, predictions=held_pred)
    f_held = max(he)  # the held-out field
    out["heldout_field_V_per_A"] = f_held
    out["heldout_force_rmse_meV_per_A"] = he[f_held]["force_meV_per_A"]
    out["heldout_energy_rmse_meV_per_atom"] = he[f_held]["energy_meV_per_atom"]
    # the same without the first 20 fs of the held-out trajectory (relaxation of its random packing)
    late = [k for k, a in enumerate(held) if a.info["step"] >= 20]
    he_eq = errors_by_field(calc.ensemble, [held[k] for k in late], predictions=[held_pred[k] for k in late])
    out["heldout_after_20fs_force_rmse_meV_per_A"] = he_eq[f_held]["force_meV_per_A"]
    out["heldout_after_20fs_energy_rmse_meV_per_atom"] = he_eq[f_held]["energy_meV_per_atom"]
    # what a user gets: the ASE calculator, core repulsion included (the ensemble alone above)
    df, n_wall = [], 0
    for a in held:
        b = a.copy()
        calc.set(field_V_per_A=float(a.info["field_V_per_A"]))
        b.calc = calc
        df.append((b.get_forces() - a.get_forces()).ravel())
        n_wall += bool(calc.results.get("core_repulsion_energy", 0.0) > 0)
    out["heldout_calculator_force_rmse_meV_per_A"] = float(np.sqrt(np.mean(np.concatenate(df) ** 2)) * 1e3)
    out["heldout_frames_inside_core_wall"] = f"{n_wall}/{len(held)}"
    out["heldout_n_frames"] = len(held)
    out["heldout_trajectories"] = len({a.info.get("task") for a in held})
    calc.set(field_V_per_A=0.0)
    out["heldout_force_rmse_by_element"] = force_errors_by_element(calc.ensemble, held, predictions=held_pred)
    # EC's carbonyl C and O apart from its ring atoms (benchmarks/bench_force_residual.py: they carry the error)
    out["heldout_force_rmse_by_role"] = force_errors_by_element(calc.ensemble, held, predictions=held_pred, by="role")
    # the atoms that move in ML-MD (the sheet is frozen there): reported beside the all-atom headline
    out["heldout_electrolyte_force_rmse_meV_per_A"] = pooled_force_rmse(out["heldout_force_rmse_by_element"])
    # packings, not frames, are the independent samples: the energy RMSE of four packings is four
    # numbers. Intervals resample whole packings; offset_rms is the part that is one constant per packing.
    bp = errors_by_packing(calc.ensemble, held, predictions=held_pred)
    out["heldout_n_packings"] = bp["n_packings"]
    out["heldout_energy_interval_meV_per_atom"] = bp["energy_interval_meV_per_atom"]
    out["heldout_energy_offset_rms_meV_per_atom"] = bp["offset_rms_meV_per_atom"]
    out["heldout_force_interval_meV_per_A"] = bp["force_interval_meV_per_A"]
    # ten times the packings at the same untrained field (labels_heldout2.db, 40 fs each): the
    # same question with an interval narrow enough to compare models; reported beside the target set
    try:
        held2 = load_dataset(data_path("xtb_li_ec_graphene", "labels_heldout2.db"), split="heldout")
    except (DataFileError, InputError) as exc:
        out["heldout2"] = f"not measured: {exc}"
    else:
        bp2 = errors_by_packing(calc.ensemble, held2)
        out.update({f"heldout2_{k}": v for k, v in bp2.items()})
    # bulk electrolyte (3-D periodic LiBF4/EC cubes, F = 0): held-out packings, reported (no target)
    try:
        bulk = load_dataset(data_path("xtb_li_ec_graphene", "labels_bulk.db"), split="heldout")
    except DataFileError as exc:  # not shipped
        out["bulk_heldout"] = f"not measured: {exc}"
    else:
        bulk_pred = predict_frames(calc.ensemble, bulk)
        be = errors_by_field(calc.ensemble, bulk, predictions=bulk_pred)[0.0]
        out["bulk_heldout_force_rmse_meV_per_A"] = be["force_meV_per_A"]
        out["bulk_heldout_energy_rmse_meV_per_atom"] = be["energy_meV_per_atom"]
        out["bulk_heldout_n_frames"] = len(bulk)
        out["bulk_heldout_force_rmse_by_element"] = force_errors_by_element(calc.ensemble, bulk, predictions=bulk_pred)
    # equilibrium liquid at the interface: frames of the 2.4 ps reference xTB MDs (F = 0, 300 K,
    # never trained on), the kept three quarters of each run, every 25th stored frame (125 fs
    # apart). The held-out set above is the first 80 fs after random packings; this is the
    # state ML-MD actually samples. Reported, no target.
    ref_dbs = [data_path("xtb_li_ec_graphene", name, must_exist=False) for name in REFERENCE_MD_DBS]
    if all(p.is_file() for p in ref_dbs):
        eq = reference_md_frames(ref_dbs, discard_fraction=0.25)[::25]
        eq_pred = predict_frames(calc.ensemble, eq)
        ee = errors_by_field(calc.ensemble, eq, predictions=eq_pred)[0.0]
        out["equilibrium_force_rmse_meV_per_A"] = ee["force_meV_per_A"]
        out["equilibrium_energy_rmse_meV_per_atom"] = ee["energy_meV_per_atom"]
        out["equilibrium_electrolyte_force_rmse_meV_per_A"] = pooled_force_rmse(
            force_errors_by_element(calc.ensemble, eq, predictions=eq_pred))
        out["equilibrium_n_frames"] = len(eq)
    else:
        out["equilibrium"] = f"not measured: one of {', '.join(REFERENCE_MD_DBS)} not shipped"
    val = validation_frames(calc)
    if val:
        split = calc.info.get("history", {}).get("settings", {}).get("validation_split", "random")
        out["validation_split"] = split
        out["validation_trajectories"] = len({a.info.get("task") for a in val})
        val_pred = predict_frames(calc.ensemble, val)
        out["validation_errors_by_field"] = {str(k): v for k, v in
                                             errors_by_field(calc.ensemble, val, predictions=val_pred).items()}
        out["validation_force_rmse_by_element"] = force_errors_by_element(calc.ensemble, val, predictions=val_pred)

    # speed: ML ensemble on 300 atoms, and ML vs xTB on the same 60-atom cell
    big = default_system(0, size="md")
    big.calc = calc

    def ml_big():
        # force a fresh calculation by moving an electrolyte atom: ML-MD holds the electrode fixed,
        # so a baseline of the sheet (if the model has one) is reused between steps, as in MD
        big.positions[-1, 0] += 1e-6
        big.get_forces()

    def ml_big_sheet_moving():
        big.positions[0, 0] += 1e-6  # atom 0 is a sheet carbon: the baseline is recomputed
        big.get_forces()

    # at a field the masked sheet's charge heads enter the energy, so its atoms stay in the backward
    # and the contraction that zero field skips (PotentialEnsemble._forward_stacked): timed too
    big_field = default_system(0, size="md")
    big_field.calc = load_potential(args.model, field_V_per_A=SPEED_FIELD_V_PER_A)

    def ml_big_field():
        big_field.positions[-1, 0] += 1e-6
        big_field.get_forces()

    # The host's speed drifts by ±25 % between minutes (same network, re-timed: 7,460-11,840): one
    # timing decides nothing. Each round times 1 thread, 2 threads, the moving sheet and a field back
    # to back (mean of --speed-calls calls each); the headline is the median over rounds of each round's
    # faster thread setting, and every round is printed.
    rounds = []
    for _ in range(args.speed_rounds):
        torch.set_num_threads(1)
        t1 = _time_calls(ml_big, args.speed_calls)
        # the target is for "this 2-core machine": torch on both cores (intra-op threads)
        torch.set_num_threads(2)
        t2 = _time_calls(ml_big, args.speed_calls)
        tm = _time_calls(ml_big_sheet_moving, args.speed_calls)
        tf = _time_calls(ml_big_field, args.speed_calls)
        rounds.append((t1, t2, tm, tf))
    torch.set_num_threads(1)
    t1s, t2s, tms, tfs = (np.array(c) for c in zip(*rounds))
    t_big, t_big2, t_moving = float(np.median(t1s)), float(np.median(t2s)), float(np.median(tms))
    best = np.minimum(t1s, t2s)
    out["ml_seconds_per_call_300_atoms"] = t_big
    out["atom_steps_per_s_1_thread"] = len(big) / t_big
    out["ml_seconds_per_call_300_atoms_2_threads"] = t_big2
    out["atom_steps_per_s"] = float(len(big) / np.median(best))
    out["atom_steps_per_s_rounds"] = [round(float(len(big) / t)) for t in best]
    out["speed_rounds"] = args.speed_rounds
    out["atom_steps_per_s_sheet_moving_2_threads"] = len(big) / t_moving
    out["atom_steps_per_s_at_field_2_threads"] = len(big) / float(np.median(tfs))
    out["speed_field_V_per_A"] = SPEED_FIELD_V_PER_A
    small = held[0].copy()
    small.calc = calc
    calc.set(field_V_per_A=0.0)

    def ml_small():
        small.positions[0, 0] += 1e-6
        small.get_forces()

    t_ml = _time_calls(ml_small, args.speed_calls)
    ref_atoms = held[0].copy()
    ref_atoms.calc = reference_calculator(calc.reference, field_V_per_A=0.0)
    t0 = time.perf_counter()
    ref_atoms.get_forces()
    t_xtb = time.perf_counter() - t0
    out.update(ml_seconds_per_call_60_atoms=t_ml, xtb_seconds_per_call_60_atoms=t_xtb,
               speedup_vs_xtb_60_atoms=t_xtb / t_ml)
    if not args.skip_xtb_300:
        ref_big = big.copy()
        ref_big.calc = reference_calculator(calc.reference, field_V_per_A=0.0)
        t0 = time.perf_counter()
        f_xtb_big = ref_big.get_forces().copy()
        t_xtb_big = time.perf_counter() - t0
        # a whole force call on both sides: the sheet's baseline recomputed, the slower of the timings
        out.update(xtb_seconds_per_call_300_atoms=t_xtb_big, speedup_vs_xtb=t_xtb_big / max(t_big, t_moving))
    else:
        out["speedup_vs_xtb"] = out["speedup_vs_xtb_60_atoms"]

    # NVE drift at 0.5 fs, from the most relaxed held-out frame relaxed on the ML surface (a frame
    # of the reference MD is not a low-force state of the model)
    from multiscale.atomistic.md import relax
    from multiscale.atomistic.system import freeze_electrode

    nve = max(held, key=lambda a: a.info["step"]).copy()
    nve.calc = None
    freeze_electrode(nve)  # rigid electrode, as in every ML-MD of the package
    calc.set(field_V_per_A=float(nve.info["field_V_per_A"]))
    try:
        relax(nve, calc)
        res = run_md(nve, calc, n_steps=args.nve_steps, timestep_fs=0.5, initial_temperature_K=300, seed=0,
                     on_untrusted="flag")
        out["nve_drift_meV_per_atom_per_ps"] = abs(res.drift_meV_per_atom_per_ps())
        out["nve_simulated_ps"] = float(res.time_fs[-1] / 1000)
        out["nve_untrusted_frames"] = res.n_untrusted
    except InputError as exc:   # the dynamics left the potential's domain: a failed target, reported
        out["nve_drift_meV_per_atom_per_ps"] = None
        out["nve_stopped"] = str(exc)

    # structure: Li–O carbonyl RDF vs reference xTB MD. The reference is the 2.4 ps xTB MDs of the
    # training cell (reference_md.db, first quarter of each dropped) when shipped; an ML Langevin MD
    # continues from the last frame of each for as long as one kept reference trajectory. Without
    # it, the 40 fs halves of the four F = 0 label trajectories (relaxing random packings, not an
    # equilibrium structure) are the reference, as before.
    def structure(ref_db, key, discard_fraction, n_steps=None, factor=1.0):
        ref = reference_md_frames(ref_db, field_V_per_A=0.0, temperature_K=300.0, discard_fraction=discard_fraction)
        if n_steps is None:  # each ML run as long as one kept reference trajectory (1 fs xTB steps, 0.5 fs ML)
            steps = sorted({a.info["step"] for a in ref})
            n_traj = len({a.info["task"] for a in ref})
            n_steps = int(round(factor * len(ref) / n_traj * (steps[1] - steps[0]) / 0.5))
        try:
            st = structure_comparison(calc, ref, n_steps=n_steps, timestep_fs=0.5, temperature_K=300.0)
        except InputError as exc:
            out[f"{key}structure_stopped"] = str(exc)
            return None
        out[f"{key}structure"] = st
        return st

    try:
        st = structure([data_path("xtb_li_ec_graphene", name) for name in REFERENCE_MD_DBS],
                       "", 0.25, factor=args.ml_md_factor)
        out["structure_reference"] = (f"{' + '.join(REFERENCE_MD_DBS)}: {st['n_trajectories'] if st else '?'} "
                                      "xTB MDs of 2.4 ps, 60-atom cell, F = 0, 300 K")
        out["structure_ml_md_factor"] = args.ml_md_factor
    except DataFileError:  # not shipped: the label trajectories
        st = structure(db, "", 0.5, args.rdf_steps)
        out["structure_reference"] = "labels.db: second halves of the four 80 fs F = 0 label trajectories"
    # the headline peak is the broadened one with its jackknife interval (validation.smoothed_first_peak);
    # the histogram maximum, the only measure before 2026-12-01, is kept beside it
    out["li_o_peak_shift_A"] = st["Li_O_carbonyl"]["smoothed"]["peak_shift_A"] if st else None
    out["li_o_peak_shift_ci95_A"] = st["Li_O_carbonyl"]["smoothed"]["peak_shift_ci95_A"] if st else None
    out["li_o_peak_shift_histogram_A"] = st["Li_O_carbonyl"]["peak_shift_A"] if st else None
    # can these trajectories decide the 0.03 Å target at all? (interval half-width below it)
    out["li_o_peak_target_resolved"] = bool(st and out["li_o_peak_shift_ci95_A"] < TARGETS["li_o_peak_shift_A"])
    out["li_o_cn_diff"] = st["Li_O_carbonyl"]["cn_diff"] if st else None
    out["li_o_cn_diff_ci95"] = st["Li_O_carbonyl"]["smoothed"]["cn_diff_ci95"] if st else None
    # each ML run starts from the last frame of one reference run (the same packing): the paired
    # interval removes the packing-to-packing scatter the two sides share (validation.paired_jackknife)
    shell = st["Li_O_carbonyl"]["smoothed"] if st else {}
    out["li_o_peak_shift_paired_ci95_A"] = shell.get("peak_shift_paired_ci95_A")
    out["li_o_cn_diff_paired_ci95"] = shell.get("cn_diff_paired_ci95")
    # the same in the bulk electrolyte (LiBF4/EC cube, reference_md_bulk.db), reported without target
    try:
        st = structure(data_path("xtb_li_ec_graphene", "reference_md_bulk.db"), "bulk_", 0.25)
        if st:
            out["bulk_li_o_peak_shift_A"] = st["Li_O_carbonyl"]["smoothed"]["peak_shift_A"]
            out["bulk_li_o_peak_shift_ci95_A"] = st["Li_O_carbonyl"]["smoothed"]["peak_shift_ci95_A"]
            out["bulk_li_o_peak_shift_histogram_A"] = st["Li_O_carbonyl"]["peak_shift_A"]
            out["bulk_li_o_cn_diff"] = st["Li_O_carbonyl"]["cn_diff"]
            out["bulk_li_o_cn_diff_ci95"] = st["Li_O_carbonyl"]["smoothed"]["cn_diff_ci95"]
    except DataFileError as exc:  # not shipped
        out["bulk_structure"] = f"not measured: {exc}"

    # how local is the reference? On the 300-atom cell, atoms farther than 11.5 Å from a centre are
    # moved; forces within 1.5 Å of it are beyond the 2 × 5 Å force range of the model.
    if not args.skip_xtb_300:
        from multiscale.atomistic.validation import reference_nonlocality

        centres = {"graphene C": 0, "Li": int(np.nonzero(big.numbers == 3)[0][0])}
        out["reference_nonlocality_300_atoms"] = {
            name: reference_nonlocality(ref_big, ref_big.calc, c, radius_A=11.5, probe_radius_A=1.5, amplitude_A=0.05,
                                        forces0=f_xtb_big)
            for name, c in centres.items()}

    def below(key):
        return out[key] is not None and out[key] <= TARGETS[key]

    passed = {
        "heldout_force_rmse_meV_per_A": out["heldout_force_rmse_meV_per_A"] <= TARGETS["heldout_force_rmse_meV_per_A"],
        "heldout_energy_rmse_meV_per_atom":
            out["heldout_energy_rmse_meV_per_atom"] <= TARGETS["heldout_energy_rmse_meV_per_atom"],
        "atom_steps_per_s": out["atom_steps_per_s"] >= TARGETS["atom_steps_per_s"],
        "speedup_vs_xtb": out["speedup_vs_xtb"] >= TARGETS["speedup_vs_xtb"],
        "nve_drift_meV_per_atom_per_ps": below("nve_drift_meV_per_atom_per_ps"),
        "li_o_peak_shift_A": below("li_o_peak_shift_A"),
        "li_o_cn_diff": below("li_o_cn_diff"),
    }
    out["targets"] = TARGETS
    out["pass"] = passed
    out["all_pass"] = all(passed.values())
    return out


if __name__ == "__main__":
    result = main()
    if "--json" not in sys.argv:
        for k, v in result.items():
            print(f"{k}: {v}")
    print(json.dumps(result, default=float))
