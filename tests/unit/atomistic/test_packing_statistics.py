"""Held-out errors with packings as the samples: RMSEs, per-packing offsets, bootstrap intervals."""
import numpy as np
import pytest

from multiscale.atomistic import load_potential
from multiscale.atomistic.labelling import load_dataset
from multiscale.atomistic.validation import errors_by_field, errors_by_packing, packing_statistics
from multiscale.errors import InputError
from multiscale.resources import data_path


def _frames(offsets, per_packing=5, noise=0.0, seed=1):
    rng = np.random.default_rng(seed)
    de, labels = [], []
    for k, off in enumerate(offsets):
        de += list(off + noise * rng.standard_normal(per_packing))
        labels += [f"p{k}"] * per_packing
    n = len(de)
    return np.array(de), np.full(n, 4.0), np.full(n, 4), labels  # ΔF² sum 4 over 4 components: RMSE 1


def test_a_constant_offset_per_packing_is_all_of_the_energy_error():
    de, fs, fn, labels = _frames([3.0, -3.0, 1.0, -1.0])
    s = packing_statistics(de, fs, fn, labels)
    assert s["n_packings"] == 4 and s["n_frames"] == 20
    assert s["energy_rmse"] == pytest.approx(np.sqrt(5.0))
    assert s["offset_rms"] == pytest.approx(s["energy_rmse"])
    assert s["force_rmse"] == pytest.approx(1.0)
    # every packing has the same force error: resampling packings cannot move it
    assert s["force_rmse_interval"] == pytest.approx([1.0, 1.0])


def test_frame_noise_without_offsets_leaves_no_offset():
    de, fs, fn, labels = _frames([0.0] * 30, per_packing=200, noise=2.0)
    s = packing_statistics(de, fs, fn, labels)
    assert s["energy_rmse"] == pytest.approx(2.0, rel=0.05)
    assert s["offset_rms"] < 0.3  # ~2/sqrt(200) per packing


def test_interval_brackets_the_point_and_narrows_with_more_packings():
    rng = np.random.default_rng(3)
    few = packing_statistics(*_frames(rng.normal(0, 2, 4)))
    many = packing_statistics(*_frames(rng.normal(0, 2, 64)))
    for s in (few, many):
        lo, hi = s["energy_rmse_interval"]
        assert lo <= s["energy_rmse"] <= hi
    width = lambda s: np.diff(s["energy_rmse_interval"])[0] / s["energy_rmse"]  # noqa: E731
    assert width(many) < 0.5 * width(few)


def test_the_interval_is_reproducible_by_seed():
    args = _frames([1.0, -2.0, 0.5])
    assert packing_statistics(*args, seed=7) == packing_statistics(*args, seed=7)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_bootstrap=10), "n_bootstrap"),
    (dict(force_n_components=[0, 4]), "force_n_components"),
    (dict(packings=["a"]), "one length"),
])
def test_bad_input_is_named(kwargs, match):
    args = dict(energy_error_per_atom=[1.0, 2.0], force_sq_error_sum=[1.0, 1.0], force_n_components=[4, 4],
                packings=["a", "b"])
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        packing_statistics(**args)


def test_on_the_shipped_heldout_set_it_agrees_with_errors_by_field():
    ens = load_potential().ensemble
    frames = load_dataset(data_path("xtb_li_ec_graphene", "labels.db"), split="heldout")[::40]
    by_pack = errors_by_packing(ens, frames, n_bootstrap=200)
    (by_field,) = errors_by_field(ens, frames).values()
    assert by_pack["n_packings"] == 4
    assert by_pack["energy_meV_per_atom"] == pytest.approx(by_field["energy_meV_per_atom"], rel=1e-9)
    assert by_pack["force_meV_per_A"] == pytest.approx(by_field["force_meV_per_A"], rel=1e-9)
    assert by_pack["offset_rms_meV_per_atom"] <= by_pack["energy_meV_per_atom"] + 1e-12
