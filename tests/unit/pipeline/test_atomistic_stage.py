"""Analysis stage of `multiscale run` on short or stopped ML-MD runs: RDFs kept, D(z) skipped with a reason."""
import ase.io
from ase.calculators.singlepoint import SinglePointCalculator
import numpy as np
import pytest

from multiscale.atomistic import default_system
from multiscale.pipeline.atomistic_stage import run_analysis
from multiscale.pipeline.config import load_run_config
from multiscale.pipeline.runner import StageContext


def _trajectory(path, n_frames, seed):
    rng = np.random.default_rng(seed)
    base = default_system(seed=0)
    frames = []
    for _ in range(n_frames):
        a = base.copy()
        a.positions[a.get_tags() > 0] += rng.normal(0.0, 0.05, ((a.get_tags() > 0).sum(), 3))
        q = rng.normal(0.0, 0.1, len(a))
        a.calc = SinglePointCalculator(a, energy=0.0, forces=np.zeros((len(a), 3)), charges=q - q.mean())
        frames.append(a)
    ase.io.write(path, frames)


def _context(tmp_path, lengths):
    (tmp_path / "md").mkdir()
    runs = {}
    for k, (label, n) in enumerate(lengths.items()):
        _trajectory(tmp_path / "md" / f"{label}.traj", n, k)
        runs[label] = {"trajectory": f"md/{label}.traj"}
    return StageContext(config=load_run_config(None), out_dir=tmp_path, results={"md": {"runs": runs}}, quiet=True)


def test_short_runs_keep_structure_and_say_why_profiles_are_skipped(tmp_path):
    out = run_analysis(_context(tmp_path, {"+0.000": 10, "+0.100": 12}))
    assert set(out["structure"]) == {"+0.000", "+0.100"}
    assert out["interface_profile"] is None and out["diffusion_profile"] is None
    assert "D(z) and φ(z) skipped" in out["note"] and "+0.000 V/Å: live (10 frames)" in out["note"]


def test_profile_taken_from_a_long_enough_run_when_zero_field_stopped_early(tmp_path):
    out = run_analysis(_context(tmp_path, {"+0.000": 10, "+0.100": 30}))
    assert out["profile_field_V_per_A"] == "+0.100"
    assert out["diffusion_profile"] is not None
    assert "Potential drop across the interface (F = +0.100 V/Å)" in out["parameters"]


def test_effective_diffusivity_interval_matches_monte_carlo():
    from multiscale.pipeline.continuum_stage import effective_diffusivity_interval

    z = np.linspace(0.0, 1e-9, 41)
    layers = np.linspace(0.1e-9, 0.9e-9, 5)
    d = np.array([1.0, 2.0, 3.0, 2.0, 1.0]) * 1e-9
    err = 0.05 * d
    low, high = effective_diffusivity_interval(dict(z_m=z, layer_z_m=layers, layer_diffusivity_m2_s=d,
                                                    layer_diffusivity_error_m2_s=err))
    rng = np.random.default_rng(0)
    draws = [(z[-1] - z[0]) / np.trapezoid(1.0 / np.interp(z, layers, d + rng.normal(0.0, err)), z)
             for _ in range(4000)]
    mc_low, mc_high = np.percentile(draws, [2.5, 97.5])
    assert low == pytest.approx(mc_low, rel=0.01) and high == pytest.approx(mc_high, rel=0.01)
    assert effective_diffusivity_interval(dict(z_m=z)) is None


def test_block_interval_needs_three_blocks():
    from multiscale.pipeline.atomistic_stage import block_interval

    assert block_interval([1.0, 2.0], 1.5) is None
    low, high = block_interval([1.0, 2.0, 3.0, 2.0], 2.0)
    assert low < 2.0 < high and high - 2.0 == pytest.approx(2.0 - low)


def test_shipped_trajectory_is_used_for_the_profile_and_pooled_into_the_rdf(tmp_path):
    """A shipped production run (npz, as `multiscale potential md` writes) next to a short live run:
    D(z)/φ(z) come from the shipped one, the RDF pools both, and the provenance says so."""
    ctx = _context(tmp_path, {"+0.000": 10})
    rng = np.random.default_rng(5)
    base = default_system(seed=0)
    n = 30
    pos = np.array([base.positions + np.where(base.get_tags()[:, None] > 0, rng.normal(0, 0.05, base.positions.shape), 0)
                    for _ in range(n)], dtype=np.float32)
    q = rng.normal(0.0, 0.1, (n, len(base))).astype(np.float32)
    np.savez_compressed(tmp_path / "ship.npz", positions_A=pos, charges_e=q - q.mean(1, keepdims=True),
                        time_fs=np.arange(n) * 10.0, max_force_uncertainty_eV_per_A=np.zeros(n),
                        temperature_K=np.full(n, 300.0), numbers=base.numbers, tags=base.get_tags(),
                        cell_A=base.cell.array, pbc=base.pbc, field_V_per_A=0.0)
    ctx.results["md"]["shipped"] = {"+0.000": {"path": str(tmp_path / "ship.npz"), "dt_ps": 0.01}}
    out = run_analysis(ctx)
    assert out["profile_field_V_per_A"] == "+0.000"
    assert out["profile_source"].startswith("shipped trajectory") and "30 frames" in out["profile_source"]
    assert out["sources"]["+0.000"] == "live (10 frames) + shipped (30 frames)"
    drop = out["parameters"]["Potential drop across the interface (F = +0.000 V/Å)"]
    assert drop["provenance"].startswith("shipped:")


def test_frames_of_another_cell_size_are_not_pooled(tmp_path):
    """A 300-atom shipped run and a 60-atom live run: the RDF takes the larger set alone and says so."""
    ctx = _context(tmp_path, {"+0.000": 10})
    big = default_system(seed=0, size="md")
    n = 24
    rng = np.random.default_rng(2)
    pos = np.array([big.positions + np.where(big.get_tags()[:, None] > 0, rng.normal(0, 0.05, big.positions.shape), 0)
                    for _ in range(n)], dtype=np.float32)
    np.savez_compressed(tmp_path / "ship.npz", positions_A=pos, charges_e=np.zeros((n, len(big)), np.float32),
                        time_fs=np.arange(n) * 10.0, max_force_uncertainty_eV_per_A=np.zeros(n),
                        temperature_K=np.full(n, 300.0), numbers=big.numbers, tags=big.get_tags(),
                        cell_A=big.cell.array, pbc=big.pbc, field_V_per_A=0.0)
    ctx.results["md"]["shipped"] = {"+0.000": {"path": str(tmp_path / "ship.npz"), "dt_ps": 0.01}}
    out = run_analysis(ctx)
    assert out["sources"]["+0.000"].startswith("shipped (24 frames)")
    assert "live frames (10) are another cell size, not pooled" in out["sources"]["+0.000"]


def test_md_potential_is_chosen_by_config(tmp_path):
    """`[md] potential` picks the shipped model of the MD and reactions stages; a name outside the
    shipped ones is refused naming the key and the choices."""
    from multiscale.errors import InputError
    from multiscale.pipeline.atomistic_stage import _require_potential

    cfg = tmp_path / "run.toml"
    cfg.write_text('[md]\npotential = "mlp_li_ec_graphene_painn"\n')
    config = load_run_config(cfg)
    assert config["md"]["potential"] == "mlp_li_ec_graphene_painn"
    calc = _require_potential(config["md"]["potential"])
    assert calc.model_name == "mlp_li_ec_graphene_painn"
    assert calc.ensemble.members[0].config()["architecture"] == "painn"
    cfg.write_text('[md]\npotential = "mlp_li_ec_graphene_pi"\n')
    calc = _require_potential(load_run_config(cfg)["md"]["potential"])
    assert calc.ensemble.baseline is not None  # the graphene π-band + σ-bond baseline travels with it
    assert load_run_config(None)["md"]["potential"] == "mlp_li_ec_graphene"
    cfg.write_text('[md]\npotential = "mace"\n')
    with pytest.raises(InputError, match="potential"):
        load_run_config(cfg)


def test_layers_with_only_d_parallel_still_make_the_interface_profile(tmp_path, monkeypatch):
    """Thin layers of a short run often have D∥ but no D⊥ (too few crossings), and the D(z)
    frame then flags them "no data"; the in-plane D∥ is what Nernst–Planck along z uses, so the
    profile must still be built from it (the default run lost its D(z) → NP link this way)."""
    import pandas as pd

    import multiscale.analysis as analysis

    def fake_profile(positions, times_ps, cell, *, bin_edges, **kw):
        z = 0.5 * (bin_edges[1:] + bin_edges[:-1]) * 1e-10
        d_par = np.where(np.arange(z.size) % 3 == 0, 0.0, 2e-9)  # every third layer without D∥
        return pd.DataFrame({"z [m]": z, "D_parallel [m2.s-1]": d_par, "D_parallel error [m2.s-1]": 0.1 * d_par,
                             "D_perpendicular [m2.s-1]": 0.0, "D_perpendicular error [m2.s-1]": 0.0,
                             "no data": True})

    monkeypatch.setattr(analysis, "diffusion_profile", fake_profile)
    out = run_analysis(_context(tmp_path, {"+0.000": 30}))
    profile = out["interface_profile"]
    assert profile is not None
    assert len(profile["layer_z_m"]) == 5 and np.all(np.asarray(profile["layer_diffusivity_m2_s"]) == 2e-9)
