"""Continuum electrochemistry: Poisson, Poisson–Boltzmann double layers, Nernst–Planck
transport and the self-consistent adsorption / double-layer model (SI units throughout)."""
from .adsorption import (AdsorptionInterface, AdsorptionResult, StarkAdsorptionModel,
                         langmuir_coverage)
from .double_layer_analytic import (bikerman_capacitance_F_m2, debye_length_m, gouy_chapman_capacitance_F_m2,
                                    gouy_chapman_potential_V, grahame_charge_C_m2, stern_series_capacitance_F_m2)
from .electrode_boundaries import ButlerVolmerBoundary, GalvanostaticBoundary
from .nernst_planck import NernstPlanck1D, NernstPlanckResult, Species
from .poisson import PoissonResult, solve_poisson
from .poisson_boltzmann import PoissonBoltzmann, PoissonBoltzmannResult

__all__ = [
    "AdsorptionInterface", "AdsorptionResult", "StarkAdsorptionModel", "langmuir_coverage",
    "ButlerVolmerBoundary", "GalvanostaticBoundary", "NernstPlanck1D", "NernstPlanckResult", "PoissonBoltzmann",
    "PoissonBoltzmannResult", "PoissonResult", "Species", "bikerman_capacitance_F_m2", "debye_length_m",
    "gouy_chapman_capacitance_F_m2", "gouy_chapman_potential_V", "grahame_charge_C_m2", "solve_poisson",
    "stern_series_capacitance_F_m2",
]
