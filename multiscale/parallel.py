"""Scale-out through Dask: a local cluster by default, an existing scheduler by address.

All long, embarrassingly parallel work in the package (xTB labelling, DFN data generation,
screening candidates) goes through :func:`parallel_map`, which returns results in input order
and is identical to the serial path (``n_workers=0``) for deterministic functions. Random
functions must take their seed as part of the item, never from global state.

The local cluster listens on 127.0.0.1 only (its HTTP endpoints on a free loopback port).
"""
from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Callable, Iterable, Iterator, Sequence

from .errors import InputError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def dask_client(
    scheduler: str | None = None,
    *,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    processes: bool = True,
    memory_limit: str | None = "auto",
) -> Iterator[Any]:
    """Yield a :class:`distributed.Client`.

    Parameters
    ----------
    scheduler
        Address of an existing scheduler (``tcp://host:8786``). ``None`` starts a local
        cluster on 127.0.0.1 that is closed on exit.
    n_workers
        Workers of the local cluster (default: the number of cores, at most 4).
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler:
            raise InputError(f"scheduler = {scheduler!r} must be an address such as 'tcp://127.0.0.1:8786'")
        client = Client(scheduler, timeout="20s")
        try:
            yield client
        finally:
            client.close()
        return
    if n_workers is None:
        n_workers = max(1, min(4, os.cpu_count() or 1))
    if n_workers < 1:
        raise InputError(f"n_workers = {n_workers} must be >= 1 for a Dask cluster")
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        processes=processes,
        host="127.0.0.1",
        # Its HTTP endpoints bind a free loopback port: the default (8787) may be taken by another
        # cluster on a shared machine, and distributed then leaks a socket while it retries.
        dashboard_address="127.0.0.1:0",
        worker_dashboard_address="127.0.0.1:0",
        memory_limit=memory_limit,
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def parallel_map(
    func: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    client: Any = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: bool = True,
    description: str | None = None,
    on_result: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """Map ``func`` over ``items`` and return the results in input order.

    Parameters
    ----------
    client
        An existing :class:`distributed.Client` to submit to.
    scheduler
        Address of an existing scheduler (used when ``client`` is None).
    n_workers
        ``0`` runs serially in this process (no Dask); otherwise the size of the local
        cluster started for this call when neither ``client`` nor ``scheduler`` is given.
    progress
        Show a tqdm bar as results complete.
    on_result
        Called as ``on_result(index, result)`` as each result arrives (in completion order):
        the hook for checkpointing long loops so that they can resume.

    Exceptions raised by ``func`` propagate (the first one in completion order).
    """
    items = list(items)
    if n_workers is not None and n_workers < 0:
        raise InputError(f"n_workers = {n_workers} must be >= 0 (0 = serial)")
    if not items:
        return []
    if client is None and scheduler is None and n_workers == 0:
        return _serial_map(func, items, progress=progress, description=description, on_result=on_result)
    if client is not None:
        return _dask_map(client, func, items, progress, description, on_result)
    with dask_client(scheduler, n_workers=n_workers) as c:
        return _dask_map(c, func, items, progress, description, on_result)


def _progress_bar(total: int, progress: bool, description: str | None):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not progress, desc=description, leave=False)


def _serial_map(func, items: Sequence[Any], *, progress, description, on_result) -> list[Any]:
    out = []
    with _progress_bar(len(items), progress, description) as bar:
        for i, item in enumerate(items):
            r = func(item)
            out.append(r)
            if on_result is not None:
                on_result(i, r)
            bar.update(1)
    return out


def _dask_map(client, func, items, progress, description, on_result) -> list[Any]:
    from distributed import as_completed

    # pure=False: identical items are still separate tasks (e.g. seeds passed elsewhere).
    futures = client.map(func, items, pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(items)
    with _progress_bar(len(items), progress, description) as bar:
        for fut in as_completed(futures):
            i = index[fut.key]
            results[i] = fut.result()
            if on_result is not None:
                on_result(i, results[i])
            bar.update(1)
    return results
