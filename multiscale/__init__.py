"""multiscale: electrochemistry from atoms to battery cells.

Layers (each a subpackage, imported lazily so that ``import multiscale`` stays cheap):

- :mod:`multiscale.atomistic`  field-aware ML potential, ensembles, MD, NEB, free energies (ASE units)
- :mod:`multiscale.analysis`   RDFs, diffusion profiles D(z), charge density → φ(z)
- :mod:`multiscale.continuum`  Poisson, Poisson–Boltzmann/Stern/Bikerman, Nernst–Planck (SI)
- :mod:`multiscale.kinetics`   Butler–Volmer, Marcus(–Hush–Chidsey), transfer coefficients, Stark fits
- :mod:`multiscale.thermo`     formation energies, convex hulls, voltage profiles
- :mod:`multiscale.battery`    PyBaMM export, hybrid SPMe + ML corrector, real-time estimator
- :mod:`multiscale.uq`         delta method / Monte Carlo propagation of uncertainty
- :mod:`multiscale.pipeline`   the whole chain behind ``multiscale run``
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
