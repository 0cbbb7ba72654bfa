"""How much of the graphene sheet's GFN1-xTB forces the Γ-point π-band term explains.

The shipped symmetry-function potential has ~650 meV/Å in-plane force errors on the sheet's
carbons, four times its error on the electrolyte. The hypothesis of
:mod:`multiscale.atomistic.pi_electrons`: the reference's sheet is a Γ-point metal whose forces
are not local. This benchmark tests it without any network, by least squares on the in-plane
force components of the sheet carbons:

- ``bonds``: F = Σ_bonds Σ_k c_k (r − 1.42 Å)^k û, k = 0…3 (a local bond-stretch model, 4 parameters;
  the σ-bond term of :func:`multiscale.atomistic.pi_electrons.fit_bond_terms`);
- ``pi + bonds``: the π-band forces (coefficient fixed to 1, the module's parameters) plus the same
  bond terms;
- ``pi free + bonds``: the π coefficient fitted as well (≈ 1 if the parameters are right);
- ``pi + bonds + angles``: the σ valence-angle terms added to the bond terms (angle bending,
  stretch–bend and stretch–stretch couplings of :func:`multiscale.atomistic.pi_electrons.fit_bond_terms`
  with ``angles=True``: a valence force field), fitted jointly.

Fitted on every 12th frame of ``labels_packings.db`` (training packings), evaluated there and on
the held-out set (``labels.db``, split=heldout, four packings never trained on, F = 0.075 V/Å).
Reference RMS and the shipped model's in-plane error on the same atoms are printed beside them.

    python benchmarks/bench_pi_baseline.py --json [--stride 12] [--model NAME]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _stack(frames, calc=None):
    from multiscale.atomistic.pi_electrons import (N_ANGLE_TERMS, N_BOND_TERMS, PiBandSettings, angle_force_columns,
                                                   bond_force_columns, pi_band_energy_forces, sheet_carbons)

    settings = PiBandSettings()
    B, A, P, Y, M = [], [], [], [], []
    for a in frames:
        sheet = sheet_carbons(a)
        if len(sheet) == 0:
            continue
        B.append(bond_force_columns(a, sheet, settings)[:, :2].reshape(-1, N_BOND_TERMS))
        A.append(angle_force_columns(a, sheet, settings)[:, :2].reshape(-1, N_ANGLE_TERMS))
        P.append(pi_band_energy_forces(a, sheet=sheet)[1][sheet][:, :2].ravel())
        Y.append(a.get_forces()[sheet][:, :2].ravel())
        if calc is not None:
            b = a.copy()
            calc.set(field_V_per_A=float(a.info.get("field_V_per_A", 0.0)))
            b.calc = calc
            M.append(b.get_forces()[sheet][:, :2].ravel())
    return (np.concatenate(B), np.concatenate(A), np.concatenate(P), np.concatenate(Y),
            np.concatenate(M) if M else None)


def _rms_meV(x):
    return float(np.sqrt(np.mean(x ** 2)) * 1e3)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true")
    p.add_argument("--stride", type=int, default=12, help="every n-th training frame for the fit")
    p.add_argument("--model", default=None, help="shipped model whose in-plane sheet error is printed beside")
    args = p.parse_args(argv)

    from multiscale.atomistic import load_potential
    from multiscale.atomistic.labelling import load_dataset
    from multiscale.atomistic.pi_electrons import N_BOND_TERMS
    from multiscale.resources import data_path

    t0 = time.perf_counter()
    calc = load_potential(args.model, precision="float64")
    train = load_dataset(data_path("xtb_li_ec_graphene", "labels_packings.db"))[::args.stride]
    held = load_dataset(data_path("xtb_li_ec_graphene", "labels.db"), split="heldout")
    Bt, At, Pt, Yt, _ = _stack(train)
    Bh, Ah, Ph, Yh, Mh = _stack(held, calc)
    Vt, Vh = np.column_stack([Bt, At]), np.column_stack([Bh, Ah])
    c_v, *_ = np.linalg.lstsq(Vt, Yt - Pt, rcond=None)
    c_b, *_ = np.linalg.lstsq(Bt, Yt, rcond=None)
    c_pb, *_ = np.linalg.lstsq(Bt, Yt - Pt, rcond=None)
    c_free, *_ = np.linalg.lstsq(np.column_stack([Pt, Bt]), Yt, rcond=None)
    out = dict(
        n_train_frames=len(train), n_heldout_frames=len(held),
        reference_rms_meV_per_A=dict(train=_rms_meV(Yt), heldout=_rms_meV(Yh)),
        bonds_only_rmse_meV_per_A=dict(train=_rms_meV(Yt - Bt @ c_b), heldout=_rms_meV(Yh - Bh @ c_b)),
        pi_plus_bonds_rmse_meV_per_A=dict(train=_rms_meV(Yt - Pt - Bt @ c_pb), heldout=_rms_meV(Yh - Ph - Bh @ c_pb)),
        pi_free_coefficient=float(c_free[0]),
        pi_free_plus_bonds_rmse_meV_per_A=dict(
            train=_rms_meV(Yt - np.column_stack([Pt, Bt]) @ c_free),
            heldout=_rms_meV(Yh - np.column_stack([Ph, Bh]) @ c_free)),
        pi_plus_bonds_angles_rmse_meV_per_A=dict(train=_rms_meV(Yt - Pt - Vt @ c_v), heldout=_rms_meV(Yh - Ph - Vh @ c_v)),
        angle_coefficients=[float(c) for c in c_v[N_BOND_TERMS:]],
        model=calc.model_name, model_has_baseline=calc.ensemble.baseline is not None,
        model_heldout_inplane_sheet_rmse_meV_per_A=_rms_meV(Yh - Mh),
        wall_s=time.perf_counter() - t0,
    )
    print(json.dumps(out, indent=2) if args.json else
          "\n".join(f"{k}: {v}" for k, v in out.items()))
    return out


if __name__ == "__main__":
    main()
