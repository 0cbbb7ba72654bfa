"""Dask map over a local cluster returns exactly what the serial path returns."""
import numpy as np
import pytest

from multiscale.errors import InputError
from multiscale.parallel import parallel_map


def _work(item):
    # Deterministic given the item (seed travels with the item, never global state).
    seed, n = item
    rng = np.random.default_rng(seed)
    return float(np.sum(rng.standard_normal(n) ** 2))


@pytest.mark.timeout(120)
def test_local_cluster_of_two_workers_equals_serial():
    items = [(s, 1000 + s) for s in range(12)]
    serial = parallel_map(_work, items, n_workers=0, progress=False)
    seen = []
    dask = parallel_map(_work, items, n_workers=2, progress=False, on_result=lambda i, r: seen.append(i))
    assert dask == serial  # bitwise identical, in input order
    assert sorted(seen) == list(range(len(items)))


def test_serial_on_result_and_empty():
    calls = []
    assert parallel_map(_work, [], n_workers=0) == []
    out = parallel_map(_work, [(1, 3)], n_workers=0, progress=False, on_result=lambda i, r: calls.append((i, r)))
    assert calls == [(0, out[0])]


def test_negative_workers_rejected():
    with pytest.raises(InputError, match="n_workers = -1"):
        parallel_map(_work, [(0, 1)], n_workers=-1)


def _boom(x):
    raise ValueError(f"bad item {x}")


def test_errors_propagate_serial():
    with pytest.raises(ValueError, match="bad item 1"):
        parallel_map(_boom, [1], n_workers=0, progress=False)
