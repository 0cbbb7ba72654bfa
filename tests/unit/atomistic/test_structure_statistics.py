"""The first-peak statistics of the structure benchmark: smoothed peak, jackknife error, blocks."""
import numpy as np
import pytest
from ase import Atoms

from multiscale.atomistic.validation import (compare_first_shells, coordination_number, first_peak_jackknife,
                                             pair_distances, paired_jackknife,
                                             smoothed_first_peak, split_blocks, trajectories)
from multiscale.errors import InputError


def _mode_of_broadened(mu, sd, bandwidth):
    """Analytic maximum of N(r; μ, s) / r² with s² = sd² + bandwidth²: r² − μ r + 2 s² = 0."""
    s2 = sd ** 2 + bandwidth ** 2
    return 0.5 * (mu + np.sqrt(mu ** 2 - 8 * s2))


def test_smoothed_peak_matches_the_analytic_mode_of_a_gaussian_shell():
    rng = np.random.default_rng(0)
    d = rng.normal(2.0, 0.08, 40_000)
    peak = smoothed_first_peak([d], bandwidth_A=0.04)
    assert peak == pytest.approx(_mode_of_broadened(2.0, 0.08, 0.04), abs=0.006)
    # the 1/r² of g(r) moves the maximum inside the mean distance
    assert peak < 2.0


def test_smoothed_peak_is_steadier_than_the_histogram_maximum():
    """Small samples (a few hundred distances, as one Li⁺ with one carbonyl O gives): the
    broadened maximum scatters less between samples than the 0.025 Å-bin histogram's."""
    rng = np.random.default_rng(1)
    smooth, hist = [], []
    edges = np.arange(1.5, 3.0001, 0.025)
    for _ in range(40):
        d = rng.normal(1.9, 0.1, 300)
        smooth.append(smoothed_first_peak([d]))
        h = np.histogram(d, edges)[0] / (0.5 * (edges[1:] + edges[:-1])) ** 2
        hist.append(0.5 * (edges[np.argmax(h)] + edges[np.argmax(h) + 1]))
    assert np.std(smooth) < 0.7 * np.std(hist)


def test_jackknife_error_tracks_the_scatter_of_the_estimate():
    rng = np.random.default_rng(2)
    est, se = [], []
    for _ in range(30):
        blocks = [[rng.normal(1.9, 0.1, 100)] for _ in range(8)]
        j = first_peak_jackknife(blocks)
        est.append(j["peak_A"])
        se.append(j["se_A"])
    ratio = np.mean(se) / np.std(est)
    assert 0.5 < ratio < 2.0, ratio


def _li_o_trajectory(distances, task):
    frames = []
    for k, d in enumerate(distances):
        a = Atoms("LiO", positions=[[5, 5, 5], [5 + d, 5, 5]], cell=[10, 10, 10], pbc=True)
        a.info.update(task=task, step=k)
        frames.append(a)
    return frames


def test_compare_first_shells_recovers_a_known_shift_within_its_interval():
    rng = np.random.default_rng(3)
    ref = [_li_o_trajectory(rng.normal(1.80, 0.08, 200), f"ref{k}") for k in range(5)]
    ml = [_li_o_trajectory(rng.normal(1.90, 0.08, 200), f"ml{k}") for k in range(5)]
    c = compare_first_shells(ml, ref, [0], [1])
    assert c["blocks_ref"] == "trajectories" and c["n_blocks_ref"] == 5
    assert abs(c["peak_shift_A"] - 0.10) < max(c["peak_shift_ci95_A"], 0.01)
    assert 0 < c["peak_shift_ci95_A"] < 0.05
    same = compare_first_shells(ref, ref, [0], [1])
    assert same["peak_shift_A"] == 0.0


def test_coordination_numbers_and_their_interval():
    """CN(r_min) = fraction of frames with the partner inside r_min here (one partner): the ML
    trajectories keep it inside 2.0 Å in 90 % of frames, the reference in 50 %."""
    rng = np.random.default_rng(4)
    ref = [_li_o_trajectory(np.where(rng.random(200) < 0.5, 1.9, 2.3), f"r{k}") for k in range(6)]
    ml = [_li_o_trajectory(np.where(rng.random(200) < 0.9, 1.9, 2.3), f"m{k}") for k in range(6)]
    c = compare_first_shells(ml, ref, [0], [1], r_min_A=2.0)
    assert c["cn_ref"] == pytest.approx(0.5, abs=0.05) and c["cn_ml"] == pytest.approx(0.9, abs=0.03)
    # binomial standard error of a mean over 1,200 frames: √(0.25/1200) ≈ 0.014
    assert c["cn_ref_se"] == pytest.approx(np.sqrt(0.25 / 1200), rel=0.6)
    assert abs(c["cn_diff"] - 0.4) < c["cn_diff_ci95"] + 0.01
    assert coordination_number([np.array([1.5, 2.5]), np.array([])], 2.0) == 0.5
    with pytest.raises(InputError, match="centres"):
        compare_first_shells(ml, ref, [0, 1], [1], r_min_A=2.0)


def _paired_packings(rng, n_pairs, shift, shared=True):
    """Pairs of trajectories whose packing sets how often the O sits inside 2.0 Å (a fraction p_k
    anywhere in 0.1–0.9); the ML run of a pair has it ``shift`` more often. ``shared=False``
    draws the ML run's packing afresh (no pairing)."""
    ref, ml = [], []
    for k in range(n_pairs):
        p = rng.uniform(0.1, 0.9 - shift)
        q = p if shared else rng.uniform(0.1, 0.9 - shift)
        ref.append(_li_o_trajectory(np.where(rng.random(150) < p, 1.9, 2.3), f"r{k}"))
        ml.append(_li_o_trajectory(np.where(rng.random(150) < q + shift, 1.9, 2.3), f"m{k}"))
    return ml, ref


def test_paired_interval_removes_the_scatter_the_pairs_share():
    """Each packing has its own CN; ML and reference of one packing share it. The independent
    interval carries the packing scatter twice; the paired one cancels it and still holds the true
    difference. Without pairing, the two intervals agree."""
    rng = np.random.default_rng(5)
    ml, ref = _paired_packings(rng, 12, 0.1)
    c = compare_first_shells(ml, ref, [0], [1], r_min_A=2.0, paired=True)
    assert c["n_pairs"] == 12
    assert c["cn_diff_paired_ci95"] < 0.4 * c["cn_diff_ci95"]
    assert abs(c["cn_diff"] - 0.1) < c["cn_diff_paired_ci95"]
    assert c["cn_diff"] - c["cn_diff_paired_ci95"] > 0  # resolved from zero only by the pairing
    assert c["cn_diff"] - c["cn_diff_ci95"] < 0
    assert c["peak_shift_paired_ci95_A"] >= 0
    ml, ref = _paired_packings(rng, 12, 0.1, shared=False)
    c = compare_first_shells(ml, ref, [0], [1], r_min_A=2.0, paired=True)
    assert 0.5 < c["cn_diff_paired_ci95"] / c["cn_diff_ci95"] < 1.5
    assert "cn_diff_paired_ci95" not in compare_first_shells(ml, ref, [0], [1], r_min_A=2.0)


def test_paired_jackknife_of_identical_sides_is_zero_and_bad_pairs_are_named():
    blocks = [[np.array([1.9, 2.1])], [np.array([1.8])], [np.array([2.2, 2.4])]]
    j = paired_jackknife(blocks, blocks, lambda d: coordination_number(d, 2.0))
    assert j == dict(value=0.0, se=0.0, n_pairs=3)
    with pytest.raises(InputError, match="blocks_a, blocks_b"):
        paired_jackknife(blocks, blocks[:2], len)
    with pytest.raises(InputError, match="pairs"):
        paired_jackknife(blocks[:1], blocks[:1], len)
    ml, ref = _paired_packings(np.random.default_rng(6), 4, 0.1)
    with pytest.raises(InputError, match="paired"):
        compare_first_shells(ml[:3], ref, [0], [1], r_min_A=2.0, paired=True)
    with pytest.raises(InputError, match="without frames"):
        compare_first_shells([ml[0], [], *ml[2:]], ref, [0], [1], r_min_A=2.0, paired=True)


def test_split_blocks_one_trajectory_into_contiguous_stretches():
    traj = _li_o_trajectory(np.full(10, 1.9), "t")
    blocks, how = split_blocks([traj], 4)
    assert how == "contiguous time blocks" and len(blocks) == 4
    assert [a.info["step"] for b in blocks for a in b] == list(range(10))
    blocks, how = split_blocks([traj[:5], traj[5:]], 2)
    assert how == "trajectories" and len(blocks) == 2


def test_trajectories_group_by_task_in_order():
    a, b = _li_o_trajectory([1.8, 1.9], "a"), _li_o_trajectory([2.0], "b")
    groups = trajectories([a[0], b[0], a[1]])
    assert [len(g) for g in groups] == [2, 1] and groups[0][1] is a[1]


def test_pair_distances_use_periodic_images():
    a = Atoms("LiO", positions=[[0.5, 5, 5], [9.5, 5, 5]], cell=[10, 10, 10], pbc=True)
    (d,) = pair_distances([a], [0], [1])
    assert d == pytest.approx([1.0])


def test_bad_input_is_named():
    with pytest.raises(InputError, match="window_A"):
        smoothed_first_peak([np.array([4.0])])
    with pytest.raises(InputError, match="bandwidth_A"):
        smoothed_first_peak([np.array([2.0])], bandwidth_A=0.0)
    with pytest.raises(InputError, match="blocks"):
        first_peak_jackknife([[np.array([2.0])]])
