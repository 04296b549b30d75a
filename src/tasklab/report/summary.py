"""``tasklab-summary DIR``: a terminal table of a sweep — each arm's mean with its 95% interval,
and the paired difference between arms on matched seeds with its verdict.

It is ``tasklab-compare``'s analysis printed for one metric (grouping, arm identity,
intervals over seeds and test examples, Holm's correction and verdicts are the same code, so
the two always agree), with each task's verdict under a mean over tasks. Unreadable or failed
records are listed, never fatal.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from tasklab.command_names import runnable
from tasklab.data.tasks import HEADLINE_METRIC
from tasklab.metric_keys import task_name
from tasklab.report.analysis import Analysis, analyse
from tasklab.report.comparisons import BOTH, CellStat, Comparison
from tasklab.report.formatting import p_text, signed, signed_interval
from tasklab.report.grouping import SizeAxisError, group_records, is_task_of
from tasklab.report.metric_selection import (
    DEFAULT_METRICS,
    CompareError,
    grouped_metrics,
    selected_metrics,
)
from tasklab.report.records import Records, load_records
from tasklab.report.resampling import RESAMPLES
from tasklab.results import RESULT_FILE
from tasklab.runs.progress import note_sweep_dir
from tasklab.runs.sweep_plan import sweep_plan


def _cell_line(stat: CellStat, width: int) -> str:
    ci = "(no CI)" if math.isnan(stat.low) else f"[{stat.low:.3f}, {stat.high:.3f}]"
    over = " (over seeds only)" if stat.interval != BOTH and stat.n > 1 else ""
    return f"  {stat.arm:<{width}} {stat.mean:.3f} {ci}{over}  seeds={stat.n}"


def _comparison_line(c: Comparison, indent: str = "  ", label: str | None = None) -> str:
    head = label or f"{c.arm_a} − {c.arm_b}"
    over = "" if c.interval == BOTH else " over seeds only"
    parts = f"; se ±{c.se:.3f}: seeds ±{c.seed_se:.3f}, test split ±{c.test_se:.3f}"
    noise = parts if c.interval == BOTH and math.isfinite(c.se) else ""
    text = (
        f"{indent}{head}: {signed(c.diff)} {signed_interval(c.low, c.high)}{over}{noise} "
        f"(paired, {c.wins}/{c.n} seeds better for {c.arm_a}; {p_text(c.p_adjusted, 'p_holm')}, "
        f"sign-flip p={c.p_sign_flip:.2g}) → {c.verdict}"
    )
    if c.n >= 2 and not c.verdict.shown and math.isfinite(c.detectable):
        needed = (
            f"{c.seeds_needed} seeds would detect {signed(c.diff)}"
            if c.seeds_needed is not None
            else "more seeds cannot detect it (the test set's noise is larger)"
        )
        text += f"; detectable with these seeds: ±{c.detectable:.3f}, {needed}"
    return text


def analysis_lines(analysis: Analysis, metric: str) -> list[str]:
    experiment = analysis.experiment
    lines = [
        f"metric: {metric} (arms: mean [95% CI over seeds and test examples, unless "
        "labelled]; differences: [CI Holm-adjusted over the report's family of "
        f"{analysis.family_size}, a verdict exactly where it excludes 0])"
    ]
    if experiment.fixed:
        lines.append("fixed: " + " ".join(f"{k}={v}" for k, v in experiment.fixed.items()))
    comparisons = [c for c in analysis.comparisons if c.metric == metric]
    per_task = [c for c in analysis.comparisons if is_task_of(c.metric, metric)]
    for cell in experiment.cells(metric):
        stats = [s for s in analysis.cells if s.metric == metric and s.cell == cell]
        width = max(14, *(len(s.arm) for s in stats))
        lines += ["", "cell: " + cell.label(experiment.x_axis)]
        lines += [_cell_line(s, width) for s in stats]
        for c in (c for c in comparisons if c.cell == cell):
            lines.append(_comparison_line(c))
            for task in per_task:
                if (task.cell, task.arm_a, task.arm_b) == (cell, c.arm_a, c.arm_b):
                    name = task_name(task.metric)
                    lines.append(_comparison_line(task, "      ", name))
    return lines


def family_metrics(records: list[dict[str, Any]], metric: str) -> tuple[list[str], list[str]]:
    """The metrics ``tasklab-compare`` reports by default (and ``metric``), and those to group
    (with the tasks behind each mean): the same family, so the same adjusted p-values."""
    try:
        shown = selected_metrics(records, DEFAULT_METRICS)
    except CompareError:
        shown = []
    if metric not in shown:
        shown.append(metric)
    return shown, grouped_metrics(records, shown)


def summary_lines(records: Records, metric: str, resamples: int = RESAMPLES) -> list[str]:
    shown, grouped = family_metrics(records.ok, metric)
    lines: list[str] = []
    for experiment in group_records(records.ok, grouped):
        if metric not in experiment.values:
            continue
        # the terminal table shows no curve, so the fits (most of a report's time) are skipped
        analysis = analyse(experiment, shown, resamples, curves=False)
        if lines:
            lines.append("")
        if len({r["name"] for r in records.ok}) > 1:
            lines.append(f"experiment: {experiment.name}")
        lines += analysis_lines(analysis, metric)
        lines += [
            f"warning: {w}"
            for w in analysis.warnings
            if "seeds only" in w or w.startswith("no comparable pairs")
        ]
        lines += [
            f"warning: {w}"
            for w in analysis.warnings
            if w.startswith(("replicated runs", "left out, not a finite number"))
        ]
    if not lines:
        lines.append(f"metric: {metric}: no record reports it")
    for path, reason in records.problems:
        lines.append(f"skipped {path}: {reason}")
    return lines


HEADLINE_METRICS = tuple(f"test/mean/{name}" for name in HEADLINE_METRIC.values())


def headline_metric(records: Records) -> str:
    """The first of AUROC, accuracy, MAE that the records report (binary tasks, then
    identification, then regression worlds)."""
    keys = {key for record in records.ok for key in record.get("metrics", {})}
    return next((m for m in HEADLINE_METRICS if m in keys), HEADLINE_METRICS[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tasklab-summary",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    try:
        lines = summary_lines(records, args.metric or headline_metric(records))
    except SizeAxisError as error:
        print(f"tasklab-summary: error: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    if not records.ok:
        print(
            "tasklab-summary: error: no usable record (every one is listed above with why)",
            file=sys.stderr,
        )
        return 1
    return 0


class PrintSummaryOnMultirunEnd(Callback):
    """Hydra callback: after a sweep, print its summary table; exit non-zero if any of its
    runs failed (each failure is recorded, and did not stop the others)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        note_sweep_dir(Path(config.hydra.sweep.dir))  # for the line an interrupted sweep prints

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.exists():
            return
        if sweep_plan(sweep_dir) == {}:
            print(
                "tasklab-train: error: the sweep expands to no job (an empty range or list of "
                "values); give every swept key at least one value",
                file=sys.stderr,
            )
            sys.exit(2)
        records = load_records([sweep_dir])
        if records.ok:
            print("\n".join(summary_lines(records, headline_metric(records))))
            compare = runnable("tasklab-compare")
            print(f"full report (intervals, fitted curves, HTML): {compare} {sweep_dir}")
        failed = [
            path
            for path, reason in records.problems
            if reason.startswith(("failed", "interrupted"))
        ]
        if failed:
            print(
                f"tasklab-train: {len(failed)} run(s) failed; `{runnable('tasklab-status')} "
                f"{sweep_dir}` "
                "lists them, and launching the same sweep again re-runs only those",
                file=sys.stderr,
            )
            sys.exit(1)


def cli() -> None:
    sys.exit(main())
