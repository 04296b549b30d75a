"""A sweep's fixed cost per job: the same grid of small fits with Hydra's basic sweeper (each
job's config composed twice: once to check the batch, once to run it) and with tasklab's
(composed once), side by side.

Each repeat launches both sweeps, in fresh processes, one after the other (alternating which
goes first) and gives one ratio; the median and range of the ratios are printed.

    python scripts/bench_sweep_overhead.py [--jobs 12] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

HYDRA_BASIC = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def sweep_seconds(jobs: int, sweeper: str | None) -> float:
    """Wall time of ``tasklab-train -m`` over ``jobs`` seeds of a small vectors fit (one seed
    per fit, so every job trains), start-up included."""
    with tempfile.TemporaryDirectory() as sweep:
        command = [
            sys.executable,
            "-m",
            "tasklab.train",
            "-m",
            "data=vectors",
            "model=mlp",
            "trainer=smoke",
            "trainer.seeds_per_fit=1",
            "logger=none",
            f"seed=range(0,{jobs})",
            f"hydra.sweep.dir={sweep}",
        ]
        if sweeper:
            command.append(f"hydra.sweeper._target_={sweeper}")
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    twice, once = [], []
    for repeat in range(args.repeats):
        order = [HYDRA_BASIC, None] if repeat % 2 == 0 else [None, HYDRA_BASIC]
        for sweeper in order:
            (twice if sweeper else once).append(sweep_seconds(args.jobs, sweeper))
    ratios = [o / t for o, t in zip(once, twice, strict=True)]
    print(
        f"{args.jobs} jobs: composed twice {[round(t, 1) for t in twice]} s, "
        f"once {[round(o, 1) for o in once]} s; ratio once/twice "
        f"{statistics.median(ratios):.3f} [{min(ratios):.3f}, {max(ratios):.3f}] "
        f"over {len(ratios)} paired repeats"
    )


if __name__ == "__main__":
    main()
