"""Calibration of tasklab's verdicts at scale: generated noise tasks (labels independent of
everything, two arms whose seeds agree) at several seed counts.

Prints, per seed count, the share of noise tasks given a verdict (target: at most 5%), the
coverage of the true difference 0 by the two-level interval, and the share the seed-only rule
(seed-only bootstrap and t interval both excluding 0) would have decided.

    python scripts/calibrate_verdicts.py --tasks 300 --seeds 3 5 10
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from tasklab.report.analysis import analyse
from tasklab.report.calibration import write_two_arm_sweep
from tasklab.report.grouping import group_records
from tasklab.report.records import load_records
from tasklab.report.verdicts import is_shown

METRIC = "test/mean/auroc"


def _excludes_zero(low: float, high: float) -> bool:
    return low > 0 or high < 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=300, help="noise tasks per seed count")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 5, 10])
    parser.add_argument("--test-rows", type=int, default=359)
    parser.add_argument("--seed", type=int, default=0, help="of the generator")
    args = parser.parse_args()
    for seeds in args.seeds:
        rng = np.random.default_rng([args.seed, seeds])
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            for k in range(args.tasks):
                write_two_arm_sweep(root, f"noise_{k:04d}", rng, seeds, args.test_rows)
            records = load_records([root])
            found = [
                analyse(e, [METRIC]).comparisons[0] for e in group_records(records.ok, [METRIC])
            ]
        shown = np.mean([is_shown(c.verdict) for c in found])
        covered = np.mean([c.low <= 0 <= c.high for c in found])
        seed_rule = np.mean(
            [
                c.n >= 3
                and _excludes_zero(c.seed_low, c.seed_high)
                and _excludes_zero(c.t_low, c.t_high)
                for c in found
            ]
        )
        print(
            f"{seeds} seeds, {args.tasks} noise tasks: verdicts {shown:.1%}, "
            f"coverage of 0 {covered:.1%}; the seed-only rule would decide {seed_rule:.1%}"
        )


if __name__ == "__main__":
    main()
