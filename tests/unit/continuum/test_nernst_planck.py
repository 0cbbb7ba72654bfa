"""Nernst–Planck: SG fluxes, Boltzmann steady states for any D(x), conservation, diffusion,
RC charging time, limiting current, Butler–Volmer boundaries, bad input."""
import numpy as np
import pytest

from multiscale.continuum import (ButlerVolmerBoundary, GalvanostaticBoundary, NernstPlanck1D, Species,
                                  debye_length_m)
from multiscale.continuum.nernst_planck import scharfetter_gummel_flux
from multiscale.errors import ConvergenceError, InputError
from multiscale.units import faraday_C_mol, thermal_voltage_V

VT = thermal_voltage_V(298.15)
L = 10e-9


def _d_of_x(x):
    return 1e-9 * (1.0 + 0.9 * np.sin(7e8 * x))       # strongly varying D(x), > 0


def _graded(n, length, strength=0.9):
    s = np.linspace(0, 1, n)
    return length * (s - strength * np.sin(2 * np.pi * s) / (2 * np.pi))


def test_sg_flux_vanishes_for_boltzmann_whatever_d(rng):
    x = np.sort(rng.uniform(0, L, 200))
    phi = 0.2 * np.sin(2 * np.pi * x / L) + 0.05 * rng.standard_normal(x.size)
    for z in (1, -2):
        c = 50.0 * np.exp(-z * phi / VT)
        d_face = rng.uniform(1e-11, 1e-8, x.size - 1)
        j = scharfetter_gummel_flux(x, c, phi, d_face, z)
        typical = np.max(d_face / np.diff(x) * c.max())
        assert np.max(np.abs(j)) < 1e-13 * typical


@pytest.mark.parametrize("diffusivity", [2e-9, _d_of_x, "array"])
def test_steady_state_in_fixed_potential_is_boltzmann(diffusivity):
    x = _graded(301, L)
    phi = 0.08 * np.cos(2 * np.pi * x / L) + 0.02 * x / L
    d = _d_of_x(x) if isinstance(diffusivity, str) else diffusivity
    model = NernstPlanck1D(x, [Species("Li+", 1, d), Species("PF6-", -1, 1e-9)], potential_V=phi)
    ss = model.steady_state({"Li+": 100.0, "PF6-": 100.0})
    for name, z in (("Li+", 1), ("PF6-", -1)):
        b = np.exp(-z * phi / VT)
        b *= ss.amount_mol_m2(name)[0] / (model._vol @ b)
        np.testing.assert_allclose(ss[name], b, rtol=1e-9)
        assert ss.amount_mol_m2(name)[0] == pytest.approx(100.0 * L, rel=1e-13)
    # the transient run reaches the same state
    run = model.run({"Li+": 100.0, "PF6-": 100.0}, 20 * L**2 / 1e-10, dt_s=L**2 / 1e-10 / 10)
    np.testing.assert_allclose(run["Li+"], ss["Li+"], rtol=1e-7)


def test_mass_conservation_to_round_off_fixed_and_coupled():
    x = np.linspace(0, L, 1000)
    phi = 0.1 * np.sin(2 * np.pi * x / L)
    model = NernstPlanck1D(x, [Species("a", 1, _d_of_x), Species("b", -1, 1e-9)], potential_V=phi)
    c0 = {"a": 100.0 + 50 * np.cos(3 * x / L), "b": 100.0}
    r = model.run(c0, 1e-7, dt_s=1e-10, save_every=50)
    for name in ("a", "b"):
        m = r.amount_mol_m2(name)
        assert np.max(np.abs(m - m[0])) / m[0] < 1e-12
    coupled = NernstPlanck1D(_graded(201, 20e-9), [Species("a", 1, 1e-9), Species("b", -1, 2e-9)],
                             relative_permittivity=78.5, boundary_potential_V=(0.05, -0.05))
    r = coupled.run({"a": 100.0, "b": 100.0}, 1e-8, dt_s=2e-10)
    for name in ("a", "b"):
        m = r.amount_mol_m2(name)
        assert np.max(np.abs(m - m[0])) / m[0] < 1e-12


def test_free_diffusion_mode_decay():
    x = np.linspace(0, L, 401)
    model = NernstPlanck1D(x, [Species("n", 0, 1e-9)], potential_V=np.zeros_like(x))
    k = np.pi / L
    t_end = 1.0 / (1e-9 * k * k)
    r = model.run({"n": 10.0 + np.cos(k * x)}, t_end, dt_s=t_end / 2000)
    amp = (r["n"][0] - r["n"][-1]) / 2
    assert amp == pytest.approx(np.exp(-1.0), rel=2e-3)


def test_rc_charging_time_bazant_thornton_ajdari():
    c0, d = 100.0, 1e-9
    lam = debye_length_m(c0)
    length = 100 * lam
    x = _graded(301, length, 0.95)
    v = 0.002                                               # linear regime
    model = NernstPlanck1D(x, [Species("+", 1, d), Species("-", -1, d)], relative_permittivity=78.5,
                           boundary_potential_V=(v / 2, -v / 2))
    tau = lam * (length / 2) / d                            # τ = λ_D L/D, L the half-cell length
    r = model.run({"+": c0, "-": c0}, 3 * tau, dt_s=tau / 100)
    ss = model.steady_state({"+": c0, "-": c0})
    half = x <= length / 2

    def charge(cp, cm):                                     # electrode charge = −(diffuse charge of the half cell)
        return -faraday_C_mol * (cp - cm)[..., half] @ model._vol[half]

    q = charge(r.concentration_mol_m3["+"], r.concentration_mol_m3["-"])
    y = 1 - q / charge(ss["+"], ss["-"])
    sel = (r.time_s > 0.5 * tau) & (r.time_s < 3 * tau)
    tau_fit = -1 / np.polyfit(r.time_s[sel], np.log(y[sel]), 1)[0]
    assert tau_fit == pytest.approx(tau, rel=0.08)


def test_limiting_current_of_a_binary_electrolyte():
    c0, d_plus = 10.0, 1e-9
    length = 200 * debye_length_m(c0)
    x = _graded(301, length, 0.95)
    i_lim = 4 * faraday_C_mol * d_plus * c0 / length
    for frac in (0.5, 0.9):
        i = frac * i_lim
        model = NernstPlanck1D(x, [Species("+", 1, d_plus), Species("-", -1, 3e-9)], relative_permittivity=78.5,
                               reactions=[GalvanostaticBoundary("+", "left", i), GalvanostaticBoundary("+", "right", -i)])
        ss = model.steady_state({"+": c0, "-": c0})
        k = np.searchsorted(x, [0.25 * length, 0.75 * length])
        slope = (ss["+"][k[1]] - ss["+"][k[0]]) / (x[k[1]] - x[k[0]])
        # electroneutral bulk: c(x) linear, c(L) = c0 (1 − i/i_lim)
        assert -slope * length / (2 * c0) == pytest.approx(frac, rel=2e-3)
    with pytest.raises(ConvergenceError):
        NernstPlanck1D(x, [Species("+", 1, d_plus), Species("-", -1, 3e-9)], potential_V=np.zeros_like(x),
                       reactions=[GalvanostaticBoundary("+", "left", i)]).steady_state({"+": c0, "-": c0})


def test_butler_volmer_boundary_equilibrium_and_consumption():
    x = np.linspace(0, 1e-6, 201)
    bv = ButlerVolmerBoundary("M+", "left", exchange_current_density_A_m2=10.0, overpotential_V=0.0,
                              reference_concentration_mol_m3=100.0)
    model = NernstPlanck1D(x, [Species("M+", 1, 1e-9)], potential_V=np.zeros_like(x), reactions=[bv])
    ss = model.steady_state({"M+": 100.0})
    # η = 0 at c_ref: no current, uniform c. Only the slow surface reaction (i₀/F c_ref ≪ D/h) pins the
    # level, so interior round-off is amplified by (D/h)/(i₀/F c_ref) ~ 1e5: compare at 1e-7.
    np.testing.assert_allclose(ss["M+"], 100.0, rtol=1e-7)
    cathodic = ButlerVolmerBoundary("M+", "left", 10.0, -0.2, 100.0)
    model = NernstPlanck1D(x, [Species("M+", 1, 1e-9)], potential_V=np.zeros_like(x), reactions=[cathodic])
    r = model.run({"M+": 100.0}, 1e-4, dt_s=1e-6)
    lost = r.amount_mol_m2("M+")[0] - r.amount_mol_m2("M+")[-1]
    # consumed amount equals the time integral of the BV current / F (backward Euler quadrature)
    i_surface = np.array([cathodic.current_density_A_m2(c[0], 1, 298.15) for c in r.concentration_mol_m3["M+"]])
    charge = np.sum(i_surface[1:]) * (r.time_s[1] - r.time_s[0])
    assert lost == pytest.approx(-charge / faraday_C_mol, rel=1e-10)
    assert r["M+"][0] < 100.0


def test_bad_input_names_the_argument():
    x = np.linspace(0, L, 11)
    with pytest.raises(InputError, match="diffusivity_m2_s"):
        NernstPlanck1D(x, [Species("a", 1, -1e-9)], potential_V=np.zeros(11))
    with pytest.raises(InputError, match="x_m"):
        NernstPlanck1D(x[::-1], [Species("a", 1, 1e-9)], potential_V=np.zeros(11))
    with pytest.raises(InputError, match="relative_permittivity"):
        NernstPlanck1D(x, [Species("a", 1, 1e-9)])
    model = NernstPlanck1D(x, [Species("a", 1, 1e-9)], potential_V=np.zeros(11))
    with pytest.raises(InputError, match="negative"):
        model.run({"a": -np.ones(11)}, 1.0)
    with pytest.raises(InputError, match="'a'"):
        model.run({"b": 1.0}, 1.0)


def test_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    x = np.linspace(0, L, 21)
    model = NernstPlanck1D(x, [Species("a", 1, 1e-9)], potential_V=0.05 * x / L)
    ax = model.run({"a": 1.0}, 1e-8).plot()
    ax.figure.savefig(tmp_path / "np.png")


@pytest.mark.parametrize("stern", [None, 0.2])
def test_poisson_coupled_steady_state_matches_poisson_boltzmann(stern):
    """The steady PNP double layer at a blocking electrode is the (Stern–)PB double layer."""
    from multiscale.continuum import PoissonBoltzmann

    c0 = 100.0
    lam = debye_length_m(c0)
    length = 40 * lam
    x = _graded(401, length, 0.97)
    v = 0.1
    model = NernstPlanck1D(x, [Species("+", 1, 1e-9), Species("-", -1, 2e-9)], relative_permittivity=78.5,
                           boundary_potential_V=(v, -v), stern_capacitance_F_m2=stern)
    ss = model.steady_state({"+": c0, "-": c0})
    mid = int(np.argmin(np.abs(x - length / 2)))
    half = x <= length / 2
    sigma = -faraday_C_mol * (ss["+"] - ss["-"])[half] @ model._vol[half]
    pb = PoissonBoltzmann(ss["+"][mid], stern_capacitance_F_m2=stern)
    ref = pb.solve(v - ss.potential_V[-1][mid]).surface_charge_C_m2
    assert sigma == pytest.approx(ref, rel=2e-3)
    assert ss["+"][mid] == pytest.approx(ss["-"][mid], rel=1e-6)          # electroneutral bulk
