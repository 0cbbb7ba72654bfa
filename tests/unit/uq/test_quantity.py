"""The Estimate value object used in summaries."""
import json

import numpy as np
import pytest

from multiscale.errors import InputError
from multiscale.uq import Estimate, Quantity


def test_estimate_interval_and_serialisation():
    e = Estimate(0.48, "1", 0.03, provenance="fit_transfer_coefficient")
    assert e.interval == pytest.approx((0.48 - 1.959964 * 0.03, 0.48 + 1.959964 * 0.03), rel=1e-6)
    assert e.contains(0.5) and not e.contains(0.6)
    d = json.loads(json.dumps(e.to_dict()))
    assert Estimate.from_dict(d) == e
    assert "95 % CI" in str(e) and "±" in str(e)
    t = Estimate(1.0, "V", 0.1, dof=3)
    assert t.interval[1] - 1.0 == pytest.approx(3.182446 * 0.1, rel=1e-6)
    assert Quantity is Estimate


def test_estimate_constructors(rng):
    e = Estimate.from_delta_method(lambda t: t[0] * t[1], [2.0, 3.0], np.diag([0.01, 0.04]), unit="F.m-2")
    assert e.value == pytest.approx(6.0) and e.std == pytest.approx(np.sqrt(9 * 0.01 + 4 * 0.04))
    s = Estimate.from_samples(rng.normal(1.0, 0.1, 20_000), unit="eV")
    assert s.interval == pytest.approx((1.0 - 0.196, 1.0 + 0.196), abs=0.01)
    assert s.meta["n_samples"] == 20_000


def test_estimate_bad_input():
    with pytest.raises(InputError, match="std"):
        Estimate(1.0, "V", -0.1)
    with pytest.raises(InputError, match="value"):
        Estimate(float("nan"), "V", 0.1)
    with pytest.raises(InputError, match="low > high"):
        Estimate(1.0, "V", 0.1, interval=(2.0, 1.0))
    with pytest.raises(InputError, match="level"):
        Estimate(1.0, "V", 0.1, level=95)
    with pytest.raises(InputError, match="missing key"):
        Estimate.from_dict({"value": 1.0})
