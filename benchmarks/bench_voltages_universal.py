"""Average intercalation voltages from the universal potential CHGNet vs published GGA+U values.

LiCoO2/CoO2 (layered R-3m), LiFePO4/FePO4 (olivine Pnma) and LiMn2O4/Mn2O4 (spinel Fd-3m)
are built from their experimental crystal structures, relaxed (atoms + cell,
FrechetCellFilter, BFGS) with CHGNet 0.3 (Deng et al., Nat. Mach. Intell. 5, 1031 (2023),
trained on Materials Project GGA/GGA+U relaxations), and the average voltage

    V̄ = −[E(LiₓH) − E(H) − x E(Li, bcc)] / (x e)

(Aydinol et al., PRB 56, 1354 (1997)) is compared with GGA+U (self-consistent U) values of
Zhou, Cococcioni, Marianetti, Morgan, Ceder, Phys. Rev. B 70, 235121 (2004). Target: within
0.3 V. If chgnet is not installed the script prints {"skipped": true, ...}.

Run: ``python benchmarks/bench_voltages_universal.py --json`` (``multiscale bench voltages_universal``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

#: GGA+U average voltages [V] (Zhou et al. 2004, PRB 70, 235121, self-consistent U), which that
#: paper shows reproduce experiment. LiFePO4: 3.47 V (U = 4.3 eV), the paper's headline number.
#: Layered LiCoO2 and spinel Li0→1Mn2O4: 4.05 and 4.10 V, quoted to about ±0.1 V (written here
#: from the literature without access to the table in this offline build: check before citing).
REFERENCE_GGA_U_V = {"LiCoO2/CoO2": 4.05, "LiFePO4/FePO4": 3.47, "LiMn2O4/Mn2O4": 4.10}
REFERENCE_NOTE = ("LiFePO4 3.47 V is Zhou et al.'s value; the LiCoO2 (4.05) and LiMn2O4 (4.10) references are "
                  "quoted to about +-0.1 V")
TOLERANCE_V = 0.3


def structures():
    """(lithiated, delithiated) ase.Atoms pairs from experimental crystal structures."""
    from ase.spacegroup import crystal

    lco = crystal(["Li", "Co", "O"], basis=[(0, 0, 0), (0, 0, 0.5), (0, 0, 0.2396)], spacegroup=166,
                  cellpar=[2.816, 2.816, 14.05, 90, 90, 120], primitive_cell=True)
    # olivine LiFePO4, Pnma (Streltsov et al., Acta Cryst. B 49, 147 (1993))
    lfp_basis = [(0, 0, 0), (0.28222, 0.25, 0.97472), (0.09486, 0.25, 0.41820), (0.09678, 0.25, 0.74279),
                 (0.45710, 0.25, 0.20602), (0.16558, 0.04646, 0.28478)]
    lfp = crystal(["Li", "Fe", "P", "O", "O", "O"], basis=lfp_basis, spacegroup=62,
                  cellpar=[10.332, 6.010, 4.692, 90, 90, 90])
    fp = crystal(["Fe", "P", "O", "O", "O"], basis=lfp_basis[1:], spacegroup=62,
                 cellpar=[9.821, 5.792, 4.788, 90, 90, 90])
    # spinel LiMn2O4, Fd-3m origin choice 2: Li 8a, Mn 16d, O 32e (x = 0.263)
    lmo = crystal(["Li", "Mn", "O"], basis=[(1 / 8, 1 / 8, 1 / 8), (0.5, 0.5, 0.5), (0.263, 0.263, 0.263)],
                  spacegroup=227, setting=2, cellpar=[8.248] * 3 + [90] * 3, primitive_cell=True)
    mo = crystal(["Mn", "O"], basis=[(0.5, 0.5, 0.5), (0.263, 0.263, 0.263)], spacegroup=227, setting=2,
                 cellpar=[8.03] * 3 + [90] * 3, primitive_cell=True)
    co = lco.copy()
    del co[[a.index for a in co if a.symbol == "Li"]]
    return {"LiCoO2/CoO2": (lco, co), "LiFePO4/FePO4": (lfp, fp), "LiMn2O4/Mn2O4": (lmo, mo)}


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    parser.add_argument("--fmax", type=float, default=0.05, help="force tolerance [eV/Å]")
    args = parser.parse_args()
    try:
        import chgnet
        from chgnet.model.dynamics import CHGNetCalculator  # noqa: F401
    except ImportError as exc:
        return {"benchmark": "voltages_universal", "skipped": True,
                "reason": f"chgnet is not importable ({exc}); install the extra: pip install 'multiscale[universal]'"}
    import torch
    from ase.build import bulk

    from multiscale.thermo import average_voltage
    from multiscale.thermo.energies import get_calculator, relax

    torch.set_num_threads(1)
    calc = get_calculator("chgnet")
    t0 = time.perf_counter()
    li = relax(bulk("Li", "bcc", a=3.44, cubic=True), calc, fmax_eV_A=args.fmax, name="Li")
    out = {}
    for pair, (lith, delith) in structures().items():
        names = pair.split("/")
        rl = relax(lith, calc, fmax_eV_A=args.fmax, max_steps=500, name=names[0])
        rd = relax(delith, calc, fmax_eV_A=args.fmax, max_steps=500, name=names[1])
        v = average_voltage(rl.entry, rd.entry, li.entry)
        ref = REFERENCE_GGA_U_V[pair]
        n_host_l = sum(1 for a in rl.atoms if a.symbol != "Li")
        n_host_d = len(rd.atoms)
        dv = (rl.atoms.get_volume() / n_host_l) / (rd.atoms.get_volume() / n_host_d) - 1
        out[pair] = {"voltage_V": v, "reference_GGA_U_V": ref, "error_V": v - ref,
                     "within_tolerance": abs(v - ref) <= TOLERANCE_V,
                     "converged": bool(rl.converged and rd.converged and li.converged),
                     "relax_steps": [rl.n_steps, rd.n_steps],
                     "volume_change_on_lithiation_percent": 100 * dv}
    targets = {f"{p} within {TOLERANCE_V} V of GGA+U": r["within_tolerance"] for p, r in out.items()}
    return {"benchmark": "voltages_universal", "skipped": False, "potential": f"CHGNet (chgnet {chgnet.__version__})",
            "reference": "GGA+U, Zhou et al., Phys. Rev. B 70, 235121 (2004)", "reference_note": REFERENCE_NOTE,
            "tolerance_V": TOLERANCE_V,
            "results": out, "mean_abs_error_V": sum(abs(r["error_V"]) for r in out.values()) / len(out),
            "time_s": time.perf_counter() - t0, "targets": targets, "pass": all(targets.values())}


if __name__ == "__main__":
    res = main()
    if "--json" not in sys.argv:
        print(json.dumps(res, indent=2))
    print(json.dumps(res))
