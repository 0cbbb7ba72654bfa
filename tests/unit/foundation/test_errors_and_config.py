import math

import pytest

from multiscale.config import Field, load_config, validate
from multiscale.errors import ConfigError, DataFileError, InputError, check_finite_array, check_range
from multiscale.pipeline.config import load_run_config

SCHEMA = {
    "md": {"temperature_K": Field(float, 300.0, low=0.0, low_inclusive=False), "steps": Field(int, 10, low=1)},
    "name": Field(str, "x", choices=("x", "y")),
}


def test_check_range_names_argument_and_range():
    with pytest.raises(InputError, match=r"temperature_K = -5.0 is out of range: must be > 0"):
        check_range("temperature_K", -5.0, low=0.0, low_inclusive=False)
    with pytest.raises(InputError, match="not finite"):
        check_range("x", math.nan)
    assert check_range("x", 3, low=0, high=5) == 3.0


def test_check_finite_array_reports_first_bad_index():
    with pytest.raises(InputError, match="index 1"):
        check_finite_array("current_A", [1.0, float("inf"), 2.0])


def test_validate_fills_defaults():
    out = validate({"md": {"steps": 5}}, SCHEMA)
    assert out == {"md": {"temperature_K": 300.0, "steps": 5}, "name": "x"}


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"md": {"temprature_K": 1.0}}, "unknown config key 'md.temprature_K'"),
        ({"md": {"temperature_K": -1.0}}, "'md.temperature_K' = -1.0 is out of range"),
        ({"md": {"steps": "ten"}}, "'md.steps' = 'ten' must be int"),
        ({"name": "z"}, "must be one of"),
        ({"md": 3}, "must be a table"),
    ],
)
def test_validate_rejects_with_key_name(raw, message):
    with pytest.raises(ConfigError, match=message):
        validate(raw, SCHEMA)


def test_load_config_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        load_config(tmp_path / "nope.toml", SCHEMA)


def test_load_config_bad_toml(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[md\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p, SCHEMA)


def test_embedded_run_default_is_valid():
    cfg = load_run_config(None)
    assert cfg["cell"]["parameter_set"] == "Chen2020"
    assert cfg["electrolyte"]["temperature_K"] == 298.15
