"""Coverage of the intervals every report prints, measured on simulated A/A experiments.

Two arms identical in distribution (the true difference is 0), AUROC on a shared test split,
in two regimes: the test split's noise dominant (300 rows, seeds that agree) and the seeds'
dominant (1,000 rows, seeds that differ). Per regime and seed count it prints the coverage of
the difference's interval (target 95%), its false verdicts (target ≤ 5%), the coverage of
one arm's interval of its true AUROC, and the test split's share of the variance, each with
its simulation error. ``--through-files`` also runs noise tasks written as run records
through ``tasklab-compare``'s own analysis, as a check that the report prints that interval.

    python scripts/calibrate_intervals.py --experiments 2000 --seeds 3 5 10
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import numpy as np

from tasklab.report.analysis import analyse
from tasklab.report.calibration import REGIMES, measure_coverage, write_two_arm_sweep
from tasklab.report.grouping import group_records
from tasklab.report.records import load_records
from tasklab.report.verdicts import is_shown

METRIC = "test/mean/auroc"


def _error(share: float, n: int) -> str:
    return f"±{1.96 * math.sqrt(share * (1 - share) / n):.1%}"


def _through_files(tasks: int, seeds: int, seed: int) -> str:
    rng = np.random.default_rng([seed, seeds])
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for k in range(tasks):
            write_two_arm_sweep(root, f"noise_{k:04d}", rng, seeds)
        records = load_records([root])
        found = [analyse(e, [METRIC]).comparisons[0] for e in group_records(records.ok, [METRIC])]
    shown = float(np.mean([is_shown(c.verdict) for c in found]))
    covered = float(np.mean([c.low <= 0 <= c.high for c in found]))
    return (
        f"  through run records ({tasks} noise tasks, {seeds} seeds): verdicts {shown:.1%} "
        f"{_error(shown, tasks)}, coverage of 0 {covered:.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", type=int, default=2000, help="per regime and seeds")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 5, 10])
    parser.add_argument("--resamples", type=int, default=200, help="test-example resamples")
    parser.add_argument("--through-files", type=int, default=0, metavar="TASKS")
    parser.add_argument("--seed", type=int, default=0, help="of the generator")
    args = parser.parse_args()
    n = args.experiments
    for regime in REGIMES:
        print(f"{regime.name} ({regime.n_test} test rows):")
        for seeds in args.seeds:
            c = measure_coverage(regime, seeds, n, args.resamples, args.seed)
            print(
                f"  {seeds:>2} seeds: difference covered {c.difference_covered:.1%} "
                f"{_error(c.difference_covered, n)}, false verdicts {c.false_verdicts:.1%}; "
                f"arm covered {c.arm_covered:.1%}; test split's share of the variance "
                f"{c.test_share:.0%}"
            )
    if args.through_files:
        for seeds in args.seeds:
            print(_through_files(args.through_files, seeds, args.seed))


if __name__ == "__main__":
    main()
