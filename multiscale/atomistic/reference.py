"""Reference quantum chemistry: GFN1-/GFN2-xTB through ``tblite`` with a working electric field.

The applied field is uniform, along +z by default, in V/Å. In the xTB Hamiltonian it adds
the term ``−F · Σ_i q_i r_i`` (Hellmann–Feynman: ∂E/∂F = −μ), so that for small fields the
energy follows the Stark form E(F) = E(0) − μF − ½αF² with μ in e·Å.

tblite 0.8's ASE calculator breaks when ``electric_field`` is set: its cffi binding of
``tblite_new_electric_field`` needs a ``double[3]`` pointer and receives a numpy array.
:class:`FieldTBLite` fixes this *inside this module* (no edit of site-packages): it builds the
API calculator without the field and then adds the field interaction through a per-instance
interaction table whose entry passes ``ffi.new("double[3]", ...)``.

Reference: Bannwarth et al., WIREs Comput. Mol. Sci. 11, e1493 (2021) (GFN-xTB);
tblite, https://github.com/tblite/tblite.
"""
from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator as _AseCalculator
from ase.calculators.calculator import all_changes
from ase.units import Bohr, Hartree

from ..errors import InputError, check_range

#: reference methods this module can build
METHODS = ("GFN1-xTB", "GFN2-xTB")

#: largest |field| accepted by :func:`reference_calculator` [V/Å]; beyond ~0.5 V/Å xTB SCF
#: convergence and the physical meaning (field emission) are doubtful.
MAX_FIELD_V_PER_A = 0.5


def _new_electric_field_fixed(ctx, mol, calc, efield):
    """Create a tblite electric-field container; ``efield`` in atomic units (Hartree/(e·Bohr))."""
    from tblite import library

    vec = np.asarray(efield, dtype=float).ravel()
    if vec.shape != (3,):
        raise InputError(f"electric field = {efield!r} must be a 3-vector")
    ptr = library.ffi.new("double[3]", [float(v) for v in vec])
    return library.lib.tblite_new_electric_field(ptr)


def _make_field_class():
    from tblite import ase as tb_ase
    from tblite.ase import TBLite

    class _FieldTBLite(TBLite):
        """tblite ASE calculator whose ``electric_field`` (V/Å, 3-vector) works.

        Everything else behaves exactly as :class:`tblite.ase.TBLite`.
        """

        def calculate(self, atoms=None, properties=None, system_changes=all_changes):
            field = self.parameters.get("electric_field")
            if field is None:
                return super().calculate(atoms, properties, system_changes)
            _AseCalculator.calculate(self, atoms, properties or ["energy"], system_changes)
            self._check_api_calculator(system_changes)
            if self._xtb is None:
                from ase.calculators.calculator import Parameters

                params = Parameters(self.parameters.copy())
                params["electric_field"] = None
                xtb = tb_ase._create_api_calculator(self.atoms, params)
                # per-instance table: the class-level one binds the broken library function
                xtb._interaction = dict(xtb._interaction)
                xtb._interaction["electric-field"] = _new_electric_field_fixed
                xtb.add("electric-field", np.asarray(field, dtype=float) * Bohr / Hartree)
                self._xtb = xtb
            return super().calculate(atoms, properties, [])

    _FieldTBLite.__name__ = "FieldTBLite"
    _FieldTBLite.__qualname__ = "FieldTBLite"
    return _FieldTBLite


_FIELD_CLASS = None


def field_tblite_class():
    """The :class:`tblite.ase.TBLite` subclass with the electric-field fix (built lazily, so that
    importing this module does not load the tblite shared library)."""
    global _FIELD_CLASS
    if _FIELD_CLASS is None:
        _FIELD_CLASS = _make_field_class()
    return _FIELD_CLASS


def reference_calculator(
    name: str = "GFN1-xTB",
    *,
    field_V_per_A: float = 0.0,
    charge: float | None = None,
    electronic_temperature_K: float = 1000.0,
    accuracy: float = 1.0,
    max_iterations: int = 500,
):
    """The xTB reference as an ASE calculator, with a uniform field ``field_V_per_A`` along +z.

    Parameters
    ----------
    name
        ``"GFN1-xTB"`` or ``"GFN2-xTB"``.
    field_V_per_A
        Field strength along +z [V/Å]; the energy gains ``−F μ_z`` (Stark form
        E(F) = E(0) − μF − ½αF²), so a positive field lowers the energy of a dipole along +z.
        |F| ≤ 0.5 V/Å.
    charge
        Total charge [e]; ``None`` takes the sum of the atoms' initial charges.
    electronic_temperature_K
        Fermi smearing of the SCF. The default 1000 K (instead of xTB's 300 K) makes the SCF of
        the metallic graphene electrode converge reliably; all shipped labels use it.

    Returns an ASE calculator with ``energy`` [eV], ``forces`` [eV/Å], ``charges`` (Mulliken) [e]
    and ``dipole`` [e·Å].
    """
    if name not in METHODS:
        raise InputError(f"name = {name!r} is not a reference method; choose one of {list(METHODS)}")
    f = check_range("field_V_per_A", field_V_per_A, low=-MAX_FIELD_V_PER_A, high=MAX_FIELD_V_PER_A)
    check_range("electronic_temperature_K", electronic_temperature_K, low=0.0)
    cls = field_tblite_class()
    kwargs = dict(
        method=name,
        electronic_temperature=float(electronic_temperature_K),
        accuracy=float(accuracy),
        max_iterations=int(max_iterations),
        verbosity=0,
    )
    if charge is not None:
        kwargs["charge"] = float(charge)
    if f != 0.0:
        kwargs["electric_field"] = np.array([0.0, 0.0, f])
    return cls(**kwargs)
