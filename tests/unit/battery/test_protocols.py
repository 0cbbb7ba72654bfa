"""Protocols: shapes, charge bookkeeping, C-rate limits, determinism, validation."""
import numpy as np
import pytest

from multiscale.battery.protocols import (
    FAMILIES, cc, cccv_charge, drive_cycle, hppc, make_profile, piecewise_constant, random_piecewise_constant,
    validate_profile,
)
from multiscale.errors import InputError

Q = 5.0


def test_cc_charge_throughput():
    p = cc(2.0, 1800.0, Q)
    assert np.allclose(p.current_A, 10.0)
    assert np.trapezoid(p.current_A, p.time_s) / 3600.0 == pytest.approx(5.0)  # 2C for ½ h = Q
    assert cc(-0.5, 600.0, Q).family == "cc_charge"


def test_piecewise_constant_steps_are_one_second_ramps():
    p = piecewise_constant([100.0, 50.0], [1.0, -1.0], Q, dt_s=10.0)
    k = np.flatnonzero(np.diff(p.current_A) != 0)[0]
    assert p.time_s[k] == 100.0 and p.time_s[k + 1] == 101.0
    assert p.time_s[-1] == 150.0
    # charge of the piecewise-linear signal: 100 s + 49 s at ±Q, a symmetric 1 s ramp in between
    assert np.trapezoid(p.current_A, p.time_s) == pytest.approx(5.0 * (100 - 49))


def test_families_deterministic_and_within_limits():
    for fam in FAMILIES:
        a = make_profile(fam, 7, Q, initial_soc=0.6)
        b = make_profile(fam, 7, Q, initial_soc=0.6)
        assert np.array_equal(a.current_A, b.current_A) and a.family == fam
        assert np.max(np.abs(a.current_A)) / Q <= 3.0 + 1e-9
        assert 0 < a.duration_s <= 7200.0 + 1e-9
    assert random_piecewise_constant(1, 3600, Q).rms_c_rate(Q) <= 2.0 + 1e-2


def test_cccv_tapers_to_cutoff_and_hppc_has_both_signs():
    p = cccv_charge(1.0, 600.0, 300.0, Q)
    assert np.all(p.current_A <= 0) and abs(p.current_A[-1]) / Q == pytest.approx(0.05, rel=0.1)
    h = hppc(2.0, 2, Q)
    assert h.current_A.max() == pytest.approx(10.0) and h.current_A.min() == pytest.approx(-7.5)
    d = drive_cycle(3, 1800, Q, peak_c_rate=2.5)
    assert d.current_A.max() == pytest.approx(12.5) and d.current_A.min() >= -Q - 1e-9


def test_validation_errors():
    with pytest.raises(InputError, match="non-finite"):
        validate_profile([0, 1, 2], [0, np.nan, 1])
    with pytest.raises(InputError, match="strictly increasing"):
        validate_profile([0, 2, 2], [0, 1, 1])
    with pytest.raises(InputError, match="same length"):
        validate_profile([0, 1], [1.0])
    with pytest.raises(InputError, match="family"):
        make_profile("bogus", 0, Q)
