"""Transfer-coefficient and Stark fits: exact recovery from noiseless data, honest intervals."""
import numpy as np
import pytest

from multiscale.errors import InputError
from multiscale.kinetics import fit_stark, fit_transfer_coefficient


def test_reduction_branch_gives_the_same_alpha_as_the_oxidation_branch():
    """One step, α = 0.3: the anodic barrier falls by αeφ, the cathodic one rises by (1 − α)eφ."""
    phi = np.linspace(-0.4, 0.4, 5)
    ox = fit_transfer_coefficient(phi, 0.8 - 0.3 * phi)
    red = fit_transfer_coefficient(phi, 0.5 + 0.7 * phi, branch="reduction")
    assert ox.alpha == pytest.approx(0.3) and red.alpha == pytest.approx(0.3)
    assert red.barrier0_eV == pytest.approx(0.5)
    np.testing.assert_allclose(red.predict(phi), 0.5 + 0.7 * phi)
    with pytest.raises(InputError, match="branch"):
        fit_transfer_coefficient(phi, 0.5 + 0.7 * phi, branch="cathodic")


def test_transfer_coefficient_exact_from_noiseless_data():
    phi = np.linspace(-0.5, 0.5, 7)
    f = fit_transfer_coefficient(phi, 0.8 - 0.42 * phi)
    assert f.alpha == pytest.approx(0.42, abs=1e-12)
    assert f.barrier0_eV == pytest.approx(0.8, abs=1e-12)
    assert f.alpha_ci95[1] - f.alpha_ci95[0] < 1e-10
    g = fit_transfer_coefficient(phi, 0.8 - 0.42 * phi + 0.07 * phi**2, curvature=True)
    assert (g.alpha, g.curvature_eV_V2) == (pytest.approx(0.42, abs=1e-12), pytest.approx(0.07, abs=1e-12))


def test_stark_exact_from_noiseless_data():
    field = np.linspace(-0.3, 0.3, 9)
    s = fit_stark(field, -1.2 - 0.35 * field - 0.5 * 1.7 * field**2)
    assert s.dipole_eA == pytest.approx(0.35, abs=1e-12)
    assert s.polarizability_eA2_per_V == pytest.approx(1.7, abs=1e-11)
    assert s.energy0_eV == pytest.approx(-1.2, abs=1e-12)
    assert s.cov.shape == (3, 3)


def test_intervals_have_their_nominal_coverage():
    rng = np.random.default_rng(7)
    phi = np.linspace(-0.4, 0.4, 6)
    field = np.linspace(-0.3, 0.3, 7)
    hits = {"alpha": 0, "alpha_err": 0, "mu": 0, "pol": 0}
    n = 400
    for _ in range(n):
        noise = 0.02
        ea = 0.8 - 0.5 * phi + noise * rng.standard_normal(phi.size)
        f = fit_transfer_coefficient(phi, ea)                  # scatter-based (Student t)
        hits["alpha"] += f.alpha_ci95[0] <= 0.5 <= f.alpha_ci95[1]
        f = fit_transfer_coefficient(phi, ea, barrier_err_eV=noise)   # known errors (normal)
        hits["alpha_err"] += f.alpha_ci95[0] <= 0.5 <= f.alpha_ci95[1]
        e = -1.0 - 0.2 * field - 0.5 * 0.8 * field**2 + 0.005 * rng.standard_normal(field.size)
        s = fit_stark(field, e)
        hits["mu"] += s.dipole_ci95[0] <= 0.2 <= s.dipole_ci95[1]
        hits["pol"] += s.polarizability_ci95[0] <= 0.8 <= s.polarizability_ci95[1]
    for key, h in hits.items():
        assert 0.92 <= h / n <= 0.98, (key, h / n)


def test_bad_input():
    with pytest.raises(InputError, match="potential_V"):
        fit_transfer_coefficient([0.1, 0.1, 0.1], [1, 2, 3])
    with pytest.raises(InputError, match="barrier_eV"):
        fit_transfer_coefficient([0.1, 0.2], [1.0])
    with pytest.raises(InputError, match="degree of freedom"):
        fit_transfer_coefficient([0.1, 0.2], [1.0, 0.9])
    with pytest.raises(InputError, match="field_V_per_A"):
        fit_stark([0.1, 0.2], [1.0, 2.0])
    with pytest.raises(InputError, match="energy_err_eV"):
        fit_stark([0.1, 0.2, 0.3], [1.0, 2.0, 3.0], energy_err_eV=[0.1, 0.0, 0.1])


def test_plots(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    phi = np.linspace(-0.5, 0.5, 5)
    ax = fit_transfer_coefficient(phi, 0.8 - 0.4 * phi, barrier_err_eV=0.01).plot()
    ax.figure.savefig(tmp_path / "a.png")
    ax = fit_stark(phi, 1 - 0.2 * phi - 0.1 * phi**2).plot()
    ax.figure.savefig(tmp_path / "s.png")
