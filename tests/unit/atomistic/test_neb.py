"""CI-NEB: the ASE EMT Au-on-Al(100) hop anchor, an analytic double well vs potential, options."""
import copy

import numpy as np
import pytest
from ase import Atoms
from ase.build import add_adsorbate, fcc100
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.constraints import FixAtoms
from ase.optimize import QuasiNewton
from scipy.optimize import minimize_scalar

from multiscale.atomistic.neb import barriers_vs_potential, neb_barrier
from multiscale.errors import ConvergenceError, InputError

AU_AL100_BARRIER_EV = 0.374  # ASE NEB tutorial, EMT (DESIGN.md anchor)


@pytest.fixture(scope="module")
def au_al100():
    slab = fcc100("Al", size=(2, 2, 3))
    add_adsorbate(slab, "Au", 1.7, "hollow")
    slab.center(axis=2, vacuum=4.0)
    slab.set_constraint(FixAtoms(mask=[atom.tag > 1 for atom in slab]))
    slab.calc = EMT()
    QuasiNewton(slab, logfile=None).run(fmax=0.01)
    initial = slab.copy()
    slab[-1].x += slab.get_cell()[0, 0] / 2
    QuasiNewton(slab, logfile=None).run(fmax=0.01)
    return initial, slab.copy()


def test_au_adatom_hop_on_al100_matches_ase_anchor(au_al100):
    initial, final = au_al100
    r = neb_barrier(initial, final, EMT(), n_images=3, fmax=0.01)
    assert r.barrier_eV == pytest.approx(AU_AL100_BARRIER_EV, abs=0.002)
    # hollow → hollow is symmetric: equal forward/reverse barriers, saddle in the middle image
    assert r.reverse_barrier_eV == pytest.approx(r.barrier_eV, abs=2e-3)
    assert r.saddle_index == 2 and len(r.images) == 5 and r.energies_eV.shape == (5,)
    assert r.fmax_eV_A <= 0.01 and r.converged
    # the climbing image sits at the bridge site between the two hollows
    x0, x1 = initial[-1].x, final[-1].x
    assert r.images[2][-1].x == pytest.approx(0.5 * (x0 + x1), abs=0.02)


class _Uncopyable(EMT):
    def __deepcopy__(self, memo):
        raise TypeError("this calculator holds a live handle")


def test_shared_factory_and_copied_calculators_agree(au_al100):
    initial, final = au_al100
    kw = dict(n_images=1, fmax=0.05, interpolation="linear")
    ref = neb_barrier(initial, final, EMT(), **kw).barrier_eV
    assert neb_barrier(initial, final, EMT, **kw).barrier_eV == pytest.approx(ref, abs=1e-8)  # factory
    assert neb_barrier(initial, final, _Uncopyable(), **kw).barrier_eV == pytest.approx(ref, abs=1e-8)  # shared
    with pytest.raises(InputError, match="cannot be copied"):
        neb_barrier(initial, final, _Uncopyable(), allow_shared_calculator=False, **kw)


def test_neb_errors(au_al100):
    initial, final = au_al100
    with pytest.raises(ConvergenceError, match="did not converge"):
        neb_barrier(initial, final, EMT(), n_images=3, fmax=0.001, steps=3)
    with pytest.raises(InputError, match="atoms"):
        neb_barrier(initial, final[:-1], EMT())
    with pytest.raises(InputError, match="optimizer"):
        neb_barrier(initial, final, EMT(), optimizer="SteepestDescent")
    with pytest.raises(InputError, match="n_images"):
        neb_barrier(initial, final, EMT(), n_images=0)


class ChargeTransferWell(Calculator):
    """One particle, E = E_b(1 − x²)² + ½k(y² + z²) − q φ s(x), s(x) = (1 + tanh(x/w))/2 [eV, Å].

    s(x) is the transferred charge fraction along the hop, so E_a(φ) ≈ E_a(0) − q[s(x‡) − s(x_IS)]φ.
    """

    implemented_properties = ["energy", "forces"]

    def __init__(self, potential_V=0.0, barrier_eV=0.3, charge_e=1.0, width_A=0.4, k_eV_A2=2.0, **kwargs):
        super().__init__(**kwargs)
        self.phi, self.eb, self.q, self.w, self.k = potential_V, barrier_eV, charge_e, width_A, k_eV_A2

    def energy_x(self, x):
        return self.eb * (1 - x**2) ** 2 - self.q * self.phi * 0.5 * (1 + np.tanh(x / self.w))

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        x, y, z = self.atoms.positions[0]
        dsdx = 0.5 / (self.w * np.cosh(x / self.w) ** 2)
        fx = -(-4 * self.eb * x * (1 - x**2) - self.q * self.phi * dsdx)
        self.results = {"energy": self.energy_x(x) + 0.5 * self.k * (y**2 + z**2),
                        "forces": np.array([[fx, -self.k * y, -self.k * z]])}


def _exact_barrier(phi):
    """max − min of the 1-D profile along the x axis (the MEP by symmetry in y, z)."""
    e = ChargeTransferWell(potential_V=phi).energy_x
    ts = minimize_scalar(lambda x: -e(x), bounds=(-0.6, 0.6), method="bounded", options={"xatol": 1e-10})
    ini = minimize_scalar(e, bounds=(-1.5, -0.4), method="bounded", options={"xatol": 1e-10})
    return -ts.fun - ini.fun


def test_barriers_vs_potential_match_exact_profile():
    initial = Atoms("H", positions=[[-1.0, 0.0, 0.0]])
    final = Atoms("H", positions=[[1.0, 0.0, 0.0]])
    phi = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])
    scan = barriers_vs_potential(initial, final, lambda p: ChargeTransferWell(potential_V=p), phi,
                                 n_images=7, fmax=0.002, interpolation="linear")
    exact = np.array([_exact_barrier(p) for p in phi])
    np.testing.assert_allclose(scan.barrier_eV, exact, atol=1e-3)
    # a positive potential favours the charge-transfer direction: lower barrier, alpha near q/2
    slope = np.polyfit(phi, scan.barrier_eV, 1)[0]
    assert -slope == pytest.approx(-np.polyfit(phi, exact, 1)[0], abs=0.01)
    assert 0.4 < -slope < 0.6
    fit = scan.fit_transfer_coefficient()  # multiscale.kinetics: E_a(φ) = E_a(0) − αeφ
    assert fit.alpha == pytest.approx(-slope, rel=1e-9)
    est = scan.alpha_estimate()
    assert est.value == pytest.approx(fit.alpha) and est.interval == pytest.approx(fit.alpha_ci95, rel=1e-9)
    df = scan.to_frame()
    assert list(df.columns) == ["Potential [V]", "Barrier [eV]", "Reverse barrier [eV]"]
    assert copy.deepcopy(scan.results[0].energies_eV).shape == (9,)


def test_barrier_scan_plots(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    initial = Atoms("H", positions=[[-1.0, 0.0, 0.0]])
    final = Atoms("H", positions=[[1.0, 0.0, 0.0]])
    scan = barriers_vs_potential(initial, final, lambda p: ChargeTransferWell(potential_V=p), [0.0, 0.1],
                                 n_images=3, fmax=0.05, interpolation="linear")
    ax = scan.plot()
    scan.results[0].plot(ax=None).figure.savefig(tmp_path / "neb.png")
    assert ax.get_xlabel() == "potential [V]"
    with pytest.raises(InputError, match="potentials_V"):
        barriers_vs_potential(initial, final, lambda p: ChargeTransferWell(potential_V=p), [np.nan])
