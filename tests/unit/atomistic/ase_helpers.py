"""Helpers shared by the model tests of both member architectures (imported as a module, not a test)."""
import numpy as np

from multiscale.atomistic import default_system


def solvated_cluster():
    """The default packing's ions and solvent without the sheet, as a non-periodic cluster."""
    a = default_system(0)
    c = a[np.nonzero(a.numbers != 6)[0]]
    c.pbc = False
    c.center(vacuum=6.0)
    return c


def evaluate(calc, atoms):
    """(energy, forces, charges) of a copy of ``atoms`` under ``calc``."""
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms.get_potential_energy(), atoms.get_forces(), calc.results["charges"].copy()
