"""Reactions stage: hollow sites of the basal plane, trust check of the end points, α into the export."""
import numpy as np
import pytest

from multiscale.atomistic import default_system
from multiscale.atomistic.system import electrode_atoms
from multiscale.pipeline import reactions_stage as rs
from multiscale.atomistic import li_adsorption as la
from multiscale.pipeline.atomistic_stage import run_reactions
from multiscale.pipeline.config import load_run_config
from multiscale.pipeline.runner import StageContext


def test_hollow_sites_are_hexagon_centres():
    a = default_system(0)
    sheet = a.positions[electrode_atoms(a), :2]
    sites = la._hollow_sites(sheet, a.cell)
    lxy = np.array([a.cell[0, 0], a.cell[1, 1]])
    d = sites[:, None, :] - sheet[None]
    d -= np.round(d / lxy) * lxy
    nearest = np.linalg.norm(d, axis=2).min(1)
    assert len(sites) >= 4 and np.all(np.abs(nearest - 1.42) < 0.1)  # C–C bond length from the centre


def test_clearest_site_is_far_from_the_film():
    a = default_system(0)
    sites = np.array([[0.5, 0.5, 5.0], [3.0, 3.0, 5.0]])
    others = np.array([[0.6, 0.5, 5.0]])
    np.testing.assert_array_equal(la._clearest(sites, others, a.cell), sites[1])


def _ctx(tmp_path):
    return StageContext(config=load_run_config(None, fast=True), out_dir=tmp_path, results={}, quiet=True)


def test_untrusted_scan_falls_back_to_the_base_set(tmp_path, monkeypatch):
    monkeypatch.setattr(rs, "alpha_from_neb", lambda **k: {"usable": False, "why": "not trusted (test)"})
    out = run_reactions(_ctx(tmp_path))
    assert "derived" not in out and "not trusted (test)" in out["note"]
    p = out["parameters"]["Negative charge-transfer coefficient α"]
    assert p["value"] == 0.5 and "base set Chen2020" in p["provenance"]


def test_usable_scan_exports_the_fitted_alpha(tmp_path, monkeypatch):
    from multiscale.kinetics import fit_transfer_coefficient

    phi = np.array([-0.3, 0.0, 0.3])
    fit = fit_transfer_coefficient(phi, 0.5 - 0.4 * phi + np.array([0.001, -0.002, 0.001]),
                                   barrier_err_eV=np.full(3, 0.002))
    scan = {"usable": True, "alpha": fit.alpha, "alpha_ci95": list(fit.alpha_ci95), "barrier0_eV": fit.barrier0_eV,
            "fields_V_per_A": [-0.1, 0.0, 0.1], "distance_A": 3.0, "_fit": fit}
    monkeypatch.setattr(rs, "alpha_from_neb", lambda **k: dict(scan))
    out = run_reactions(_ctx(tmp_path))
    (d,) = out["derived"]
    assert d["pybamm_name"] == "Negative electrode charge transfer coefficient"
    assert d["value"] == pytest.approx(0.4, abs=0.01) and d["interval95"][0] < 0.4 < d["interval95"][1]
    assert "CI-NEB" in out["parameters"]["Negative charge-transfer coefficient α (CI-NEB fit)"]["provenance"]
    assert "Negative charge-transfer coefficient α" not in out["parameters"]  # no base-set duplicate
    assert (tmp_path / "figures" / "barrier_vs_potential.png").is_file()
