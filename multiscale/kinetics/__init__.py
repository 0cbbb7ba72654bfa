"""Electrode kinetics: Butler–Volmer / Tafel, Marcus and Marcus–Hush–Chidsey rates, and fits
of the charge-transfer coefficient and of Stark parameters to atomistic data."""
from .butler_volmer import butler_volmer_current_A_m2, fit_tafel, tafel_slope_V_per_decade
from .marcus import marcus_rate, mhc_rate_closed_form, mhc_rate_quadrature
from .stark import StarkFit, fit_stark
from .transfer_coefficient import TransferCoefficientFit, fit_transfer_coefficient

__all__ = [
    "StarkFit", "TransferCoefficientFit", "butler_volmer_current_A_m2", "fit_stark", "fit_tafel",
    "fit_transfer_coefficient", "marcus_rate", "mhc_rate_closed_form", "mhc_rate_quadrature",
    "tafel_slope_V_per_decade",
]
