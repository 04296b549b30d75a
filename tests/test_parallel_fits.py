"""The learning-curve fits spread over worker processes give exactly the serial results."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from tasklab.report.stats.curve_fits import choose_curve, choose_curves
from tasklab.report.stats.parallel import MIN_PER_WORKER, parallel_map, workers_for
from tasklab.runs.threads import usable_cores


def _pid(_: int) -> int:
    return os.getpid()


def _curves(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    sizes = np.asarray([100.0, 300.0, 1000.0, 3000.0, 10000.0])
    return [
        (
            sizes,
            0.9
            - rng.uniform(0.1, 0.4) * (sizes / 100) ** -rng.uniform(0.2, 0.8)
            + rng.normal(0, 0.005, sizes.size),
        )
        for _ in range(n)
    ]


def test_parallel_fits_equal_serial_fits() -> None:
    items = _curves(4 * MIN_PER_WORKER)
    serial = [choose_curve(*item) for item in items]
    assert choose_curves(items) == serial  # bit for bit: the same arithmetic in each process


_IN_A_FRESH_PROCESS = """
import os
from tasklab.report.stats.parallel import MIN_PER_WORKER, parallel_map, workers_for

def pid(_):
    return os.getpid()

items = list(range(4 * MIN_PER_WORKER))
assert workers_for(len(items)) >= 2, workers_for(len(items))
pids = parallel_map(pid, items)
assert len(pids) == len(items)
assert set(pids) - {os.getpid()}, "every item ran in this process"
assert parallel_map(abs, [-3, -2, -1] * MIN_PER_WORKER) == [3, 2, 1] * MIN_PER_WORKER

import numpy as np
from tasklab.report.stats.curve_fits import choose_curve, choose_curves

rng = np.random.default_rng(3)
sizes = np.asarray([100.0, 300.0, 1000.0, 3000.0, 10000.0])
curves = [
    (sizes, 0.9 - rng.uniform(0.1, 0.4) * (sizes / 100) ** -rng.uniform(0.2, 0.8))
    for _ in range(4 * MIN_PER_WORKER)
]
assert choose_curves(curves) == [choose_curve(*c) for c in curves]  # forked, bit for bit
print("ok")
"""


@pytest.mark.skipif(usable_cores() < 2, reason="one usable core: the fits run in-process")
def test_many_items_use_worker_processes_in_order() -> None:
    # a fresh interpreter: threads that other tests leave behind would (rightly) keep the
    # work in-process here
    done = subprocess.run(
        [sys.executable, "-c", _IN_A_FRESH_PROCESS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_few_items_or_a_second_thread_run_in_process() -> None:
    assert workers_for(MIN_PER_WORKER - 1) == 1
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert workers_for(100 * MIN_PER_WORKER) == 1  # a fork would copy no other thread
        assert set(parallel_map(_pid, list(range(4 * MIN_PER_WORKER)))) == {os.getpid()}
    finally:
        release.set()
        thread.join()
