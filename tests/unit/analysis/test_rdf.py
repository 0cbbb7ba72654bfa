"""RDF: MDAnalysis agreement, ideal-gas normalisation (bulk and slab), shell metrics."""
import numpy as np
import pytest

from multiscale.analysis import RDF, compare_structure
from multiscale.errors import InputError


def _grid_positions(rng, n_frames, n_atoms, box):
    # positions on a 1/4 Å grid: MDAnalysis' single-precision distances are then exact, and the
    # bin edges 0.03 + k·0.175 Å stay > 1e-5 Å away from every lattice distance (no ties)
    return (rng.integers(0, int(box * 4), size=(n_frames, n_atoms, 3)) / 4.0).astype(np.float32)


def _universe(pos, box):
    import MDAnalysis as mda

    u = mda.Universe.empty(pos.shape[1], trajectory=True)
    u.load_new(pos, order="fac")
    u.trajectory.dimensions_array[:] = [box, box, box, 90, 90, 90]
    return u


@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # MDAnalysis' own internals
def test_matches_mdanalysis_interrdf(rng):
    from MDAnalysis.analysis.rdf import InterRDF

    box = 16.0
    pos = _grid_positions(rng, 6, 300, box)
    u = _universe(pos, box)
    ref_ab = InterRDF(u.atoms[:100], u.atoms[100:], nbins=40, range=(0.03, 7.03)).run()
    ref_aa = InterRDF(u.atoms, u.atoms, nbins=40, range=(0.03, 7.03), exclusion_block=(1, 1)).run()
    kw = dict(r_min_A=0.03, r_max_A=7.03, n_bins=40)
    ab = RDF(np.arange(100), np.arange(100, 300), chunk_size=4, **kw).run(pos.astype(float), cell=[box] * 3)
    aa = RDF(None, None, **kw).run(pos.astype(float), cell=[box] * 3)
    assert ab.results["count"].sum() > 1e4
    assert np.allclose(ab.results["g(r)"], ref_ab.results.rdf, rtol=1e-6, atol=0)
    assert np.allclose(aa.results["g(r)"], ref_aa.results.rdf, rtol=1e-6, atol=0)
    assert np.allclose(ab.results["r"] * 1e10, ref_ab.results.bins)


def test_ideal_gas_is_one_in_bulk_and_slab(rng):
    box = 20.0
    pos = rng.random((20, 400, 3)) * box
    g = RDF(r_max_A=8.0, n_bins=16).run(pos, cell=[box] * 3).results["g(r)"]
    assert np.all(np.abs(g[4:] - 1) < 0.05)
    # slab: atoms only in 5 <= z < 11, vacuum elsewhere, z not periodic
    slab = pos.copy()
    slab[..., 2] = 5.0 + rng.random((20, 400)) * 6.0
    r = RDF(r_max_A=8.0, n_bins=16, pbc=(True, True, False), slab=(2, 5.0, 11.0)).run(slab, cell=[box, box, 40.0])
    assert np.all(np.abs(r.results["g(r)"][4:] - 1) < 0.05)
    # with the cell volume instead of the slab volume, g would be off by far more
    naive = RDF(r_max_A=8.0, n_bins=16, pbc=(True, True, False)).run(slab, cell=[box, box, 40.0])
    assert np.all(naive.results["g(r)"][4:] > 2)


def _fcc(a=4.0, n=4, jitter=0.08, n_frames=5, rng=None):
    base = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cells = np.array([[i, j, k] for i in range(n) for j in range(n) for k in range(n)])
    pos = ((cells[:, None, :] + base[None]).reshape(-1, 3) * a)
    return pos[None] + rng.normal(scale=jitter, size=(n_frames,) + pos.shape), n * a


def test_fcc_first_shell_and_triclinic_path(rng):
    pos, box = _fcc(rng=rng)
    r = RDF(r_max_A=7.0, n_bins=140).run(pos, cell=[box] * 3)
    m = r.results.meta
    assert m["coordination_number"] == pytest.approx(12.0, abs=0.05)
    assert m["first_peak_r_A"] == pytest.approx(4.0 / np.sqrt(2), abs=0.06)
    assert m["first_peak_height"] > 5
    # the same system through the brute-force minimum-image path (sheared description of the cell)
    cell = np.diag([box] * 3)
    cell[1, 0] = box       # b' = a + b: the same lattice, not orthorhombic any more
    t = RDF(r_max_A=5.5, n_bins=110).run(pos, cell=cell)
    assert np.allclose(t.results["count"], r.results["count"][:110])
    with pytest.raises(InputError, match="half the smallest cell height"):
        RDF(r_max_A=7.0).run(pos[:1], cell=cell)


def test_electrode_window_and_comparison_table(rng):
    pos, box = _fcc(rng=rng)
    # centres within 1 Å of the z = 0 layer: half their shell lies across the periodic image
    near = RDF(r_max_A=7.0, n_bins=140, electrode_window=(2, 0.0, 0.0, 1.0)).run(pos, cell=[box] * 3)
    assert near.results.meta["mean_centres_per_frame"] == pytest.approx(32, abs=1)
    full = RDF(r_max_A=7.0, n_bins=140).run(pos, cell=[box] * 3)
    table = compare_structure({"all": full, "near z=0": near})
    assert list(table["label"]) == ["all", "near z=0"]
    assert table["Coordination number [-]"].iloc[1] == pytest.approx(12.0, abs=0.1)
    assert set(table.columns) >= {"First peak r [m]", "First peak g [-]", "shell found"}


def test_rdf_bad_input():
    with pytest.raises(InputError, match="cell"):
        RDF().run(np.zeros((2, 3, 3)) + np.arange(3)[None, :, None])
    with pytest.raises(InputError, match="r_max_A"):
        RDF(r_max_A=-1)
    with pytest.raises(InputError, match="electrode_window"):
        RDF(electrode_window=(2, 0.0, 3.0, 1.0))
    with pytest.raises(InputError, match="no centre"):
        RDF(electrode_window=(2, 100.0, 0.0, 1.0), r_max_A=2.0).run(np.full((2, 4, 3), 5.0) + np.arange(4)[None, :, None],
                                                                    cell=[20.0] * 3)


def test_rdf_plot_and_table(rng):
    import matplotlib

    matplotlib.use("Agg")
    pos = rng.random((3, 50, 3)) * 10
    res = RDF(r_max_A=4.0, n_bins=20).run(pos, cell=[10.0] * 3).results
    df = res.to_dataframe(["r", "g(r)", "coordination number"])
    assert list(df.columns) == ["r [m]", "g(r) [-]", "coordination number [-]"]
    ax = res.plot("g(r)")
    assert ax.get_xlabel() == "r [m]"
