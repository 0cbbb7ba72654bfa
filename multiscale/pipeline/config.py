"""Schema of the ``multiscale run`` configuration (TOML); defaults equal the embedded default.toml."""
from __future__ import annotations

from importlib import resources

from ..config import Field, load_config

SCHEMA = {
    "run": {
        "fast": Field(bool, False, help="short preset for tests"),
        "seed": Field(int, 0, low=0, help="seed of every stochastic stage"),
    },
    "md": {
        "temperature_K": Field(float, 300.0, low=50.0, high=1000.0),
        "fields_V_per_A": Field(list, [-0.1, 0.0, 0.1], item_type=float, low=-0.5, high=0.5),
        "live_steps": Field(int, 400, low=0, high=10_000_000),
        "timestep_fs": Field(float, 0.5, low=0.05, high=5.0),
        "potential": Field(str, "mlp_li_ec_graphene", choices=("mlp_li_ec_graphene", "mlp_li_ec_graphene_pi",
                                                                "mlp_li_ec_graphene_fine", "mlp_li_ec_graphene_painn"),
                           help="shipped ML potential of the MD and reactions stages: the fast symmetry-function "
                                "ensemble (default; shipped trajectories are keyed to it), the same network on a "
                                "graphene π-band baseline (half its held-out force error, live MD only), that on a "
                                "finer symmetry-function grid (models/mlp_li_ec_graphene_fine/card.md), or the "
                                "~3x more accurate, ~14x slower message-passing one"),
    },
    "electrolyte": {
        "concentration_mol_m3": Field(float, 1000.0, low=0.0, low_inclusive=False, high=1e4),
        "temperature_K": Field(float, 298.15, low=200.0, high=400.0),
        "relative_permittivity": Field(float, 30.0, low=1.0, high=200.0),
        "diffusivity": Field(str, "ml-md", choices=("ml-md", "base"),
                             help="'ml-md': D_e(c, T) from the shipped bulk ML-MD goes into the cell (when shipped for "
                                  "the default potential); 'base': the base set's (the ML-MD values are reported)"),
    },
    "interface": {
        "stern_capacitance_F_m2": Field(float, 0.2, low=0.0, low_inclusive=False, high=10.0),
        "stern_capacitance_rel_std": Field(float, 0.15, low=0.0, high=1.0),
        "packing_fraction": Field(float, 0.1, low=0.0, high=0.99),
        "potential_window_V": Field(float, 0.5, low=0.01, high=1.0),
    },
    "cell": {
        "parameter_set": Field(str, "Chen2020", choices=("Chen2020",)),
        "initial_soc": Field(float, 0.9, low=0.0, high=1.0),
        "profile_duration_s": Field(float, 1800.0, low=10.0, high=86400.0),
        "negative_ocp": Field(str, "base", choices=("base", "hull"),
                              help="'hull': the cell uses the Li-graphite hull OCP; 'base': the base set's (reported)"),
    },
}


def default_config_text() -> str:
    return resources.files("multiscale.pipeline").joinpath("default.toml").read_text(encoding="utf-8")


def load_run_config(path=None, *, fast: bool | None = None) -> dict:
    """The validated run configuration: the embedded default, or ``path`` (missing keys take the
    schema defaults, which equal the embedded default). ``fast`` overrides ``run.fast``."""
    config = load_config(path, SCHEMA, default_text=default_config_text())
    if fast is not None:
        config["run"]["fast"] = bool(fast)
    return config
