"""Residual corrector: exact variable-dt memory, step == sequence, persistence, checks."""
import numpy as np
import pytest

from multiscale.battery.corrector import ResidualCorrector
from multiscale.errors import InputError, NotFittedError


@pytest.fixture
def corr():
    return ResidualCorrector(n_members=3, hidden=(8, 8)).init_weights(seed=3)


def test_step_numpy_equals_sequence_with_variable_dt(corr, rng):
    f = rng.normal(size=(40, corr.n_features))
    t = np.cumsum(rng.uniform(0.5, 30.0, 40))
    dv_seq, sp_seq = corr.predict_sequence(f, t)
    mem = corr.init_memory(1)
    dts = np.diff(t, prepend=t[0])
    for k in range(40):
        dv, sp, mem = corr.step_numpy(f[k:k + 1], dts[k], mem)
        assert dv[0] == pytest.approx(dv_seq[k], abs=1e-14)
        assert sp[0] == pytest.approx(sp_seq[k], abs=1e-14)


def test_many_cells_vectorised_with_per_cell_dt(corr, rng):
    f = rng.normal(size=(5, corr.n_features))
    mem = rng.normal(size=(5, corr.n_memory))
    dt = np.array([0.0, 1.0, 10.0, 100.0, 1e4])
    dv, sp, new = corr.step_numpy(f, dt, mem)
    for j in range(5):
        d1, s1, m1 = corr.step_numpy(f[j:j + 1], dt[j], mem[j:j + 1])
        assert d1[0] == pytest.approx(dv[j]) and np.allclose(m1[0], new[j])
    assert np.allclose(new[0], mem[0])  # dt = 0 leaves the memory unchanged
    assert np.all(sp >= 0)


def test_filter_is_exact_for_any_step_split(corr):
    # τ dm/dt = u − m with u constant: one step of 100 s == ten steps of 10 s == 1 − exp(−t/τ).
    f = np.zeros((1, corr.n_features))
    f[0, 0] = 2.0
    one = corr.update_memory(f, 100.0, corr.init_memory(1))
    many = corr.init_memory(1)
    for _ in range(10):
        many = corr.update_memory(f, 10.0, many)
    assert np.allclose(one, many, rtol=1e-12)
    tau = np.asarray(corr.time_constants_s)
    assert np.allclose(one[0, :tau.size], 2.0 * (1 - np.exp(-100.0 / tau)))


def test_save_load_round_trip(corr, tmp_path, rng):
    corr.save(tmp_path)
    back = ResidualCorrector.load(tmp_path)
    f = rng.normal(size=(6, corr.n_features))
    m = rng.normal(size=(6, corr.n_memory))
    assert np.allclose(corr.predict(f, m)[0], back.predict(f, m)[0])


def test_errors():
    with pytest.raises(NotFittedError):
        ResidualCorrector().predict(np.zeros((1, 14)), np.zeros((1, 12)))
    c = ResidualCorrector(n_members=2).init_weights()
    with pytest.raises(InputError, match="features"):
        c.step_numpy(np.zeros((2, 3)), 1.0, c.init_memory(2))
    with pytest.raises(InputError, match="dt_s"):
        c.step_numpy(np.zeros((1, 14)), -1.0, c.init_memory(1))
    with pytest.raises(InputError, match="time_constants_s"):
        ResidualCorrector(time_constants_s=(0.0, 1.0))


def _synthetic_cases(rng, n_cases=6, n=80):
    """Cases whose residual is a known function of the SPMe states: ΔV = 8 mV·tanh(c) + 2 mV·x_s,n."""
    cases = []
    for k in range(n_cases):
        t = np.arange(n) * 10.0
        cur = rng.uniform(-5, 15) * np.ones(n)
        states = np.column_stack([cur, 3.7 + 0.01 * rng.normal(size=n)] + [rng.uniform(0.2, 0.8, n) for _ in range(4)]
                                 + [0.01 * rng.normal(size=n) for _ in range(4)])
        dv = 0.008 * np.tanh(cur / 5.0) + 0.002 * states[:, 2]
        cases.append({"case_id": f"c{k}", "family": "synthetic", "split": "train" if k < 4 else "heldout",
                      "temperature_K": 298.15, "initial_soc": 0.5, "time_s": t, "current_A": cur,
                      "spme_states": states, "dfn_voltage_V": states[:, 1] + dv})
    return cases


def test_training_learns_a_known_residual_and_resumes(tmp_path, rng):
    from multiscale.battery.training import evaluate, summarise, train_corrector

    cases = _synthetic_cases(rng)
    corr = train_corrector(cases, 5.0, tmp_path, n_members=2, hidden=(8,), epochs=40, batch_size=64, progress=False)
    rows = evaluate(corr, [c for c in cases if c["split"] == "heldout"], 5.0)
    fam = summarise(rows)["families"]["synthetic"]
    assert fam["hybrid_rmse_mV"] < 0.5 * fam["spme_rmse_mV"]
    again = train_corrector(cases, 5.0, tmp_path, n_members=2, hidden=(8,), epochs=40, batch_size=64, progress=False)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(corr.weights_, again.weights_))  # loaded, not retrained
    with pytest.raises(InputError, match="other settings"):
        train_corrector(cases, 5.0, tmp_path, n_members=2, hidden=(8,), epochs=41, batch_size=64, progress=False)
