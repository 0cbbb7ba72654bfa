"""Every public entry point of ../shared/CONTRACT.md exists with the documented signature."""
import inspect

import pytest


@pytest.mark.parametrize(
    "module, names",
    [
        ("multiscale.battery", ["HybridSPMe"]),
        ("multiscale.continuum", ["PoissonBoltzmann", "NernstPlanck1D", "Species"]),
        ("multiscale.kinetics", ["fit_transfer_coefficient", "fit_stark"]),
        ("multiscale.analysis", ["diffusion_profile"]),
        ("multiscale.atomistic", ["load_potential", "default_system", "reference_calculator", "neb_barrier"]),
        ("multiscale.thermo", ["PhaseDiagram"]),
        ("multiscale.atomistic.free_energy", ["thermodynamic_integration", "mbar"]),
        ("multiscale.uq", ["delta_method"]),
    ],
)
def test_entry_points_importable(module, names):
    mod = __import__(module, fromlist=names)
    for name in names:
        assert hasattr(mod, name), f"{module}.{name} is missing"


def _params(func):
    return inspect.signature(func).parameters


def test_signatures_keep_contract_keywords():
    from multiscale.analysis import diffusion_profile
    from multiscale.atomistic import neb_barrier
    from multiscale.battery import HybridSPMe
    from multiscale.continuum import NernstPlanck1D, PoissonBoltzmann

    p = _params(HybridSPMe.simulate)
    assert {"ambient_temperature_K", "initial_soc"} <= set(p)
    assert {"n_cells", "initial_soc", "ambient_temperature_K"} <= set(_params(HybridSPMe.estimator))
    assert {"valence", "temperature_K", "relative_permittivity", "stern_capacitance_F_m2",
            "packing_fraction"} <= set(_params(PoissonBoltzmann.__init__))
    assert {"temperature_K", "potential_V", "relative_permittivity"} <= set(_params(NernstPlanck1D.__init__))
    assert {"axis", "bin_edges", "species"} <= set(_params(diffusion_profile))
    assert {"n_images", "climb", "fmax"} <= set(_params(neb_barrier))
