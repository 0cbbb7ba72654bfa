"""Bulk electrolyte transport: the bulk cell, the salt-diffusivity algebra, the Arrhenius fit, the
MSD analysis against Brownian tracers of known D, and a short ML-MD run end to end."""
import json

import numpy as np
import pytest

from multiscale.atomistic.electrolyte_transport import (EC_VISCOSITY_PA_S, analyse_run, analyse_runs,
                                                        arrhenius_fit, run_bulk_md, salt_diffusivity, state_name)
from multiscale.atomistic.system import MIN_DISTANCE_A, build_bulk_electrolyte, salt_concentration_mol_L
from multiscale.errors import DataFileError, InputError
from multiscale.units import gas_constant_J_mol_K


def test_bulk_cell_composition_density_and_contacts():
    a = build_bulk_electrolyte(8, 2, seed=3)
    sym = a.get_chemical_symbols()
    assert len(a) == 8 * 10 + 2 * 6 and sym.count("Li") == 2 and sym.count("B") == 2
    assert a.pbc.all() and np.allclose(a.cell.angles(), 90) and np.ptp(a.cell.lengths()) < 1e-12
    assert a.get_initial_charges().sum() == 0.0
    # the same mass/ρ volume rule as the interface film: 1.32 g/cm³ (up to the packing's expansion)
    mass_g = a.get_masses().sum() / 6.02214076e23
    rho = mass_g / (a.get_volume() * 1e-24)
    assert 1.32 / 1.2 * (1 - 1e-3) <= rho <= 1.32 * (1 + 1e-3)   # the packer enlarges the cube by <= 20 %
    # contacts between molecules respect the packing distance in all three periodic directions
    tags = a.get_tags()
    d = a.get_all_distances(mic=True)
    inter = tags[:, None] != tags[None, :]
    assert d[inter].min() >= MIN_DISTANCE_A - 1e-9
    assert salt_concentration_mol_L(a) == pytest.approx(2 / (a.get_volume() * 0.602214076) * 1000)
    np.testing.assert_array_equal(build_bulk_electrolyte(8, 2, seed=3).positions, a.positions)
    with pytest.raises(InputError, match="n_ec"):
        build_bulk_electrolyte(0, 0)


def test_salt_diffusivity_limits_and_error():
    assert salt_diffusivity(2e-10, 2e-10)[0] == pytest.approx(2e-10)
    assert salt_diffusivity(1e-10, 1e-3)[0] == pytest.approx(2e-10, rel=1e-6)  # the slow ion limits
    assert salt_diffusivity(1e-10, 3e-10)[0] == pytest.approx(salt_diffusivity(3e-10, 1e-10)[0])
    d, e = salt_diffusivity(1e-10, 3e-10, 1e-11, 2e-11)
    h = 1e-16
    dp = (salt_diffusivity(1e-10 + h, 3e-10)[0] - d) / h
    dm = (salt_diffusivity(1e-10, 3e-10 + h)[0] - d) / h
    assert e == pytest.approx(np.hypot(dp * 1e-11, dm * 2e-11), rel=1e-4)
    with pytest.raises(InputError, match="D- "):
        salt_diffusivity(1e-10, -1e-12)


def test_arrhenius_fit_recovers_activation_energy():
    ea, t_ref = 18e3, 300.0
    t = np.array([300.0, 330.0, 360.0])
    d = 2e-10 * np.exp(-ea / gas_constant_J_mol_K * (1 / t - 1 / t_ref))
    fit = arrhenius_fit(t, d, 0.05 * d, reference_temperature_K=t_ref)
    assert fit["activation_energy_J_mol"] == pytest.approx(ea, rel=1e-9)
    assert fit["d_ref_m2_s"] == pytest.approx(2e-10, rel=1e-9)
    assert fit["d_ref_error_m2_s"] > 0 and fit["activation_energy_error_J_mol"] > 0
    one = arrhenius_fit([300.0], [1e-10], [1e-11], reference_temperature_K=300.0)
    assert np.isnan(one["activation_energy_J_mol"]) and one["d_ref_m2_s"] == 1e-10
    with pytest.raises(InputError, match="D > 0"):
        arrhenius_fit([300.0, 320.0], [1e-10, -1e-10], [1e-11, 1e-11], reference_temperature_K=300.0)


def _brownian_run(path, d_A2_ps, *, n=(4, 4, 20), n_frames=4000, dt_ps=0.02, seed=0, temperature_K=330.0):
    """A stored run whose tracers are free Brownian walkers with D = d_A2_ps (Å²/ps) per group."""
    rng = np.random.default_rng(seed)
    steps = [rng.normal(0.0, np.sqrt(2 * d * dt_ps), (n_frames, k, 3)) for d, k in zip(d_A2_ps, n)]
    pos = np.concatenate([np.cumsum(s, axis=0) for s in steps], axis=1)
    np.savez_compressed(path, positions_A=pos, time_fs=np.arange(n_frames) * dt_ps * 1000,
                        max_force_uncertainty_eV_per_A=np.full(n_frames, 0.1),
                        temperature_K=np.full(n_frames, temperature_K), cell_A=np.eye(3) * 15.0,
                        n_li=n[0], n_b=n[1], n_ec=n[2])


def test_analyse_run_recovers_brownian_diffusivities(tmp_path):
    d_true = (0.02, 0.04, 0.03)  # Å²/ps = 2e-10, 4e-10, 3e-10 m²/s
    _brownian_run(tmp_path / "run.npz", d_true)
    res = analyse_run(tmp_path / "run.npz", equilibration_ps=1.0)
    for name, d in zip(("Li", "BF4", "EC"), d_true):
        got, err = res[f"D_{name}_m2_s"], res[f"D_{name}_error_m2_s"]
        assert abs(got - d * 1e-8) < max(4 * err, 0.1 * d * 1e-8), name
    # Yeh–Hummer correction reported for EC's viscosity in the 15 Å box
    kt = 1.380649e-23 * 330.0
    assert res["yeh_hummer_correction_m2_s"] == pytest.approx(2.837297 * kt / (6 * np.pi * EC_VISCOSITY_PA_S * 15e-10))
    with pytest.raises(InputError, match="equilibration"):
        analyse_run(tmp_path / "run.npz", equilibration_ps=79.8)
    with pytest.raises(DataFileError, match="potential transport"):
        analyse_run(tmp_path / "missing.npz")


def test_analyse_runs_table_and_activation_energy(tmp_path):
    """Two concentrations × two temperatures of Brownian tracers with an Arrhenius D(T)."""
    ea, runs = 15e3, []
    for k, (n_ec, n_salt, c) in enumerate([(26, 1, 0.45), (24, 3, 1.35)]):
        for t in (300.0, 360.0):
            scale = np.exp(-ea / gas_constant_J_mol_K * (1 / t - 1 / 300.0)) / (1 + k)
            name = state_name(n_ec, n_salt, t)
            _brownian_run(tmp_path / name, (0.02 * scale, 0.03 * scale, 0.03 * scale), n=(n_salt, n_salt, n_ec),
                          n_frames=3000, seed=k * 10 + int(t), temperature_K=t)
            runs.append(dict(file=name, n_ec=n_ec, n_salt=n_salt, temperature_K=t, concentration_mol_L=c,
                             untrusted_fraction=0.0, analysed_ps=60.0))
    (tmp_path / "manifest.json").write_text(json.dumps(dict(model="m", model_sha256_16="x", runs=runs)))
    res = analyse_runs(tmp_path, equilibration_ps=0.0)
    tab = res["electrolyte_diffusivity"]
    assert tab["reference_temperature_K"] == 300.0
    assert tab["concentration_mol_m3"] == [450.0, 1350.0]
    d_salt_ref = [2 * 0.02 * 0.03 / 0.05 * 1e-8, 2 * 0.02 * 0.03 / 0.05 * 1e-8 / 2]
    for got, err, want in zip(tab["diffusivity_m2_s"], tab["diffusivity_error_m2_s"], d_salt_ref):
        assert abs(got - want) < max(4 * err, 0.25 * want)
    assert abs(tab["activation_energy_J_mol"] - ea) < max(4 * tab["activation_energy_error_J_mol"], 0.3 * ea)
    assert json.loads((tmp_path / "diffusivity.json").read_text())["electrolyte_diffusivity"] == tab
    with pytest.raises(DataFileError, match="manifest"):
        analyse_runs(tmp_path / "empty")


def test_bulk_md_runs_stores_tracers_and_resumes(tmp_path):
    """A short ML-MD run with the shipped potential: tracer count, stored σ_F, resume skips it."""
    kw = dict(compositions=[(5, 1)], temperatures_K=[350.0], n_steps=40, interval=10, progress=False)
    man = run_bulk_md(tmp_path, **kw)
    (run,) = man["runs"]
    assert run["file"] == state_name(5, 1, 350.0) and run["n_atoms"] == 56 and run["n_frames"] >= 2
    with np.load(tmp_path / run["file"]) as d:
        assert d["positions_A"].shape[1:] == (1 + 1 + 5, 3)
        assert np.all(np.isfinite(d["max_force_uncertainty_eV_per_A"]))
    again = run_bulk_md(tmp_path, **kw)
    assert again["runs"][0]["wall_time_s"] == run["wall_time_s"]  # not rerun
    longer = run_bulk_md(tmp_path, **dict(kw, n_steps=60))          # a finished run of another length is kept
    assert longer["runs"][0]["wall_time_s"] == run["wall_time_s"] and longer["runs"][0]["n_steps"] == 40
    other = run_bulk_md(tmp_path, **dict(kw, friction_per_fs=0.002))  # other physics: run again
    assert other["runs"][0]["wall_time_s"] != run["wall_time_s"]
    with pytest.raises(InputError, match="composition"):
        run_bulk_md(tmp_path, compositions=[(5, 0)], temperatures_K=[300.0], n_steps=40, progress=False)
    with pytest.raises(InputError, match="temperature_K"):
        run_bulk_md(tmp_path, compositions=[(5, 1)], temperatures_K=[900.0], n_steps=40, progress=False)
