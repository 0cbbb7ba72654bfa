"""ASE relaxations (EMT on tiny cells), Dask over candidates, and the hull of relaxed energies."""
import numpy as np
import pytest
from ase.build import bulk

from multiscale.errors import InputError
from multiscale.thermo import PhaseDiagram
from multiscale.thermo.energies import get_calculator, read_structures, relax, relax_many


def test_emt_cell_relaxation_finds_equilibrium_lattice():
    """EMT fcc Cu: the relaxed cell has zero stress and the minimum of E(a) on a scan."""
    res = relax(bulk("Cu", "fcc", a=3.75), "emt", fmax_eV_A=1e-3, max_steps=200)
    assert res.converged
    a_relaxed = res.atoms.cell.cellpar()[0] * np.sqrt(2)
    energies = []
    for a in (a_relaxed - 0.02, a_relaxed, a_relaxed + 0.02):
        atoms = bulk("Cu", "fcc", a=a)
        atoms.calc = get_calculator("emt")
        energies.append(atoms.get_potential_energy())
    assert energies[1] < energies[0] and energies[1] < energies[2]
    atoms = res.atoms.copy()
    atoms.calc = get_calculator("emt")
    assert np.abs(atoms.get_stress()).max() < 1e-3          # eV/Å³
    unrelaxed = bulk("Cu", "fcc", a=3.75)
    unrelaxed.calc = get_calculator("emt")
    assert res.energy_eV < unrelaxed.get_potential_energy()


def test_fixed_cell_and_single_point():
    atoms = bulk("Au", "fcc", a=4.2, cubic=True)
    atoms.rattle(0.05, seed=3)
    sp = relax(atoms, "emt", max_steps=0)
    fixed = relax(atoms, "emt", relax_cell=False, fmax_eV_A=0.01)
    assert sp.n_steps == 0 and fixed.energy_eV < sp.energy_eV
    np.testing.assert_allclose(fixed.atoms.cell[:], atoms.cell[:])      # cell untouched


def test_emt_cu_au_hull_from_relaxed_structures():
    """Cu–Au from EMT: L1_2 Cu3Au and L1_0 CuAu relaxations feed a PhaseDiagram; same as pymatgen."""
    pmg_pd = pytest.importorskip("pymatgen.analysis.phase_diagram")
    pmg_core = pytest.importorskip("pymatgen.core")
    from ase import Atoms

    a = 3.9
    cu3au = Atoms("AuCu3", scaled_positions=[(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
                  cell=[a, a, a], pbc=True)
    cuau = Atoms("Cu2Au2", scaled_positions=[(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
                 cell=[a, a, a], pbc=True)
    structs = [("Cu", bulk("Cu", "fcc", a=3.6)), ("Au", bulk("Au", "fcc", a=4.1)), ("Cu3Au", cu3au), ("CuAu", cuau)]
    relaxed = relax_many(structs, "emt", n_workers=0, progress=False, fmax_eV_A=0.01)
    entries = [r.entry for r in relaxed]
    pd = PhaseDiagram(entries)
    ref = pmg_pd.PhaseDiagram([pmg_pd.PDEntry(pmg_core.Composition(e.composition), e.energy_eV) for e in entries])
    for e, pe in zip(entries, ref.all_entries):
        assert pd.e_above_hull_per_atom(e) == pytest.approx(ref.get_e_above_hull(pe), abs=1e-8)
    assert pd.formation_energy_per_atom("Cu3Au") < 0     # EMT orders Cu3Au


# distributed's worker HTTP server retries on a taken port (other jobs on this shared machine) and
# tornado leaves the failed socket unclosed (distributed/node.py, listen retry loop): not our leak.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_relax_many_through_dask_equals_serial():
    structs = [("Cu", bulk("Cu", "fcc", a=3.7)), ("Ni", bulk("Ni", "fcc", a=3.6))]
    serial = relax_many(structs, "emt", n_workers=0, progress=False)
    parallel = relax_many(structs, "emt", n_workers=1, progress=False)
    assert [r.name for r in parallel] == ["Cu", "Ni"]
    np.testing.assert_allclose([r.energy_eV for r in parallel], [r.energy_eV for r in serial], atol=1e-10)


def test_bad_input(tmp_path):
    with pytest.raises(InputError, match="unknown"):
        get_calculator("vasp-magic")
    with pytest.raises(InputError, match="fmax_eV_A"):
        relax(bulk("Cu"), "emt", fmax_eV_A=-1)
    with pytest.raises(InputError, match="optimizer"):
        relax(bulk("Cu"), "emt", optimizer="Newton")
    with pytest.raises(InputError, match="instance"):
        relax_many([bulk("Cu")], get_calculator("emt"), n_workers=1)
    with pytest.raises(InputError, match="does not exist"):
        read_structures([tmp_path / "missing.cif"])
    (tmp_path / "junk.xyz").write_text("not a structure\n")
    with pytest.raises(InputError, match="could not be read"):
        read_structures([tmp_path / "junk.xyz"])


# chgnet's own code builds a tensor from a tensor that requires grad (chgnet/model/model.py).
@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True:UserWarning")
def test_universal_potential_when_installed():
    """The optional CHGNet extra: a single point and a short relaxation of bcc Li."""
    pytest.importorskip("chgnet")
    res = relax(bulk("Li", "bcc", a=3.30, cubic=True), "chgnet", fmax_eV_A=0.05, max_steps=50)
    assert res.converged and -2.2 < res.energy_eV / 2 < -1.6          # eV/atom, MP-like scale
    assert 3.3 < res.atoms.cell.cellpar()[0] < 3.6                      # Å, bcc Li ≈ 3.44
