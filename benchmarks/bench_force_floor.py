"""What sets the floor of the ML potential's force error? Two hypotheses, measured.

1. **Label noise.** GFN1-xTB single points repeated on held-out frames (same settings, and the
   SCF converged 100× tighter): if the stored forces moved by tens of meV/Å between runs, no
   model could fit them better than that.
2. **Long-range electrostatics.** The model is local (6.5 Å); Li⁺ and BF₄⁻ are ions. The
   Coulomb force on each atom from the reference's own Mulliken charges beyond the cutoff
   (Ewald: the reciprocal-space force of Gaussian charges of width σ, minus its real-space part
   inside 6.5 Å) is regressed onto the model's force residual on the molecular atoms. The
   fraction of residual it explains is what an explicit electrostatic term could gain.

    python benchmarks/bench_force_floor.py --json [--model NAME] [--frames 8]

Prints JSON: the repeat differences [meV/Å], and per σ the far-field force RMS, its correlation
with the residual and the residual RMSE before and after the best scaling.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

KE_EV_A = 14.399645  # e²/(4πε₀) [eV Å]


def reciprocal_coulomb_forces(atoms, charges, alpha_per_A: float) -> tuple[float, np.ndarray]:
    """Ewald reciprocal-space energy [eV] and forces [eV/Å] of point charges screened by
    Gaussians (kernel erf(αr)/r over all images), 3-D periodic cell; self term removed."""
    cell = atoms.cell.array
    vol = abs(np.linalg.det(cell))
    recip = 2 * np.pi * np.linalg.inv(cell).T
    k_max = 2 * alpha_per_A * np.sqrt(np.log(1e8))
    n_max = [int(np.ceil(k_max / np.linalg.norm(recip[i]))) + 1 for i in range(3)]
    n = np.array(np.meshgrid(*[np.arange(-m, m + 1) for m in n_max], indexing="ij")).reshape(3, -1).T
    k = n @ recip
    k2 = (k ** 2).sum(1)
    keep = (k2 > 0) & (k2 < k_max ** 2)
    k, k2 = k[keep], k2[keep]
    g = np.exp(-k2 / (4 * alpha_per_A ** 2)) / k2
    phase = np.exp(1j * atoms.positions @ k.T)
    s = (charges[:, None] * phase).sum(0)
    energy = KE_EV_A * 2 * np.pi / vol * (g * np.abs(s) ** 2).sum() - KE_EV_A * alpha_per_A / np.sqrt(np.pi) * (
        charges ** 2).sum()
    forces = KE_EV_A * 4 * np.pi / vol * charges[:, None] * ((g * np.imag(phase * np.conj(s)))[:, :, None] * k).sum(1)
    return float(energy), forces


def near_coulomb_forces(atoms, charges, alpha_per_A: float, cutoff_A: float) -> np.ndarray:
    """Forces [eV/Å] of the same kernel erf(αr)/r from the pairs closer than ``cutoff_A``."""
    from ase.neighborlist import neighbor_list
    from scipy.special import erf

    i, j, d = neighbor_list("ijD", atoms, cutoff_A)
    r = np.linalg.norm(d, axis=1)
    dk = (2 * alpha_per_A / np.sqrt(np.pi) * np.exp(-(alpha_per_A * r) ** 2) * r - erf(alpha_per_A * r)) / r ** 2
    f = np.zeros((len(atoms), 3))
    np.add.at(f, i, (KE_EV_A * charges[i] * charges[j] * dk)[:, None] * d / r[:, None])
    return f


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true")
    p.add_argument("--model", default="mlp_li_ec_graphene_fine")
    p.add_argument("--frames", type=int, default=8, help="held-out frames for the repeat test")
    p.add_argument("--stride", type=int, default=4, help="every n-th held-out frame for the electrostatics test")
    args = p.parse_args(argv)

    from multiscale.atomistic import load_potential, reference_calculator
    from multiscale.atomistic.labelling import load_dataset
    from multiscale.atomistic.system import electrode_atoms
    from multiscale.resources import data_path

    t0 = time.perf_counter()
    held = load_dataset(data_path("xtb_li_ec_graphene", "labels.db"), split="heldout")
    out: dict = dict(model=args.model, n_heldout=len(held))
    # 1. repeat the reference
    rep = {1.0: [], 0.01: []}
    for a in held[5::max(1, len(held) // args.frames)][:args.frames]:
        for acc in rep:
            b = a.copy()
            b.calc = reference_calculator("GFN1-xTB", field_V_per_A=a.info["field_V_per_A"], accuracy=acc)
            rep[acc].append(np.sqrt(np.mean((b.get_forces() - a.get_forces()) ** 2)) * 1e3)
    out["repeat_force_rms_diff_meV_per_A"] = max(rep[1.0])
    out["tight_scf_force_rms_diff_meV_per_A"] = max(rep[0.01])
    # 2. the far-field Coulomb force vs the model's residual, molecular atoms
    calc = load_potential(args.model)
    frames = held[::args.stride]
    res, mol, far = [], [], {s: [] for s in (1.0, 2.0, 3.0)}
    for a in frames:
        q = a.calc.results["charges"]
        b = a.copy()
        calc.set(field_V_per_A=float(a.info["field_V_per_A"]))
        b.calc = calc
        res.append(a.get_forces() - b.get_forces())
        mol.append(~electrode_atoms(a))
        for sigma in far:
            alpha = 1 / (np.sqrt(2) * sigma)
            far[sigma].append(reciprocal_coulomb_forces(a, q, alpha)[1] - near_coulomb_forces(a, q, alpha, 6.5))
    r = np.concatenate(res)[np.concatenate(mol)].ravel()
    out["residual_rmse_molecular_meV_per_A"] = float(np.sqrt(np.mean(r ** 2)) * 1e3)
    out["far_field"] = {}
    for sigma, fs in far.items():
        x = np.concatenate(fs)[np.concatenate(mol)].ravel()
        beta = float(x @ r / (x @ x))
        out["far_field"][f"sigma_{sigma:g}_A"] = dict(
            far_force_rms_meV_per_A=float(np.sqrt(np.mean(x ** 2)) * 1e3), correlation=float(np.corrcoef(x, r)[0, 1]),
            best_scale=beta, residual_after_meV_per_A=float(np.sqrt(np.mean((r - beta * x) ** 2)) * 1e3))
    out["wall_s"] = time.perf_counter() - t0
    print(json.dumps(out, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    return out


if __name__ == "__main__":
    main()
