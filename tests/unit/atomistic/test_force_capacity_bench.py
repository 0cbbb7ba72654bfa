"""benchmarks/bench_force_capacity.py on a few frames: the cached training path measures the same error
as the calculator, a widened member starts where its parent does, and fitting few frames lowers it."""
import pytest

from multiscale.atomistic import load_potential
from multiscale.atomistic.validation import force_errors_by_element, pooled_force_rmse, training_frames
from multiscale.commands.bench import load_benchmark

bfc = load_benchmark("force_capacity")

MODEL = "mlp_li_ec_graphene_vff"


@pytest.fixture(scope="module")
def runs():
    item = dict(model=MODEL, n_frames=12, minutes=0.02, learning_rate=3e-4, record_steps=2, heldout_stride=400, seed=0)
    return [bfc.run_one(dict(item, hidden=h)) for h in ((64, 64), (80, 64))]


def test_cached_training_path_measures_what_the_calculator_does(runs):
    calc = load_potential(MODEL, precision="float64")
    member0 = calc.ensemble.members[:1]
    from multiscale.atomistic.ensemble import PotentialEnsemble

    one = PotentialEnsemble(member0)
    one.baseline = calc.ensemble.baseline
    ref = pooled_force_rmse(force_errors_by_element(one, training_frames(calc, max_frames=12), by="role"))
    # float16 Jacobian factors and float32 networks in training, float64 here
    assert runs[0]["train_start_molecular_meV_per_A"] == pytest.approx(ref, rel=0.01)


def test_widened_member_starts_where_its_parent_does_and_both_fit_their_frames(runs):
    control, wide = runs
    assert wide["hidden"] == [80, 64]
    start = control["train_start_molecular_meV_per_A"]
    assert wide["train_start_molecular_meV_per_A"] == pytest.approx(start, rel=1e-5)
    assert wide["heldout_start"]["molecular_meV_per_A"] == pytest.approx(
        control["heldout_start"]["molecular_meV_per_A"], rel=1e-9)
    for r in runs:
        assert r["steps"] >= 2 and len(r["trajectory"]) >= 2
        assert r["train_end_molecular_meV_per_A"] < 0.97 * r["train_start_molecular_meV_per_A"]


def test_bad_arguments_name_themselves():
    for argv, word in ((["--frames", "4"], "--frames"), (["--minutes", "0"], "--minutes"),
                       (["--hidden", "32,32"], "--hidden"), (["--learning-rate", "1"], "--learning-rate")):
        with pytest.raises(SystemExit, match=word):
            bfc.main(argv)
