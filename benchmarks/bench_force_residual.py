"""Where does the ML potential's force error sit, and would a molecular force field under the
network remove it?

The graphene sheet's error fell from 212 to 58 meV/Å once its σ framework got a valence force
field under the network (``bench_pi_baseline.py``). This asks the same of the molecules.

1. **Where.** The force residual (reference − model) per chemical role
   (:func:`multiscale.atomistic.validation.chemical_roles`: EC's carbonyl C and O apart from its
   ring atoms), with each role's share of the summed squared error, and per molecular atom by its
   distance to the Li⁺.
2. **Bias or variance.** The same on frames of the model's own training split
   (:func:`~multiscale.atomistic.validation.training_frames`). A residual as large on training
   frames as held out is a model that cannot represent the reference (more data will not help);
   a much smaller one is a model short of data.
3. **Would a molecular force field help?** Terms linear in their coefficients, typed by the
   atoms' roles, are fitted by least squares to the residual forces on the molecular atoms (and the
   per-atom energy residual) of the training frames, and the residual left on held-out frames is
   reported. The sets, each adding to the one before:

   - ``valence``: bond stretches Σ d, d², d³, d⁴ (d = r − ⟨r⟩ of the type), angle bends
     Σ x, x², x³ (x = cos θ − ⟨cos θ⟩), stretch–bend Σ (d_ij + d_ik) x and stretch–stretch Σ d_ij d_ik;
   - ``torsions``: dihedrals Σ cos φ, cos² φ, cos³ φ and the pyramidalisation χ², χ⁴ of
     three-bonded centres (χ = û₁·(û₂ × û₃): the carbonyl C's out-of-plane wag);
   - ``li_pairs``: Li⁺–atom pair terms per partner role, 13 smooth hat functions 1.6–5.0 Å.

   A set that takes the training residual down would be a baseline worth building into the
   model, as the sheet's was.
4. **Would the charges the model's head misses carry the force?** An oracle: on every molecular
   atom i, the fields Σ_j Δq_j g_k(r_ij) r̂_ij of the charge errors Δq_j = q_ref − q_model of its
   neighbours within 6.5 Å (Gaussians g_k, 0.5 Å wide, centred 0.5…6.5 Å), and the same of the
   reference charges q_ref, fitted per role by least squares to the residual forces of the training
   frames and applied held out. Nonlocal charge transfer (what a charge-equilibration model would
   add) would show here as a residual these columns explain, though no model can know q_ref.

    python benchmarks/bench_force_residual.py --json [--model NAME] [--train-frames 1000]

Prints JSON. Takes ~15 min on one core (the 2,120 frames' term columns dominate; 35 min beside two
other runs).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

TERM_SETS = ("valence", "torsions", "li_pairs")
LI_KNOTS_A = np.arange(1.6, 5.01, 0.3)
CHARGE_CENTRES_A = np.linspace(0.5, 6.5, 12)
CHARGE_WIDTH_A = 0.5
BOND_A = 1.75  # covalent bonds of EC and BF₄⁻ (the longest, C–O, is ~1.45 Å); Li⁺ makes none


def topology(atoms, roles) -> dict:
    """Directed bonds, angles, dihedrals and three-bonded centres of the molecules (the sheet and
    Li⁺ left out), as index arrays into the directed bond list, and the Li⁺ pairs."""
    from multiscale.atomistic.neighbours import neighbour_list

    mol = np.array([r not in ("C_graphene", "Li") for r in roles])
    nl = neighbour_list(atoms.positions, atoms.cell, atoms.pbc, BOND_A)
    keep = mol[nl.i] & mol[nl.j] & ~((atoms.numbers[nl.i] == 1) & (atoms.numbers[nl.j] == 1))
    bi, bj, bs = nl.i[keep], nl.j[keep], nl.shifts[keep] @ np.array(atoms.cell)
    index = {(int(p), int(q)): n for n, (p, q) in enumerate(zip(bi, bj))}
    out_of = [[] for _ in atoms]
    for n, p in enumerate(bi):
        out_of[p].append(n)
    angles = [(a, b) for c in range(len(atoms)) for x, a in enumerate(out_of[c]) for b in out_of[c][x + 1:]]
    dihedrals = []  # (b1, b2, b3): i→j, j→k, k→l with i ≠ k, j ≠ l, i ≠ l
    for b2 in range(len(bi)):
        j, k = bi[b2], bj[b2]
        if j > k:
            continue  # each central bond once
        for b1 in out_of[j]:
            i = bj[b1]
            if i == k:
                continue
            for b3 in out_of[k]:
                lt = bj[b3]
                if lt not in (j, i):
                    dihedrals.append((index[(int(i), int(j))], b2, b3))
    centres = [tuple(out_of[c]) for c in range(len(atoms)) if len(out_of[c]) == 3]
    li = [k for k, r in enumerate(roles) if r == "Li"]
    lp = neighbour_list(atoms.positions, atoms.cell, atoms.pbc, float(LI_KNOTS_A[-1]) + 0.3)
    sel = np.isin(lp.i, li) & mol[lp.j]
    return dict(bi=bi, bj=bj, bs=bs, angles=np.array(angles, int).reshape(-1, 2),
                dihedrals=np.array(dihedrals, int).reshape(-1, 3), centres=np.array(centres, int).reshape(-1, 3),
                li_i=lp.i[sel], li_j=lp.j[sel], li_s=lp.shifts[sel] @ np.array(atoms.cell))


def type_keys(roles, topo) -> dict:
    """Type labels of every bond, angle, dihedral, centre and Li pair of one frame."""
    r = roles
    bi, bj = topo["bi"], topo["bj"]
    bond = ["-".join(sorted((r[p], r[q]))) for p, q in zip(bi, bj)]
    angle = [f"{r[bi[a]]}:" + "-".join(sorted((r[bj[a]], r[bj[b]]))) for a, b in topo["angles"]]
    dih = []
    for b1, b2, b3 in topo["dihedrals"]:
        t = (r[bi[b1]], r[bi[b2]], r[bj[b2]], r[bj[b3]])
        dih.append("-".join(min(t, t[::-1])))
    centre = [r[bi[c[0]]] for c in topo["centres"]]
    li = ["Li-" + r[q] for q in topo["li_j"]]
    return dict(bond=bond, angle=angle, dihedral=dih, centre=centre, li=li)


class ResidualBasis:
    """Columns (energy, forces) of the linear force-field terms of ``TERM_SETS[:n_sets]``, typed on
    the training frames (types first met later have no column)."""

    def __init__(self, frames, roles, topos, n_sets: int):
        self.n_sets = n_sets
        bl: dict[str, list] = {}
        al: dict[str, list] = {}
        dt, ct, lt = set(), set(), set()
        for a, ro, tp in zip(frames, roles, topos):
            keys = type_keys(ro, tp)
            r = np.linalg.norm(a.positions[tp["bj"]] - a.positions[tp["bi"]] + tp["bs"], axis=1)
            for k, x in zip(keys["bond"], r):
                bl.setdefault(k, []).append(x)
            u = (a.positions[tp["bj"]] - a.positions[tp["bi"]] + tp["bs"]) / r[:, None]
            for k, (p, q) in zip(keys["angle"], tp["angles"]):
                al.setdefault(k, []).append(float(u[p] @ u[q]))
            dt |= set(keys["dihedral"])
            ct |= set(keys["centre"])
            lt |= set(keys["li"])
        self.r0 = {k: float(np.mean(v)) for k, v in bl.items()}
        self.c0 = {k: float(np.mean(v)) for k, v in al.items()}
        cols = [("bond", k, n) for k in sorted(self.r0) for n in (1, 2, 3, 4)]
        cols += [(c, k, n) for k in sorted(self.c0) for c, n in
                 (("angle", 1), ("angle", 2), ("angle", 3), ("stretch_bend", 1), ("stretch_stretch", 1))]
        if n_sets >= 2:
            cols += [("dihedral", k, n) for k in sorted(dt) for n in (1, 2, 3)]
            cols += [("centre", k, n) for k in sorted(ct) for n in (2, 4)]
        if n_sets >= 3:
            cols += [("li", k, n) for k in sorted(lt) for n in range(len(LI_KNOTS_A))]
        self.columns = cols
        self.index = {c: n for n, c in enumerate(cols)}

    def _scatter(self, E, kind, keys, powers, values):
        import torch

        for n in powers:
            idx = [self.index.get((kind, k, n), -1) for k in keys]
            ok = torch.tensor([x >= 0 for x in idx])
            if ok.any():
                E = E.index_add(0, torch.tensor(idx)[ok], values(n)[ok])
        return E

    def __call__(self, atoms, roles, topo) -> tuple[np.ndarray, np.ndarray]:
        """(E (K,), F (K, N, 3)): each column's energy and forces −∂E/∂r on this frame."""
        import torch

        keys = type_keys(roles, topo)
        R = torch.tensor(atoms.positions, dtype=torch.float64, requires_grad=True)
        bi, bj = torch.from_numpy(topo["bi"]), torch.from_numpy(topo["bj"])
        v = R[bj] - R[bi] + torch.from_numpy(topo["bs"])
        r = torch.linalg.norm(v, dim=1)
        u = v / r[:, None]
        E = torch.zeros(len(self.columns), dtype=torch.float64)
        d = r - torch.tensor([self.r0.get(k, 0.0) for k in keys["bond"]], dtype=torch.float64)
        E = self._scatter(E, "bond", keys["bond"], (1, 2, 3, 4), lambda n: d ** n)
        if len(topo["angles"]):
            p, q = torch.from_numpy(topo["angles"][:, 0]), torch.from_numpy(topo["angles"][:, 1])
            x = (u[p] * u[q]).sum(1) - torch.tensor([self.c0.get(k, 0.0) for k in keys["angle"]], dtype=torch.float64)
            E = self._scatter(E, "angle", keys["angle"], (1, 2, 3), lambda n: x ** n)
            E = self._scatter(E, "stretch_bend", keys["angle"], (1,), lambda n: (d[p] + d[q]) * x)
            E = self._scatter(E, "stretch_stretch", keys["angle"], (1,), lambda n: d[p] * d[q])
        if self.n_sets >= 2 and len(topo["dihedrals"]):
            b1, b2, b3 = (v[torch.from_numpy(topo["dihedrals"][:, c])] for c in range(3))
            n1, n2 = torch.linalg.cross(b1, b2), torch.linalg.cross(b2, b3)
            cphi = (n1 * n2).sum(1) / torch.linalg.norm(n1, dim=1) / torch.linalg.norm(n2, dim=1)
            E = self._scatter(E, "dihedral", keys["dihedral"], (1, 2, 3), lambda n: cphi ** n)
        if self.n_sets >= 2 and len(topo["centres"]):
            c = torch.from_numpy(topo["centres"])
            chi = (u[c[:, 0]] * torch.linalg.cross(u[c[:, 1]], u[c[:, 2]])).sum(1)
            E = self._scatter(E, "centre", keys["centre"], (2, 4), lambda n: chi ** n)
        if self.n_sets >= 3 and len(topo["li_i"]):
            rl = torch.linalg.norm(R[torch.from_numpy(topo["li_j"])] - R[torch.from_numpy(topo["li_i"])]
                                   + torch.from_numpy(topo["li_s"]), dim=1)
            hat = (1 - torch.abs(rl[:, None] - torch.from_numpy(LI_KNOTS_A)) / 0.3).clamp(min=0)
            hat = hat * hat * (3 - 2 * hat)  # smooth, and the hats still sum to 1 between knots
            E = self._scatter(E, "li", keys["li"], range(len(LI_KNOTS_A)), lambda n: hat[:, n])
        used = [k for k in range(len(E)) if E[k].requires_grad]
        F = np.zeros((len(E), len(atoms), 3))
        if used:
            eye = torch.eye(len(E), dtype=torch.float64)[used]
            (g,) = torch.autograd.grad(E, R, grad_outputs=eye, is_grads_batched=True)
            F[used] = -g.numpy()
        return E.detach().numpy(), F


def charge_field_columns(atoms, charge_error, charges) -> np.ndarray:
    """(N, 2K, 3): on each atom, Σ_j x_j g_k(r_ij) r̂_ij for x = ``charge_error`` (columns 0…K−1) and
    x = ``charges`` (K…2K−1), over its neighbours within the last Gaussian's centre (r̂_ij points from
    i to j): vectors that rotate with the frame, linear in the charges."""
    from multiscale.atomistic.neighbours import neighbour_list

    nl = neighbour_list(atoms.positions, atoms.cell, atoms.pbc, float(CHARGE_CENTRES_A[-1]))
    v = atoms.positions[nl.j] - atoms.positions[nl.i] + nl.shifts @ np.array(atoms.cell)
    r = np.linalg.norm(v, axis=1)
    g = np.exp(-((r[:, None] - CHARGE_CENTRES_A) / CHARGE_WIDTH_A) ** 2)[:, :, None] * (v / r[:, None])[:, None, :]
    out = np.zeros((len(atoms), 2 * len(CHARGE_CENTRES_A), 3))
    k = len(CHARGE_CENTRES_A)
    np.add.at(out[:, :k], nl.i, np.asarray(charge_error)[nl.j][:, None, None] * g)
    np.add.at(out[:, k:], nl.i, np.asarray(charges)[nl.j][:, None, None] * g)
    return out


def charge_oracle(sets, roles, resid, pred, ridge: float) -> dict:
    """Part 4 of the module docstring: per role, the molecular residual before and after the
    charge-field columns fitted on the training frames; and pooled."""
    cols = {k: [charge_field_columns(a, a.calc.results["charges"] - q["charges"], a.calc.results["charges"])
                for a, q in zip(v, pred[k])] for k, v in sets.items()}
    kinds = sorted({r for ro in roles["train"] for r in ro} - {"C_graphene"})
    out: dict = {"by_role": {}}
    pooled = {k: [[], []] for k in sets}
    for role in kinds:
        def rows(k):
            A = [np.moveaxis(c[np.array(ro) == role], 2, 1).reshape(-1, c.shape[1]) for c, ro in zip(cols[k], roles[k])]
            y = [f[np.array(ro) == role].ravel() for f, ro in zip(resid[k], roles[k])]
            return np.vstack(A), np.concatenate(y)

        A, y = rows("train")
        scale = np.sqrt((A ** 2).mean(0)) + 1e-12
        M = A / scale
        coef = np.linalg.solve(M.T @ M + ridge * len(M) * np.eye(M.shape[1]), M.T @ y) / scale
        rec = {}
        for k in sets:
            A, y = rows(k)
            if not len(y):
                continue
            rec[f"{k}_before_meV_per_A"], rec[f"{k}_after_meV_per_A"] = _rms([y]), _rms([y - A @ coef])
            pooled[k][0].append(y)
            pooled[k][1].append(y - A @ coef)
        out["by_role"][role] = rec
    for k in sets:
        out[f"{k}_molecular_before_meV_per_A"] = _rms(pooled[k][0])
        out[f"{k}_molecular_after_meV_per_A"] = _rms(pooled[k][1])
    return out


def _rms(x) -> float:
    x = np.concatenate([np.ravel(y) for y in x]) if len(x) else np.zeros(1)
    return float(np.sqrt(np.mean(x ** 2)) * 1e3)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--json", action="store_true")
    p.add_argument("--model", default="mlp_li_ec_graphene_vff")
    p.add_argument("--train-frames", type=int, default=1000, help="training-split frames the terms are fitted on")
    p.add_argument("--energy-weight", type=float, default=30.0,
                   help="weight of a frame's per-atom energy residual [eV] against one force component [eV/Å]")
    p.add_argument("--ridge", type=float, default=1e-4, help="ridge on the unit-RMS columns, per row")
    args = p.parse_args(argv)
    if not 0 <= args.ridge <= 1:
        raise SystemExit(f"--ridge = {args.ridge} is out of range: must be in [0, 1]")
    if not 50 <= args.train_frames <= 20000:
        raise SystemExit(f"--train-frames = {args.train_frames} is out of range: must be in [50, 20000]")
    if not 0 <= args.energy_weight <= 1e4:
        raise SystemExit(f"--energy-weight = {args.energy_weight} is out of range: must be in [0, 1e4]")
    import torch

    torch.set_num_threads(1)
    from multiscale.atomistic import load_potential
    from multiscale.atomistic.labelling import load_dataset
    from multiscale.atomistic.validation import (chemical_roles, force_errors_by_element, predict_frames,
                                                 training_frames)
    from multiscale.resources import data_path

    t0 = time.perf_counter()
    calc = load_potential(args.model, precision="float64")
    ens = calc.ensemble
    sets = dict(train=training_frames(calc, max_frames=args.train_frames),
                heldout=load_dataset(data_path("xtb_li_ec_graphene", "labels.db"), split="heldout")
                + load_dataset(data_path("xtb_li_ec_graphene", "labels_heldout2.db"), split="heldout"))
    if not sets["train"]:
        raise SystemExit(f"model {args.model!r} records no training databases")
    out: dict = dict(model=calc.model_name, n_frames={k: len(v) for k, v in sets.items()},
                     heldout_sets=["labels.db (heldout split)", "labels_heldout2.db"])
    pred = {k: predict_frames(ens, v) for k, v in sets.items()}
    roles = {k: [chemical_roles(a) for a in v] for k, v in sets.items()}
    resid = {k: [a.get_forces() - q["forces"] for a, q in zip(v, pred[k])] for k, v in sets.items()}

    # 1-2: where, and bias or variance
    for k, v in sets.items():
        out[f"{k}_force_rmse_by_role"] = force_errors_by_element(ens, v, predictions=pred[k], by="role")
        mol = [f[np.array([r not in ("C_graphene",) for r in ro])] for f, ro in zip(resid[k], roles[k])]
        out[f"{k}_molecular_force_rmse_meV_per_A"] = _rms(mol)
        out[f"{k}_force_rmse_meV_per_A"] = _rms(resid[k])
    by_li: dict[str, list] = {"<3": [], "3-5": [], ">5": []}
    for a, ro, f in zip(sets["heldout"], roles["heldout"], resid["heldout"]):
        li = [i for i, r in enumerate(ro) if r == "Li"]
        if not li:
            continue
        d = a.get_distances(li[0], np.arange(len(a)), mic=True)
        for i, r in enumerate(ro):
            if r not in ("C_graphene", "Li"):
                by_li["<3" if d[i] < 3 else "3-5" if d[i] < 5 else ">5"].append(f[i])
    out["heldout_molecular_force_rmse_by_li_distance_A"] = {
        k: dict(rmse_meV_per_A=_rms([np.array(v)]), n_atoms=len(v)) for k, v in by_li.items() if v}
    out["train_over_heldout_molecular"] = out["train_molecular_force_rmse_meV_per_A"] / out[
        "heldout_molecular_force_rmse_meV_per_A"]

    # 3: linear force-field terms fitted to the residual
    topos = {k: [topology(a, ro) for a, ro in zip(v, roles[k])] for k, v in sets.items()}
    fits = {}
    for n_sets in range(1, len(TERM_SETS) + 1):
        basis = ResidualBasis(sets["train"], roles["train"], topos["train"], n_sets)
        cols = {k: [basis(a, ro, tp) for a, ro, tp in zip(v, roles[k], topos[k])] for k, v in sets.items()}

        def rows(k):
            A, y = [], []
            for a, ro, (E, F), f, q in zip(sets[k], roles[k], cols[k], resid[k], pred[k]):
                mol = np.array([r != "C_graphene" for r in ro])
                A.append(F[:, mol].reshape(len(E), -1).T)
                y.append(f[mol].ravel())
                A.append(args.energy_weight * E[None, :] / len(a))
                y.append([args.energy_weight * (a.get_potential_energy() - q["energy"]) / len(a)])
            return np.vstack(A), np.concatenate([np.ravel(x) for x in y])

        A, y = rows("train")
        scale = np.sqrt((A ** 2).mean(0)) + 1e-12
        # a light ridge (columns scaled to unit RMS): a type met on few training frames must not
        # take a large coefficient that only those frames pin down
        M = A / scale
        coef = np.linalg.solve(M.T @ M + args.ridge * len(M) * np.eye(M.shape[1]), M.T @ y) / scale
        res = dict(n_columns=len(basis.columns), ridge=args.ridge)
        for k in sets:
            after, e_before, e_after = [], [], []
            for a, ro, (E, F), f, q in zip(sets[k], roles[k], cols[k], resid[k], pred[k]):
                mol = np.array([r != "C_graphene" for r in ro])
                after.append((f - np.tensordot(coef, F, 1))[mol])
                de = a.get_potential_energy() - q["energy"]
                e_before.append(de / len(a))
                e_after.append((de - coef @ E) / len(a))
            res[f"{k}_molecular_force_rmse_meV_per_A"] = _rms(after)
            res[f"{k}_energy_rmse_meV_per_atom_before"] = _rms([np.array(e_before)])
            res[f"{k}_energy_rmse_meV_per_atom"] = _rms([np.array(e_after)])
        fits["+".join(TERM_SETS[:n_sets])] = res
    out["linear_terms_fitted_to_the_residual"] = fits
    best = min(v["heldout_molecular_force_rmse_meV_per_A"] for v in fits.values())
    out["heldout_molecular_fraction_removed_by_best_terms"] = 1 - best / out["heldout_molecular_force_rmse_meV_per_A"]
    # 4: the charge-field oracle
    out["charge_field_oracle"] = charge_oracle(sets, roles, resid, pred, args.ridge)
    out["seconds"] = time.perf_counter() - t0
    print(json.dumps(out, indent=1 if args.json else 2))
    return out


if __name__ == "__main__":
    main()
