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


def test_nonlocality_probe_is_zero_for_a_short_ranged_calculator():
    """EMT (a many-body potential with a finite cutoff) does not see atoms beyond twice its range."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from multiscale.atomistic.validation import reference_nonlocality

    cu = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((5, 5, 5))
    res = reference_nonlocality(cu, EMT(), 0, radius_A=13.0, probe_radius_A=2.6, amplitude_A=0.05)
    assert res["n_far"] > 0 and res["n_probe"] == 13  # the centre and its 12 nearest neighbours
    assert res["rms_meV_per_A"] < 1e-6
    near = reference_nonlocality(cu, EMT(), 0, radius_A=2.6, probe_radius_A=0.1, amplitude_A=0.05)
    assert near["rms_meV_per_A"] > 10.0  # atoms inside its range do move the force
