"""``tasklab-summary DIR``: a terminal table of a sweep — mean ± 95% CI per arm over seeds,
and the paired difference between arms on matched seeds.

Cells are found from the records: each record names its arm (the regime, or for transfer
e.g. ``related/full n_source=100000``) and the config keys that define arms; every other swept
override except ``seed`` is a cell axis, and seeds are replicates. Within a cell every arm is
compared with ``scratch`` where there is one, else arms are compared pairwise; transfer arms
that differ only in ``n_source`` are also compared step by step up the source sizes, which is
what "does more source data help?" needs. Unreadable or failed records are listed, never fatal.

A cell is defined by resolved config values, not by how a command line spelt them: a run that
set ``data.driving.decoy_rate=0.5`` by override and one that got it from its experiment file
share a cell.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from tasklab.report.effects import lower_is_better
from tasklab.report.pairs import comparison_pairs
from tasklab.report.records import Records, arm_of, find_axes, load_records, natural_key
from tasklab.report.stats import Interval, mean_interval, paired_difference
from tasklab.results import RESULT_FILE


def swept_axes(
    records: list[dict[str, Any]],
) -> tuple[list[str], dict[str, str], list[tuple[str, ...]]]:
    """Override keys whose values differ between records (the cell axes; keys that define arms
    are not axes), the constant rest, and each record's cell (``key=value`` per axis)."""
    axes = find_axes(records)
    cells = [tuple(f"{k}={values[k] or '-'}" for k in axes.swept) for values in axes.per_record]
    return axes.swept, axes.fixed, cells


def _fmt(interval: Interval, digits: int = 3) -> str:
    if math.isnan(interval.low):
        return f"{interval.mean:.{digits}f} (n={interval.n}, no CI)"
    return f"{interval.mean:.{digits}f} ± {interval.half_width:.{digits}f}"


def summary_lines(records: Records, metric: str) -> list[str]:
    _, fixed, cells = swept_axes(records.ok)
    by_cell: dict[tuple[str, ...], dict[str, dict[int, float]]] = defaultdict(dict)
    disagreeing: list[str] = []  # replicas (same cell, arm and seed) with different values
    for record, cell in zip(records.ok, cells, strict=True):
        value = record.get("metrics", {}).get(metric)
        if value is None:
            continue
        seeds = by_cell[cell].setdefault(arm_of(record), {})
        if record["seed"] in seeds and seeds[record["seed"]] != value:
            disagreeing.append(" ".join([*cell, arm_of(record), f"seed={record['seed']}"]))
        seeds[record["seed"]] = value
    lines = [f"metric: {metric} (mean ± 95% t-interval over seeds)"]
    if fixed:
        lines.append("fixed: " + " ".join(f"{k}={v}" for k, v in fixed.items()))
    for cell, arms in sorted(by_cell.items(), key=lambda item: natural_key(" ".join(item[0]))):
        lines.append("")
        lines.append("cell: " + (" ".join(cell) or "(no swept axis)"))
        names = sorted(arms, key=natural_key)
        width = max(14, *(len(n) for n in names))
        for arm in names:
            seeds = arms[arm]
            lines.append(
                f"  {arm:<{width}} {_fmt(mean_interval(list(seeds.values())))}  seeds={len(seeds)}"
            )
        for first, second in comparison_pairs(names):
            diff, wins = paired_difference(arms[first], arms[second])
            verdict = _verdict(diff, first, second, lower_is_better(metric))
            lines.append(
                f"  {first} − {second}: {_fmt(diff)} (paired, {wins}/{diff.n} seeds > 0) {verdict}"
            )
    for path, reason in records.problems:
        lines.append(f"skipped {path}: {reason}")
    for replica in disagreeing:
        lines.append(f"warning: replicated runs disagree ({replica}); the last one read is used")
    return lines


def _verdict(diff: Interval, first: str, second: str, lower_better: bool = False) -> str:
    if diff.n < 3 or math.isnan(diff.low):
        return "→ too few seeds to conclude"
    if diff.low > 0:
        return f"→ {second if lower_better else first} better"
    if diff.high < 0:
        return f"→ {first if lower_better else second} better"
    return "→ no difference shown (CI contains 0)"


HEADLINE_METRICS = ("test/mean/auroc", "test/mean/accuracy", "test/mean/mae")


def headline_metric(records: Records) -> str:
    """The first of AUROC, accuracy, MAE that the records report (binary tasks, then
    identification, then regression worlds)."""
    keys = {key for record in records.ok for key in record.get("metrics", {})}
    return next((m for m in HEADLINE_METRICS if m in keys), HEADLINE_METRICS[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tasklab-summary", description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="run or multirun directories")
    parser.add_argument(
        "--metric", help="metric key to compare (default: test/mean/auroc, accuracy or mae)"
    )
    args = parser.parse_args(argv)
    missing = [d for d in args.dirs if not d.exists()]
    if missing:
        print(f"tasklab-summary: error: no such directory: {missing[0]}", file=sys.stderr)
        return 2
    records = load_records(args.dirs)
    if not records.ok and not records.problems:
        print(
            f"tasklab-summary: error: no {RESULT_FILE} under {', '.join(map(str, args.dirs))}",
            file=sys.stderr,
        )
        return 2
    print("\n".join(summary_lines(records, args.metric or headline_metric(records))))
    return 0


class PrintSummaryOnMultirunEnd(Callback):
    """Hydra callback: after a sweep, print its summary table; exit non-zero if any of its
    runs failed (each failure is recorded, and did not stop the others)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.exists():
            return
        records = load_records([sweep_dir])
        if records.ok:
            print("\n".join(summary_lines(records, headline_metric(records))))
            print(
                f"full report (bootstrap CIs, learning curves, HTML): tasklab-compare {sweep_dir}"
            )
        failed = [path for path, reason in records.problems if reason.startswith("failed")]
        if failed:
            print(
                f"tasklab-train: {len(failed)} run(s) failed; `tasklab-status {sweep_dir}` "
                "lists them, and launching the same sweep again re-runs only those",
                file=sys.stderr,
            )
            sys.exit(1)


def cli() -> None:
    sys.exit(main())
