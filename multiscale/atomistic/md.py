"""Molecular dynamics with the ML ensemble: ASE integrators, per-frame uncertainty, trust checks.

Integrators: velocity Verlet (NVE, ``ase.md.verlet.VelocityVerlet``) and Langevin (NVT,
``ase.md.langevin.Langevin``). Every ``interval`` steps a frame is written to an ASE
trajectory with its energy, forces, charges and, in ``atoms.info``, the per-frame maximum
σ_F = max_i σ_F,i [eV/Å] (DP-GEN's model deviation) over the atoms that move (atoms held by
``FixAtoms``, e.g. a frozen electrode, are left out). When σ_F exceeds ``trust_eV_per_A``
(default 0.3 eV/Å, above the 0.05–0.15 DP-GEN "candidate" window) the run stops — or, with
``on_untrusted="flag"``, keeps going and counts the untrusted frames.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import units

from ..errors import InputError, OutOfDomainError, check_range

ENSEMBLES = ("nve", "langevin")


@dataclass
class MDResult:
    """Per-frame series of a run (time in fs, energies in eV, σ_F in eV/Å)."""

    time_fs: np.ndarray
    potential_energy_eV: np.ndarray
    total_energy_eV: np.ndarray
    temperature_K: np.ndarray
    max_force_uncertainty_eV_per_A: np.ndarray
    n_atoms: int
    stopped_early: bool
    n_untrusted: int
    trajectory: str | None = None
    frames: list = field(default_factory=list, repr=False)
    stop_reason: str | None = None

    def drift_meV_per_atom_per_ps(self) -> float:
        """Slope of a linear fit of the total energy per atom against time [meV/atom/ps]."""
        if len(self.time_fs) < 3:
            raise InputError("need >= 3 frames for a drift estimate")
        slope = np.polyfit(self.time_fs / 1000.0, self.total_energy_eV / self.n_atoms, 1)[0]
        return float(slope * 1000.0)

    def plot(self, ax=None):
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(2, 1, sharex=True, figsize=(5, 4))
        ax[0].plot(self.time_fs, (self.total_energy_eV - self.total_energy_eV[0]) / self.n_atoms * 1000)
        ax[0].set_ylabel("ΔE_tot [meV/atom]")
        ax[1].plot(self.time_fs, self.max_force_uncertainty_eV_per_A)
        ax[1].set_ylabel("max σ_F [eV/Å]")
        ax[1].set_xlabel("time [fs]")
        return ax


def run_md(atoms, calculator=None, *, n_steps: int, timestep_fs: float = 0.5, ensemble: str = "nve",
           temperature_K: float = 300.0, friction_per_fs: float = 0.01, interval: int = 1,
           trust_eV_per_A: float = 0.3, on_untrusted: str = "stop", trajectory: str | Path | None = None,
           seed: int = 0, initial_temperature_K: float | None = None, keep_frames: bool = False,
           progress: bool = False, on_out_of_domain: str = "raise") -> MDResult:
    """Run MD on ``atoms`` (its calculator, or ``calculator``); see the module docstring.

    ``initial_temperature_K`` draws Maxwell–Boltzmann velocities (seeded) when given; otherwise
    the atoms' velocities are kept. When the calculator refuses a configuration
    (:class:`~multiscale.errors.OutOfDomainError`), ``on_out_of_domain="raise"`` (default)
    propagates it; ``"stop"`` ends the run there and returns the frames so far with
    ``stopped_early`` and ``stop_reason`` set. Returns an :class:`MDResult`.
    """
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import thermalize_momenta
    from ase.md.verlet import VelocityVerlet
    from tqdm.auto import tqdm

    if ensemble not in ENSEMBLES:
        raise InputError(f"ensemble = {ensemble!r} must be one of {list(ENSEMBLES)}")
    if on_untrusted not in ("stop", "flag"):
        raise InputError(f"on_untrusted = {on_untrusted!r} must be 'stop' or 'flag'")
    if on_out_of_domain not in ("raise", "stop"):
        raise InputError(f"on_out_of_domain = {on_out_of_domain!r} must be 'raise' or 'stop'")
    n_steps = int(check_range("n_steps", n_steps, low=1))
    dt = check_range("timestep_fs", timestep_fs, low=0.0, high=5.0, low_inclusive=False)
    check_range("trust_eV_per_A", trust_eV_per_A, low=0.0, low_inclusive=False)
    interval = int(check_range("interval", interval, low=1))
    if calculator is not None:
        atoms.calc = calculator
    if atoms.calc is None:
        raise InputError("atoms has no calculator; pass calculator=load_potential()")
    rng = np.random.default_rng(seed)
    if initial_temperature_K is not None:
        thermalize_momenta(atoms, initial_temperature_K, exact_temperature=True, rng=rng)
    if ensemble == "nve":
        dyn = VelocityVerlet(atoms, dt * units.fs)
    else:
        check_range("temperature_K", temperature_K, low=0.0, low_inclusive=False)
        dyn = Langevin(atoms, dt * units.fs, temperature_K=temperature_K, friction=friction_per_fs / units.fs,
                       rng=rng, fixcm=False)
    traj = None
    if trajectory is not None:
        from ase.io.trajectory import Trajectory

        traj = Trajectory(str(trajectory), "w", atoms)
    series: dict[str, list] = dict(t=[], epot=[], etot=[], temp=[], sig=[])
    frames = []
    state = dict(untrusted=0, stop=False)
    mobile = mobile_atoms(atoms)  # σ_F of atoms held fixed (a frozen electrode) does not move anything

    def observe():
        calc = atoms.calc
        epot = atoms.get_potential_energy()
        sig_i = np.asarray(calc.results.get("force_uncertainty", np.zeros(len(atoms))))
        sig = float(np.max(sig_i[mobile])) if sig_i.shape == (len(atoms),) and mobile.any() else float(np.max(sig_i))
        series["t"].append(dyn.get_time() / units.fs)
        series["epot"].append(epot)
        series["etot"].append(epot + atoms.get_kinetic_energy())
        series["temp"].append(atoms.get_temperature())
        series["sig"].append(sig)
        atoms.info["max_force_uncertainty_eV_per_A"] = sig
        atoms.info["trusted"] = sig <= trust_eV_per_A
        if traj is not None:
            traj.write(atoms)
        if keep_frames:  # a copy drops the calculator: keep what it computed with the frame
            from ase.calculators.singlepoint import SinglePointCalculator

            frame = atoms.copy()
            frame.calc = SinglePointCalculator(frame, energy=epot, forces=calc.results.get("forces"),
                                               charges=calc.results.get("charges"))
            frames.append(frame)
        if sig > trust_eV_per_A:
            state["untrusted"] += 1
            if on_untrusted == "stop":
                state["stop"] = True

    observe()
    bar = tqdm(total=n_steps, disable=not progress, desc=f"MD ({ensemble})", leave=False)
    done = 0
    reason = None
    try:
        while done < n_steps and not state["stop"]:
            k = min(interval, n_steps - done)
            try:
                dyn.run(k)
            except OutOfDomainError as exc:
                if on_out_of_domain == "raise":
                    raise
                reason, state["stop"] = f"out of the potential's domain after {done} steps: {exc}", True
                break
            done += k
            bar.update(k)
            observe()
    finally:
        bar.close()
        if traj is not None:
            traj.close()
    return MDResult(np.array(series["t"]), np.array(series["epot"]), np.array(series["etot"]),
                    np.array(series["temp"]), np.array(series["sig"]), len(atoms), bool(state["stop"]),
                    int(state["untrusted"]), str(trajectory) if trajectory else None, frames, reason)


def mobile_atoms(atoms) -> np.ndarray:
    """Atoms not held by a ``FixAtoms`` constraint."""
    from ase.constraints import FixAtoms

    mobile = np.ones(len(atoms), dtype=bool)
    for c in atoms.constraints:
        if isinstance(c, FixAtoms):
            mobile[c.get_indices()] = False
    return mobile


def relax(atoms, calculator=None, *, fmax_eV_per_A: float = 0.5, steps: int = 300, max_step_A: float = 0.05) -> dict:
    """Relax a starting configuration (FIRE, at most ``max_step_A`` per step) before MD.

    A random packing has overlaps and, with a core-repulsion guard, atoms inside its walls: the
    forces of the first step would then be tens of eV/Å and the first MD steps would eject
    atoms. Stops at ``fmax_eV_per_A`` or after ``steps``; returns ``n_steps``, the final
    ``fmax_eV_per_A`` and ``converged``. Not a geometry optimisation to a minimum — a start for MD.
    """
    from ase.optimize import FIRE

    check_range("fmax_eV_per_A", fmax_eV_per_A, low=0.0, low_inclusive=False)
    steps = int(check_range("steps", steps, low=1))
    check_range("max_step_A", max_step_A, low=0.0, high=0.5, low_inclusive=False)
    if calculator is not None:
        atoms.calc = calculator
    if atoms.calc is None:
        raise InputError("atoms has no calculator; pass calculator=load_potential()")
    opt = FIRE(atoms, maxstep=max_step_A, logfile=None)
    converged = bool(opt.run(fmax=fmax_eV_per_A, steps=steps))
    fmax = float(np.sqrt((atoms.get_forces() ** 2).sum(axis=1).max()))
    return {"n_steps": int(opt.nsteps), "fmax_eV_per_A": fmax, "converged": converged}
