"""Schema of the ``multiscale run`` configuration (TOML)."""
from __future__ import annotations

from importlib import resources

from ..config import Field, load_config

SCHEMA = {
    "run": {
        "fast": Field(bool, False, help="short preset for tests"),
        "seed": Field(int, 0, low=0, help="seed of every stochastic stage"),
    },
    "electrolyte": {
        "concentration_mol_m3": Field(float, 1000.0, low=0.0, low_inclusive=False, high=1e4),
        "temperature_K": Field(float, 298.15, low=200.0, high=400.0),
        "relative_permittivity": Field(float, 30.0, low=1.0, high=200.0),
    },
    "cell": {
        "parameter_set": Field(str, "Chen2020", choices=("Chen2020",)),
        "initial_soc": Field(float, 1.0, low=0.0, high=1.0),
    },
}


def default_config_text() -> str:
    return resources.files("multiscale.pipeline").joinpath("default.toml").read_text(encoding="utf-8")


def load_run_config(path=None) -> dict:
    """The validated run configuration: the embedded default, or ``path`` (missing keys take
    the schema defaults, which equal the embedded default)."""
    return load_config(path, SCHEMA, default_text=default_config_text())
