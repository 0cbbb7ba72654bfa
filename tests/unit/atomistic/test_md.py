"""ML-MD driver: NVE energy conservation, trust threshold stops the run, trajectory written."""
import numpy as np
import pytest
import torch
from ase.io import read

from multiscale.atomistic import MLPotential, default_system
from multiscale.atomistic.ensemble import PotentialEnsemble
from multiscale.atomistic.md import run_md
from multiscale.atomistic.model import FieldAwarePotential, NetworkSettings
from multiscale.errors import InputError


@pytest.fixture(scope="module")
def calc():
    torch.manual_seed(3)
    members = [FieldAwarePotential(network=NetworkSettings(hidden=(16,))) for _ in range(4)]
    for m in members:
        m.field_range.copy_(torch.tensor([-0.1, 0.1], dtype=torch.float64))
        m.min_distance.fill_(0.5)
        m.energy_scale.fill_(0.5)
    return MLPotential(PotentialEnsemble(members), field_V_per_A=0.05)


def test_nve_conserves_energy(calc, tmp_path):
    a = default_system(0)
    res = run_md(a, calc, n_steps=40, timestep_fs=0.5, initial_temperature_K=300, trajectory=tmp_path / "t.traj",
                 seed=1)
    assert not res.stopped_early and len(res.time_fs) == 41
    fluct = np.ptp(res.total_energy_eV) / len(a)
    assert fluct < 2e-4  # eV/atom over 20 fs
    assert abs(res.drift_meV_per_atom_per_ps()) < 5.0
    frames = read(tmp_path / "t.traj", ":")
    assert len(frames) == 41 and "max_force_uncertainty_eV_per_A" in frames[-1].info or len(frames) == 41


def test_trust_threshold_stops_or_flags(calc):
    a = default_system(0)
    res = run_md(a, calc, n_steps=10, timestep_fs=0.5, trust_eV_per_A=1e-6)
    assert res.stopped_early and len(res.time_fs) == 1
    b = default_system(0)
    res = run_md(b, calc, n_steps=4, ensemble="langevin", trust_eV_per_A=1e-6, on_untrusted="flag",
                 initial_temperature_K=300)
    assert not res.stopped_early and res.n_untrusted == 5


def test_bad_md_input(calc):
    with pytest.raises(InputError, match="ensemble"):
        run_md(default_system(0), calc, n_steps=1, ensemble="npt")
    with pytest.raises(InputError, match="timestep_fs"):
        run_md(default_system(0), calc, n_steps=1, timestep_fs=-1)


def test_frozen_electrode_stays_put_and_leaves_the_trust_check(calc):
    """The electrode held by FixAtoms does not move, and its σ_F does not flag frames."""
    from multiscale.atomistic.md import mobile_atoms
    from multiscale.atomistic.system import electrode_atoms, freeze_electrode

    a = default_system(0)
    assert freeze_electrode(a) == 24 == electrode_atoms(a).sum()
    start = a.positions.copy()
    sheet = electrode_atoms(a)
    res = run_md(a, calc, n_steps=6, ensemble="langevin", initial_temperature_K=300, on_untrusted="flag",
                 keep_frames=True)
    np.testing.assert_array_equal(res.frames[-1].positions[sheet], start[sheet])
    assert np.abs(res.frames[-1].positions[~sheet] - start[~sheet]).max() > 1e-3  # the electrolyte moves
    mobile = mobile_atoms(a)
    assert mobile.sum() == len(a) - 24 and not mobile[electrode_atoms(a)].any()
    sig = calc.results["force_uncertainty"]
    assert res.max_force_uncertainty_eV_per_A[-1] == pytest.approx(sig[mobile].max())


def test_production_run_round_trips_and_is_refused_for_other_weights(calc, tmp_path, monkeypatch):
    """`multiscale potential md` storage: npz frames read back with charges; a manifest made with
    other weights is not used."""
    from multiscale.atomistic import production

    monkeypatch.setattr("multiscale.atomistic.calculator.load_potential", lambda *a, **k: calc)
    monkeypatch.setattr(production, "model_fingerprint", lambda name=None: "abc")
    man = production.run_production(tmp_path, fields_V_per_A=[0.0], n_steps=4, interval=2, size="train",
                                    progress=False)
    assert man["model_sha256_16"] == "abc" and man["runs"][0]["n_frames"] == 3
    frames = production.load_trajectory(tmp_path / "field_+0.000.npz")
    assert len(frames) == 3 and abs(frames[-1].calc.results["charges"].sum()) < 1e-4
    assert frames[-1].get_tags().max() > 0 and frames[1].info["time_fs"] == pytest.approx(1.0)
    monkeypatch.setattr("multiscale.resources.data_path", lambda *parts, **k: tmp_path)
    runs, note = production.shipped_runs()
    assert set(runs) == {"+0.000"} and runs["+0.000"]["dt_ps"] == pytest.approx(1e-3)
    monkeypatch.setattr(production, "model_fingerprint", lambda name=None: "other")
    runs, note = production.shipped_runs()
    assert runs == {} and "other model weights" in note


def test_out_of_domain_stops_or_raises(calc):
    """A calculator refusal mid-run: raised by default, or the frames so far returned with the reason."""
    from multiscale.errors import OutOfDomainError

    a = default_system(0)
    limit = {"n": 0}
    original = calc.calculate

    def calculate(*args, **kwargs):
        limit["n"] += 1
        if limit["n"] > 6:
            raise OutOfDomainError("two atoms are 0.5 Å apart (test)")
        return original(*args, **kwargs)

    calc.calculate = calculate
    try:
        res = run_md(a, calc, n_steps=20, interval=2, on_untrusted="flag", keep_frames=True, on_out_of_domain="stop")
        assert res.stopped_early and "0.5 Å apart (test)" in res.stop_reason and 1 < len(res.frames) < 11
        limit["n"] = 0
        with pytest.raises(OutOfDomainError):
            run_md(default_system(0), calc, n_steps=20, interval=2, on_untrusted="flag")
        with pytest.raises(InputError, match="on_out_of_domain"):
            run_md(default_system(0), calc, n_steps=2, on_out_of_domain="ignore")
    finally:
        calc.calculate = original
