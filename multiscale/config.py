"""TOML configuration with a schema: unknown keys and out-of-range values are rejected by name.

A schema is a nested ``dict``: section name → ``dict`` of key → :class:`Field` (or a nested
section). :func:`validate` fills defaults and returns plain dicts; every error names the
dotted key (``md.temperature_K``), the value and the allowed range.
"""
from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError, DataFileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


_MISSING = object()


@dataclass(frozen=True)
class Field:
    """One configuration value: its type, default, range or choices, and a description."""

    type: type | tuple[type, ...]
    default: Any = _MISSING
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    choices: tuple[Any, ...] | None = None
    help: str = ""
    item_type: type | None = None  # for list fields
    extra: dict = field(default_factory=dict)

    @property
    def required(self) -> bool:
        return self.default is _MISSING


def load_toml(path: str | Path) -> dict:
    """Read a TOML file; a missing file or bad syntax is a :class:`ConfigError`."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"config file {str(path)!r} does not exist")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


def validate(raw: Mapping[str, Any] | None, schema: Mapping[str, Any], *, prefix: str = "") -> dict:
    """Validate ``raw`` against ``schema``; return a new dict with defaults filled in."""
    raw = dict(raw or {})
    unknown = sorted(set(raw) - set(schema))
    if unknown:
        key = f"{prefix}{unknown[0]}"
        allowed = ", ".join(sorted(schema))
        raise ConfigError(f"unknown config key {key!r} (allowed here: {allowed})")
    out: dict[str, Any] = {}
    for name, spec in schema.items():
        key = f"{prefix}{name}"
        if isinstance(spec, Mapping):
            value = raw.get(name, {})
            if not isinstance(value, Mapping):
                raise ConfigError(f"config key {key!r} must be a table [{key}], got {type(value).__name__}")
            out[name] = validate(value, spec, prefix=f"{key}.")
            continue
        if name not in raw:
            if spec.required:
                raise ConfigError(f"config key {key!r} is required ({spec.help or spec.type})")
            out[name] = copy.deepcopy(spec.default)
            continue
        out[name] = _check_value(key, raw[name], spec)
    return out


def _check_value(key: str, value: Any, spec: Field) -> Any:
    types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"config key {key!r} = {value!r} must be {_type_names(types)}")
    if not isinstance(value, types):
        raise ConfigError(f"config key {key!r} = {value!r} must be {_type_names(types)}")
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"config key {key!r} = {value!r} must be one of {list(spec.choices)}")
    if isinstance(value, list) and spec.item_type is not None:
        return [_check_value(f"{key}[{i}]", v, Field(spec.item_type, low=spec.low, high=spec.high,
                                                      low_inclusive=spec.low_inclusive)) for i, v in enumerate(value)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config key {key!r} = {value!r} must be finite")
        too_low = spec.low is not None and (value < spec.low if spec.low_inclusive else value <= spec.low)
        too_high = spec.high is not None and value > spec.high
        if too_low or too_high:
            rng = []
            if spec.low is not None:
                rng.append(f"{'>=' if spec.low_inclusive else '>'} {spec.low:g}")
            if spec.high is not None:
                rng.append(f"<= {spec.high:g}")
            raise ConfigError(f"config key {key!r} = {value!r} is out of range: must be {' and '.join(rng)}")
    return value


def _type_names(types) -> str:
    return " or ".join(t.__name__ for t in types)


def load_config(path: str | Path | None, schema: Mapping[str, Any], *, default_text: str | None = None) -> dict:
    """Load and validate a TOML config; ``path=None`` uses ``default_text`` (or all defaults)."""
    if path is None:
        raw = tomllib.loads(default_text) if default_text else {}
    else:
        raw = load_toml(path)
    return validate(raw, schema)
