"""Trajectory analysis: structure (RDF, coordination), diffusion (MSD, D∥(z), D⊥(z)) and
electrostatics (ρ(z) → φ(z)). Inputs in ASE units (Å, ps, e), outputs in SI."""
from .base import AnalysisBase, Results
from .diffusion import diffusion_profile, plot_diffusion_profile, survival_slab
from .electrostatics import ChargeDensity, potential_from_density
from .msd import MSD, msd_fft_sum, yeh_hummer_correction
from .rdf import RDF, compare_structure, shell_metrics
from .readers import FrameChunk, iter_chunks, read_all

__all__ = ["AnalysisBase", "Results", "diffusion_profile", "plot_diffusion_profile", "survival_slab", "ChargeDensity",
           "potential_from_density", "MSD", "msd_fft_sum", "yeh_hummer_correction", "RDF",
           "compare_structure", "shell_metrics", "FrameChunk", "iter_chunks", "read_all"]
