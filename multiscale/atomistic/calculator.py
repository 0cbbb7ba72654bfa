"""ASE calculator for the field-aware ML ensemble, with domain checks and force uncertainty.

Results (ASE units): ``energy`` [eV] (ensemble mean, including the field term −Fμ − ½αF²),
``forces`` [eV/Å] (mean of the members' −∂E/∂r), ``charges`` [e] (per atom, exactly neutral),
``dipole`` [e·Å] (0, 0, μ_z: the dipole normal to the electrode; in-plane components of a
slab periodic in x, y are not defined and are reported as 0), ``force_uncertainty`` [eV/Å]
(per-atom ensemble spread σ_F,i), ``energy_uncertainty`` [eV] and ``out_of_domain`` (bool).

Field convention: ``field_V_per_A`` is a uniform field along +z in V/Å; the energy follows
E(F) = E(0) − μF − ½αF² (−∂E/∂F = μ_z).

Bad input raises :class:`multiscale.errors.OutOfDomainError` (a subclass of ``InputError``):
an element the model was not trained on, two atoms closer than the shortest distance seen in
training (× 0.85: an unphysical overlap), a field outside the trained range
(± ``field_tolerance_V_per_A``), or a cell that is not periodic in x and y (the model was trained
on in-plane periodic slabs).

Models whose metadata carry ``pair_min_distance_A`` add the core repulsion of
:mod:`multiscale.atomistic.core_repulsion` below the shortest distance of each element pair in
training (zero on all training data), so that dynamics cannot fall into the attractive holes a
network may have where it saw no data; ``out_of_domain`` is True while it acts, or while an element pair that never came within the
cutoff in training does (e.g. Li–Li when training had one Li per cell), and
``core_repulsion_energy`` [eV] says how much the wall adds.

Models trained on top of a physics baseline (Δ-learning; ``ensemble.baseline``, e.g. the
graphene π-band term of :mod:`multiscale.atomistic.pi_electrons`) add it to the energy, the
forces and every member's energy; ``baseline_energy`` [eV] reports it.
"""
from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from ..errors import InputError, OutOfDomainError, check_range
from .ensemble import PotentialEnsemble
from .graph import GraphBuilder, collate

DEFAULT_MODEL = "mlp_li_ec_graphene"


class MLPotential(Calculator):
    """ASE calculator around a :class:`PotentialEnsemble`.

    Parameters (``calc.set(...)`` works for all): ``field_V_per_A`` (float, along +z),
    ``field_tolerance_V_per_A`` (extrapolation allowed beyond the trained field range, default
    0.02), ``require_periodic_xy`` (default True), ``check_distances`` (default True).
    """

    implemented_properties = ["energy", "free_energy", "forces", "charges", "dipole"]
    default_parameters = dict(field_V_per_A=0.0, field_tolerance_V_per_A=0.02, require_periodic_xy=True,
                              check_distances=True)
    #: precision of descriptor, networks and force contraction; "float32" is ~2× faster
    precision = "float64"

    def __init__(self, ensemble: PotentialEnsemble, *, reference: str = "GFN1-xTB", name: str | None = None,
                 info: dict | None = None, precision: str = "float64", **kwargs):
        self.ensemble = ensemble.eval().set_precision(precision)
        self.precision = precision
        self.reference = reference
        self.model_name = name or "mlp"
        self.info = info or {}
        super().__init__(**kwargs)
        check_range("field_V_per_A", self.parameters.field_V_per_A)
        m = ensemble.members[0]
        self.elements = m.elements
        self.field_range_V_per_A = tuple(float(x) for x in m.field_range)
        self.min_distance_A = float(m.min_distance)
        self.core = None
        self._baseline_cache = None
        if self.info.get("pair_min_distance_A") is not None:
            from .core_repulsion import DEFAULT_COVALENT_FRACTION, DEFAULT_ONSET_FRACTION, CoreRepulsion

            self.core = CoreRepulsion(self.info["pair_min_distance_A"],
                                      stiffness_eV_per_A3=self.info.get("core_stiffness_eV_per_A3", 200.0),
                                      onset_fraction=self.info.get("core_onset_fraction", DEFAULT_ONSET_FRACTION),
                                      elements=self.elements,
                                      covalent_fraction=self.info.get("core_covalent_fraction",
                                                                      DEFAULT_COVALENT_FRACTION))
        self._graphs = GraphBuilder(self.elements, ensemble.cutoff_A, ensemble.angular_cutoff_A)

    def set(self, **kwargs):
        if "field_V_per_A" in kwargs:
            check_range("field_V_per_A", kwargs["field_V_per_A"])
        changed = super().set(**kwargs)
        if changed:
            self.reset()  # results depend on every parameter (field, checks)
        return changed

    def check_field(self, field_V_per_A: float) -> None:
        lo, hi = self.field_range_V_per_A
        tol = float(self.parameters.field_tolerance_V_per_A)
        if not lo - tol <= field_V_per_A <= hi + tol:
            raise OutOfDomainError(
                f"field_V_per_A = {field_V_per_A} is outside the trained range [{lo}, {hi}] V/Å "
                f"(± {tol} tolerance); the model would extrapolate"
            )

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        a = self.atoms
        field = float(self.parameters.field_V_per_A)
        self.check_field(field)
        if self.parameters.require_periodic_xy and not (a.pbc[0] and a.pbc[1]):
            raise OutOfDomainError(
                f"atoms.pbc = {a.pbc.tolist()}: the model was trained on slabs periodic in x and y; "
                "set atoms.pbc = [True, True, True] with a vacuum gap along z, or require_periodic_xy=False"
            )
        g = self._graphs(a, field_V_per_A=field)
        inside_wall = unseen_pair = False
        if self.core is not None:
            sv = g.shifts @ g.cell
            d = np.linalg.norm(g.positions[g.j] - g.positions[g.i] + sv, axis=1)
            ratio, k, unseen_pair = self.core.closest_ratio(g.species, g.i, g.j, d)
            inside_wall = ratio < 1.0
        if self.parameters.check_distances and g.min_distance_A < self.min_distance_A:
            raise OutOfDomainError(
                f"two atoms are {g.min_distance_A:.3f} Å apart, closer than the physical minimum "
                f"{self.min_distance_A:.3f} Å seen in training"
            )
        batch = collate([g], requires_grad=False)
        res = self.ensemble(batch)
        e_base, f_base = self._baseline(a, g)
        e = float(res["energy"][0]) + e_base
        forces = res["forces"].detach().numpy() + f_base
        e_core = 0.0
        if inside_wall:
            e_core, f_core = self.core.energy_forces(g.species, g.positions, g.i, g.j, g.shifts @ g.cell)
            e += e_core
            forces += f_core
        self.results["core_repulsion_energy"] = e_core
        self.results["baseline_energy"] = e_base
        self.results["out_of_domain"] = bool(inside_wall or unseen_pair)
        self.results["energy"] = e
        self.results["free_energy"] = e
        self.results["forces"] = forces
        self.results["charges"] = res["charges"].numpy().copy()
        self.results["dipole"] = np.array([0.0, 0.0, float(res["dipole_z"][0])])
        self.results["force_uncertainty"] = res["force_uncertainty"].numpy().copy()
        self.results["energy_uncertainty"] = float(res["energy_std"][0])
        # per-member energies [eV] (core repulsion included): the uncertainty of a difference such as
        # a barrier is the spread of the members' own differences, not that of the total energy
        self.results["energy_members"] = res["energy_members"][:, 0].detach().numpy().astype(float) + e_core + e_base
        self.results["polarizability_zz"] = float(res["polarizability_zz"][0])


    def _baseline(self, a, g):
        """The ensemble's baseline; reused while the sheet's atoms and the cell do not move (a
        frozen electrode in MD), since the Γ-point diagonalisation would add ~15 % per step."""
        if self.ensemble.baseline is None:
            return 0.0, np.zeros((len(a), 3))
        sheet = np.flatnonzero(g.sheet)  # graph.sheet_mask, as pi_electrons.sheet_carbons
        key = (self.ensemble.baseline, len(a), sheet.tobytes(), a.positions[sheet].tobytes(), a.cell.array.tobytes(),
               a.pbc.tobytes())
        if self._baseline_cache is None or self._baseline_cache[0] != key:
            self._baseline_cache = (key, self.ensemble.baseline_energy_forces(a, sheet=sheet))
        e, f = self._baseline_cache[1]
        return e, f.copy()


def load_potential(name: str | None = None, *, field_V_per_A: float = 0.0, precision: str = "float32",
                   **kwargs) -> MLPotential:
    """The shipped ML ensemble ``models/<name>/`` (default ``mlp_li_ec_graphene``) as an ASE calculator.

    ``precision="float32"`` (default, for MD speed) runs descriptor, networks and the force
    contraction in single precision with energies summed in double, and skips the radial
    Gaussians below a tenth of float32's resolution (``model.FLOAT32_RADIAL_TOLERANCE``);
    ``"float64"`` evaluates everything, for exact finite-difference checks.

    Weights are read with ``torch.load(weights_only=True)``; ``calc.reference`` names the
    reference method the ensemble was trained on (e.g. "GFN1-xTB").
    """
    from ..resources import model_path
    from .training import load_ensemble

    name = name or DEFAULT_MODEL
    if not isinstance(name, str) or "/" in name or name.startswith("."):
        raise InputError(f"name = {name!r} must be the folder name of a shipped model, e.g. {DEFAULT_MODEL!r}")
    ens, info = load_ensemble(model_path(name))
    meta = info.get("meta", {})
    return MLPotential(ens, reference=meta.get("reference", "GFN1-xTB"), name=name, info=meta,
                       field_V_per_A=field_V_per_A, precision=precision, **kwargs)


def ensemble_to_calculator(ensemble: PotentialEnsemble, **kwargs) -> MLPotential:
    """Wrap an in-memory ensemble (fresh from training) as a calculator."""
    return MLPotential(ensemble, **kwargs)

