"""Chemical formulas → compositions (element → amount), with validation.

A formula is parsed by a small recursive-descent parser: element symbols (``Li``, ``Co``),
optional amounts (integers or decimals, ``Li0.5CoO2``) and parenthesised groups with a
multiplier (``Ca3(PO4)2``). Element symbols are checked against the periodic table of
:data:`ase.data.chemical_symbols`; an unknown symbol raises :class:`InputError` naming the
formula and the symbol.

The *reduced formula* divides the amounts by their greatest common divisor (integer amounts)
and keeps the element order in which the formula was written: ``Li2Co2O4`` → ``LiCoO2``.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache
from typing import Mapping

from ..errors import InputError

#: Amounts below this are treated as zero (atoms per formula unit).
AMOUNT_TOL = 1e-10

_TOKEN = re.compile(r"([A-Z][a-z]?)|(\()|(\))|(\d+(?:\.\d*)?|\.\d+)|(\s+)")


@lru_cache(maxsize=1)
def _element_symbols() -> frozenset[str]:
    from ase.data import chemical_symbols

    return frozenset(s for s in chemical_symbols if s and s != "X")


def is_element(symbol: str) -> bool:
    """True if ``symbol`` is a chemical element (H … Og)."""
    return symbol in _element_symbols()


def parse_formula(formula: str) -> dict[str, float]:
    """Return ``{element: amount}`` of ``formula`` in the order the elements first appear.

    Raises :class:`InputError` on an empty formula, an unknown element, unbalanced
    parentheses, a negative or non-finite amount. Results are cached per formula string.
    """
    if not isinstance(formula, str) or not formula.strip():
        raise InputError(f"formula = {formula!r} must be a non-empty string such as 'LiCoO2'")
    return dict(_parse_formula_cached(formula))


_SIMPLE = re.compile(r"(?:[A-Z][a-z]?(?:\d+(?:\.\d*)?|\.\d+)?)+")
_SIMPLE_PART = re.compile(r"([A-Z][a-z]?)(\d+(?:\.\d*)?|\.\d+)?")


@lru_cache(maxsize=65536)
def _parse_formula_cached(formula: str) -> tuple[tuple[str, float], ...]:
    compact = "".join(formula.split())
    if _SIMPLE.fullmatch(compact):          # fast path: no parentheses (most formulas)
        comp: dict[str, float] = {}
        for symbol, amount in _SIMPLE_PART.findall(compact):
            if not is_element(symbol):
                raise InputError(f"formula {formula!r}: {symbol!r} is not a chemical element")
            comp[symbol] = comp.get(symbol, 0.0) + (float(amount) if amount else 1.0)
        comp = {el: n for el, n in comp.items() if n > AMOUNT_TOL}
        if not comp:
            raise InputError(f"formula {formula!r} has no atoms")
        return tuple(comp.items())
    return _parse_general(formula)


def _parse_general(formula: str) -> tuple[tuple[str, float], ...]:
    tokens = []
    pos = 0
    text = formula.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise InputError(f"formula {formula!r}: cannot parse {text[pos:]!r} (expected an element symbol, "
                             "a number or parentheses)")
        pos = m.end()
        if m.group(5):
            continue
        tokens.append(m)
    stack: list[dict[str, float]] = [{}]
    i = 0
    while i < len(tokens):
        m = tokens[i]
        if m.group(1):
            symbol = m.group(1)
            if not is_element(symbol):
                raise InputError(f"formula {formula!r}: {symbol!r} is not a chemical element")
            amount, i = _amount(tokens, i + 1)
            stack[-1][symbol] = stack[-1].get(symbol, 0.0) + amount
        elif m.group(2):
            stack.append({})
            i += 1
        elif m.group(3):
            if len(stack) == 1:
                raise InputError(f"formula {formula!r}: unbalanced ')'")
            group = stack.pop()
            amount, i = _amount(tokens, i + 1)
            for el, n in group.items():
                stack[-1][el] = stack[-1].get(el, 0.0) + n * amount
        else:
            raise InputError(f"formula {formula!r}: a number {m.group(4)!r} must follow an element or ')'")
    if len(stack) != 1:
        raise InputError(f"formula {formula!r}: unbalanced '('")
    comp = {el: n for el, n in stack[0].items() if n > AMOUNT_TOL}
    if not comp:
        raise InputError(f"formula {formula!r} has no atoms")
    return tuple(comp.items())


def _amount(tokens, i):
    if i < len(tokens) and tokens[i].group(4):
        value = float(tokens[i].group(4))
        return value, i + 1
    return 1.0, i


def validate_composition(composition: Mapping[str, float], *, name: str = "composition") -> dict[str, float]:
    """Check a ``{element: amount}`` mapping: known elements, finite amounts ≥ 0, at least one atom."""
    if not isinstance(composition, Mapping) or not composition:
        raise InputError(f"{name} = {composition!r} must be a non-empty mapping element -> amount")
    out: dict[str, float] = {}
    for el, n in composition.items():
        if not isinstance(el, str) or not is_element(el):
            raise InputError(f"{name}: {el!r} is not a chemical element")
        try:
            x = float(n)
        except (TypeError, ValueError):
            raise InputError(f"{name}: amount of {el} = {n!r} is not a number") from None
        if not math.isfinite(x) or x < 0:
            raise InputError(f"{name}: amount of {el} = {n!r} must be finite and >= 0")
        if x > AMOUNT_TOL:
            out[el] = out.get(el, 0.0) + x
    if not out:
        raise InputError(f"{name} = {composition!r} has no atoms")
    return out


def reduced_amounts(composition: Mapping[str, float]) -> tuple[dict[str, float], float]:
    """Return ``(reduced composition, factor)`` with ``composition = factor × reduced``.

    Integer amounts are divided by their greatest common divisor; non-integer amounts are
    reduced as exact rationals (``Li0.5Co0.5O`` → ``LiCoO2``, factor 0.5) when the
    denominators are small (≤ 1000), otherwise left as they are (factor 1).
    """
    fracs = []
    for n in composition.values():
        f = Fraction(n).limit_denominator(1000)
        if abs(float(f) - n) > 1e-8 * max(1.0, n):
            return dict(composition), 1.0
        fracs.append(f)
    lcm_den = 1
    for f in fracs:
        lcm_den = lcm_den * f.denominator // math.gcd(lcm_den, f.denominator)
    ints = [int(f * lcm_den) for f in fracs]
    g = 0
    for k in ints:
        g = math.gcd(g, k)
    reduced = {el: k // g for el, k in zip(composition, ints)}
    factor = Fraction(g, lcm_den)
    return {el: float(k) for el, k in reduced.items()}, float(factor)


#: elements whose standard state is a diatomic molecule: the reduced formula of the element is X2
DIATOMIC = frozenset({"H", "N", "O", "F", "Cl", "Br", "I"})


def reduced_formula_string(composition: Mapping[str, float]) -> str:
    """Reduced formula; an elemental diatomic gas is written ``O2`` (as pymatgen does)."""
    if len(composition) == 1 and next(iter(composition)) in DIATOMIC:
        return f"{next(iter(composition))}2"
    return formula_string(reduced_amounts(composition)[0])


def formula_string(composition: Mapping[str, float]) -> str:
    """``{'Li': 1, 'Co': 1, 'O': 2}`` → ``'LiCoO2'`` (amounts of 1 omitted, others ``%g``)."""
    parts = []
    for el, n in composition.items():
        if abs(n - 1.0) < 1e-12:
            parts.append(el)
        elif abs(n - round(n)) < 1e-9:
            parts.append(f"{el}{int(round(n))}")
        else:
            parts.append(f"{el}{n:.6g}")
    return "".join(parts)


def reduced_formula(formula_or_composition: str | Mapping[str, float]) -> str:
    """Reduced formula of a formula string or composition mapping (``Li2Co2O4`` → ``LiCoO2``)."""
    comp = (parse_formula(formula_or_composition) if isinstance(formula_or_composition, str)
            else validate_composition(formula_or_composition))
    return reduced_formula_string(comp)


def composition_key(composition: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    """A hashable key of the *atomic fractions*, equal for ``LiCoO2`` and ``Li2Co2O4``.

    Fractions are rounded to 12 digits so that float noise does not split compositions.
    """
    total = sum(composition.values())
    return tuple(sorted([(el, round(n / total, 12)) for el, n in composition.items()]))
