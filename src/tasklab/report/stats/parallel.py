"""Many independent small computations of a report (one learning-curve fit per arm and facet)
spread over the cores this process may use.

A 10,000-run sweep has ~600 curves, each fitted five times for its backtest and once more
on every size; they share nothing, so on a machine of k cores they take about 1/k of the
time. Workers are forked (they inherit the loaded modules: no start-up import), and only
where the process runs a single thread, since a fork copies no other thread and could
inherit a lock one of them held; elsewhere, and for few items, the work runs here, one item
after another. The results are the same either way.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from tasklab.runs.threads import usable_cores

Item = TypeVar("Item")
Result = TypeVar("Result")
MIN_PER_WORKER = 16  # below this a worker costs more to start than it saves
MAX_WORKERS = 8


def workers_for(items: int) -> int:
    """How many processes ``items`` independent computations are worth here."""
    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(usable_cores(), MAX_WORKERS, items // MIN_PER_WORKER))


def _quiet_worker() -> None:
    """Ctrl-C reaches every process of the terminal's group: the parent stops the pool, so a
    worker ignores it rather than print its own traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def parallel_map(function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
    """``[function(item) for item in items]``, in order, over forked worker processes where
    there are enough items and cores (``function`` must be a module-level function)."""
    workers = workers_for(len(items))
    if workers == 1:
        return [function(item) for item in items]
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_quiet_worker,
    )
    try:
        chunk = max(1, len(items) // (workers * 4))
        results = list(pool.map(function, items, chunksize=chunk))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        raise
    pool.shutdown()
    return results
