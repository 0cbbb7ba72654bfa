"""benchmarks/bench_force_reach.py without its reference calls (about 40 s each on the 300-atom
cell): the centres it picks and its argument checks."""
import numpy as np
import pytest

from multiscale.atomistic.validation import chemical_roles
from multiscale.commands.bench import load_benchmark

bfr = load_benchmark("force_reach")


def test_one_centre_per_role_near_the_middle_of_the_cell():
    cell = bfr._cell()
    centres = bfr._centres(cell, ["C_carbonyl", "Li"])
    roles = chemical_roles(cell)
    assert roles[centres["C_carbonyl"]] == "C_carbonyl" and roles[centres["Li"]] == "Li"
    mid = cell.cell.array[:2, :2].sum(0) / 2
    others = [k for k, r in enumerate(roles) if r == "C_carbonyl"]
    dist = np.linalg.norm(cell.positions[others, :2] - mid, axis=1)
    assert np.linalg.norm(cell.positions[centres["C_carbonyl"], :2] - mid) == pytest.approx(dist.min())
    with pytest.raises(SystemExit, match="Xe"):
        bfr._centres(cell, ["Xe"])


def test_bad_arguments_name_themselves():
    for argv, word in ((["--radii", "1"], "--radii"), (["--radii", "a"], "--radii"),
                       (["--amplitude", "5"], "--amplitude"), (["--workers", "9"], "--workers"),
                       (["--repeats", "0"], "--repeats")):
        with pytest.raises(SystemExit, match=word):
            bfr.main(argv)


def test_the_reference_and_the_model_see_the_same_move():
    """moved_cell is called once in the reference's process and once in the model's: same item, same cell."""
    cell = bfr._cell()
    for move in ("translate", "rotate"):
        item = dict(centre=140, radius_A=8.0, move=move, amplitude_A=0.3, seed=4)
        (a, fa), (b, fb) = bfr.moved_cell(cell, item), bfr.moved_cell(bfr._cell(), item)
        assert fa and fa == fb and np.array_equal(a.positions, b.positions)
        assert not np.array_equal(a.positions, cell.positions)


def test_distance_bins_count_every_unmoved_atom_once_by_its_nearest_moved_atom_before_or_after():
    from multiscale.atomistic.system import electrode_atoms
    from multiscale.atomistic.validation import molecules

    cell = bfr._cell()
    label = molecules(cell)
    moved_atoms = label == 3
    still = ~moved_atoms & ~electrode_atoms(cell)
    d_ref = np.tile([1.0, 0.0, 0.0], (len(cell), 1))  # |ΔF| = 1 on every atom
    moved = cell.copy()
    moved.positions[moved_atoms] += [0.0, 0.0, 1.0]
    b = bfr.distance_bins(cell, moved, moved_atoms, still, d_ref, np.zeros_like(d_ref))
    dist = np.minimum(cell.get_all_distances(mic=True)[np.ix_(still, moved_atoms)].min(1),
                      moved.get_all_distances(mic=True)[np.ix_(still, moved_atoms)].min(1))
    edges = bfr.DISTANCE_BINS_A
    expected = [np.sum((dist >= lo) & (dist < hi)) for lo, hi in zip(edges[:-1], edges[1:])]
    assert b[:, 0].tolist() == expected and sum(expected) > 0
    np.testing.assert_array_equal(b[:, 1], b[:, 0])  # Σ|ΔF_ref|² = atoms
    np.testing.assert_array_equal(b[:, 2], 0.0)
    np.testing.assert_array_equal(b[:, 3], b[:, 0])  # all of it missed


def test_the_benchmark_runs_end_to_end_with_a_cheap_reference(monkeypatch):
    """xTB replaced by a short-ranged pair calculator (with charges, as tblite gives): the JSON has
    every part, a move beyond the pair range leaves the probe's reference forces exactly, and the
    by-distance table holds no reference change beyond that range."""
    from ase.calculators.calculator import Calculator, all_changes
    from ase.calculators.lj import LennardJones

    import multiscale.atomistic as atomistic

    class PairWithCharges(Calculator):
        implemented_properties = ["energy", "forces", "charges"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            lj = LennardJones(sigma=2.5, epsilon=0.01, rc=3.0, smooth=True)
            a = self.atoms.copy()
            a.calc = lj
            self.results = dict(energy=a.get_potential_energy(), forces=a.get_forces(), charges=np.zeros(len(a)))

    monkeypatch.setattr(atomistic, "reference_calculator", lambda: PairWithCharges())
    out = bfr.main(["--json", "--radii", "5", "--roles", "C_carbonyl", "--move", "rotate", "--workers", "0"])
    row = out["rows"][0]
    assert row["n_moved_molecules"] > 0 and row["nearest_moved_atom_A"] > 5.0
    assert row["reference_change_meV_per_A"] == 0.0  # the probe (≤ 1.5 Å) is beyond 1.5 + 3 Å of every move
    assert row["sheet_charge_change_e"] == 0.0
    table = out["unmoved_atoms_by_distance"]["5.0"]
    assert sum(b["n_atom_moves"] for b in table) > 0
    far = [b for b in table if b["from_A"] >= 3.0 and b["n_atom_moves"]]
    assert far and all(b["reference_change_meV_per_A"] == 0.0 for b in far)
    assert out["pooled_by_radius"]["5.0"]["locality_floor_per_component_meV_per_A"] == 0.0
