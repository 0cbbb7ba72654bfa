"""tblite reference with the electric-field fix: sign convention and Stark form on a tiny molecule."""
import pytest
from ase.build import molecule

from multiscale.atomistic import reference_calculator
from multiscale.errors import InputError


def _water():
    a = molecule("H2O")
    a.center(vacuum=4.0)
    return a


def test_field_fix_and_stark_sign():
    a = _water()
    energies, dipoles = [], []
    fields = [-0.1, 0.0, 0.1]
    for f in fields:
        a.calc = reference_calculator("GFN1-xTB", field_V_per_A=f)
        energies.append(a.get_potential_energy())
        dipoles.append(a.calc.results["dipole"][2])
    mu0 = dipoles[1]
    assert abs(mu0) > 0.3  # water's dipole lies along z in ASE's geometry
    # first order: E(F) − E(0) ≈ −μ F (Stark form), here to < 5 % of the change
    for f, e in zip(fields, energies):
        if f != 0:
            assert e - energies[1] == pytest.approx(-mu0 * f, rel=0.05)
    # a field along +z pulls the dipole towards +z (positive polarisability)
    assert dipoles[2] > dipoles[1] > dipoles[0]


def test_reference_bad_input():
    with pytest.raises(InputError, match="name"):
        reference_calculator("DFT")
    with pytest.raises(InputError, match="field_V_per_A"):
        reference_calculator("GFN1-xTB", field_V_per_A=2.0)
