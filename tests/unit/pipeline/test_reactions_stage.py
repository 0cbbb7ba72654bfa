"""Reactions stage: hollow sites of the basal plane, trust check of the end points, α into the export."""
import numpy as np
import pytest

from multiscale.errors import InputError

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


def test_site_below_is_the_nearest_periodic_image():
    a = default_system(0)
    lx = a.cell[0, 0]
    sites = np.array([[0.5, 3.0], [lx - 0.3, 1.0]])
    # Li just inside the cell's upper x edge: the site at x = 0.5 is 0.8 Å away through the boundary
    below = la._site_below(sites, np.array([lx - 0.3, 3.0]), a.cell)
    np.testing.assert_allclose(below, [lx + 0.5, 3.0])


def test_packings_without_a_step_are_skipped_and_named(monkeypatch):
    heights = {0: 0.02, 1: 0.3, 2: 3.1}
    monkeypatch.setattr(rs, "adsorption_endpoints",
                        lambda calc, seed, relax_steps: ("contact", "solvated", heights.get(seed, 0.0)))
    contact, _, d, packing, skipped = rs._endpoints_with_a_step(None, 0, relax_steps=1)
    assert (contact, d, packing) == ("contact", 3.1, 2)
    assert len(skipped) == 2 and "packing 1" in skipped[1] and "0.30 Å" in skipped[1]
    assert rs._endpoints_with_a_step(None, 3, relax_steps=1)[0] is None  # seeds 3–6: no step at all


def test_a_packing_whose_relaxation_leaves_the_domain_is_skipped_and_named(monkeypatch):
    from multiscale.errors import OutOfDomainError

    def endpoints(calc, seed, relax_steps):
        if seed == 0:
            raise OutOfDomainError("two atoms are 0.806 Å apart")
        return "contact", "solvated", 3.6

    monkeypatch.setattr(rs, "adsorption_endpoints", endpoints)
    contact, _, d, packing, skipped = rs._endpoints_with_a_step(None, 0, relax_steps=1)
    assert (contact, d, packing) == ("contact", 3.6, 1)
    assert skipped == ["packing 0: an end-point relaxation left the domain (two atoms are 0.806 Å apart)"]


def test_no_step_in_any_packing_falls_back_with_the_reason(monkeypatch):
    monkeypatch.setattr(rs, "adsorption_endpoints", lambda calc, seed, relax_steps: (None, None, 0.0))
    monkeypatch.setattr("multiscale.atomistic.load_potential", lambda model=None, **k: None)
    out = rs.alpha_from_neb(seed=0)
    assert out["usable"] is False and "no packing of seeds 0–3" in out["why"]


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
    fit = fit_transfer_coefficient(phi, 0.5 + 0.6 * phi + np.array([0.001, -0.002, 0.001]),
                                   barrier_err_eV=np.full(3, 0.002), branch="reduction")
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


def test_alpha_interval_is_the_spread_of_the_members_own_alpha():
    """Members whose barriers differ by large φ-independent offsets but little in slope: the
    interval follows the members' α (t on M − 1), not the offsets."""
    from scipy import stats

    phi = np.array([-0.3, 0.0, 0.3])
    member_alpha = np.array([0.45, 0.55, 0.50, 0.50])
    offsets = np.array([-0.15, 0.1, 0.05, 0.0])
    barriers = 0.4 + offsets[None, :] + (1 - member_alpha[None, :]) * phi[:, None]   # (fields, members)
    fit, alphas = rs.fit_alpha_members(phi, barriers)
    np.testing.assert_allclose(alphas, member_alpha, atol=1e-12)
    assert fit.alpha == pytest.approx(member_alpha.mean())
    half = stats.t.ppf(0.975, 3) * member_alpha.std(ddof=1)
    np.testing.assert_allclose(fit.alpha_ci95, (0.5 - half, 0.5 + half))
    assert fit.alpha_ci95[1] - fit.alpha_ci95[0] < 0.4  # independent ~0.1 eV barrier errors: ≈ 0.9
    with pytest.raises(InputError, match="members"):
        rs.fit_alpha_members(phi, barriers[:, :1])
