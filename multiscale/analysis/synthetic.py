"""Synthetic trajectories with known transport: validation input for the estimators.

:func:`brownian_slab` integrates overdamped Brownian dynamics between two reflecting walls at
z = 0 and z = H with a position-dependent, isotropic diffusivity D(z) (Euler–Maruyama, Itô):

    dz = D'(z) dt + √(2 D(z)) dW_z,     dx = √(2 D(z)) dW_x,   dy = √(2 D(z)) dW_y.

The drift D'(z) is the Itô "spurious drift" that makes the uniform density the equilibrium
one (no free-energy gradient, Lau & Lubensky, Phys. Rev. E 76, 011123 (2007)); without it
atoms pile up where D is small. x, y are periodic with box length ``box_xy_A`` (returned
unwrapped, so the MSD is direct).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import check_range


@dataclass
class WallProfile:
    """D(z) = D_bulk [1 − a (e^{−z/ℓ} + e^{−(H−z)/ℓ})] in Å²/ps: slowed down near both walls."""

    d_bulk_A2_ps: float = 0.5
    depth: float = 0.6
    decay_A: float = 2.0
    height_A: float = 30.0

    def __call__(self, z):
        z = np.asarray(z, dtype=float)
        return self.d_bulk_A2_ps * (1 - self.depth * (np.exp(-z / self.decay_A)
                                                      + np.exp(-(self.height_A - z) / self.decay_A)))

    def derivative(self, z):
        z = np.asarray(z, dtype=float)
        return self.d_bulk_A2_ps * self.depth / self.decay_A * (np.exp(-z / self.decay_A)
                                                                - np.exp(-(self.height_A - z) / self.decay_A))

    def layer_mean(self, z_lo: float, z_hi: float, n: int = 2001) -> float:
        """Average of D over a layer [Å²/ps]."""
        zz = np.linspace(z_lo, z_hi, n)
        return float(np.trapezoid(self(zz), zz) / (z_hi - z_lo))


def brownian_slab(profile: WallProfile, *, n_atoms: int, n_frames: int, frame_dt_ps: float,
                  substeps: int = 10, box_xy_A: float = 30.0, seed: int = 0, progress: bool = False):
    """Positions (n_frames, n_atoms, 3) Å (x, y unwrapped) and times (n_frames,) ps."""
    check_range("frame_dt_ps", frame_dt_ps, low=0.0, low_inclusive=False)
    rng = np.random.default_rng(seed)
    h = profile.height_A
    dt = frame_dt_ps / int(substeps)
    r = np.column_stack([rng.random(n_atoms) * box_xy_A, rng.random(n_atoms) * box_xy_A, rng.random(n_atoms) * h])
    out = np.empty((int(n_frames), n_atoms, 3))
    frames = range(int(n_frames))
    if progress:
        from tqdm.auto import tqdm

        frames = tqdm(frames, desc="Brownian dynamics")
    for f in frames:
        out[f] = r
        for _ in range(int(substeps)):
            z = r[:, 2]
            d = profile(z)
            noise = rng.standard_normal((n_atoms, 3)) * np.sqrt(2 * d * dt)[:, None]
            r = r + noise
            r[:, 2] += profile.derivative(z) * dt
            zz = r[:, 2]
            zz = np.where(zz < 0, -zz, zz)
            r[:, 2] = np.where(zz > h, 2 * h - zz, zz)
    return out, np.arange(int(n_frames)) * frame_dt_ps
