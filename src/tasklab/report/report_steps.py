"""The steps every report command shares: read the records, analyse them, write figures.

``tasklab-compare`` and ``tasklab-results`` (and ``scripts/bench_compare.py``) call these,
so that no command imports another.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tasklab.report.analysis import Analysis, analyse
from tasklab.report.grouping import SizeAxisError, group_records
from tasklab.report.metric_selection import (
    DEFAULT_METRICS,
    CompareError,
    grouped_metrics,
    selected_metrics,
)
from tasklab.report.records import Records, load_records
from tasklab.report.resampling import RESAMPLES
from tasklab.results import RESULT_FILE, write_bytes_atomic

if TYPE_CHECKING:
    from tasklab.report.plots import Plot


def check_args(args: argparse.Namespace) -> None:
    missing = [d for d in args.dirs if not d.exists()]
    if missing:
        raise CompareError(f"no such file or folder: {missing[0]}")
    if args.resamples < RESAMPLES:
        raise CompareError(
            f"--resamples={args.resamples} is too few for stable 95% intervals; use ≥ {RESAMPLES}"
        )


def read_records(args: argparse.Namespace) -> Records:
    """The records under ``args.dirs`` (``CompareError`` where there is not even a bad one)."""
    check_args(args)
    records = load_records(args.dirs)
    if not records.ok and not records.problems:
        raise CompareError(f"no {RESULT_FILE} under {', '.join(map(str, args.dirs))}")
    return records


def analyse_records(records: Records, args: argparse.Namespace) -> list[Analysis]:
    """Group the usable records by experiment and analyse each as ``args`` asks."""
    if not records.ok:
        return []
    selected = selected_metrics(records.ok, args.metrics or DEFAULT_METRICS)
    try:
        experiments = group_records(records.ok, grouped_metrics(records.ok, selected), args.x_axis)
    except SizeAxisError as error:
        raise CompareError(str(error)) from error
    if args.x_axis and all(e.x_axis is None for e in experiments):
        swept = sorted({a for e in experiments for a in e.swept})
        raise CompareError(
            f"--x {args.x_axis} is not a swept axis of these records; "
            f"swept axes: {', '.join(swept) or 'none'}"
        )
    return [
        analyse(e, selected, args.resamples, args.seed, args.reference, curves=args.curves)
        for e in experiments
    ]


def writable_folder(out: Path, option: str = "--out") -> None:
    """Create ``out`` and check that files can be written there (one line if not)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise CompareError(
            f"cannot write to {option} {out}: {error.strerror}; choose another folder"
        ) from error


def write_plots(out: Path, analyses: list[Analysis]) -> dict[str, list[Plot]]:
    """Every figure of every experiment as a PNG in ``out`` (atomically); PNGs of an earlier
    comparison in the same folder that this one did not draw are removed."""
    from tasklab.report.figures import figures_of  # matplotlib: only where plots are drawn

    plots = {a.experiment.name: figures_of(a) for a in analyses}
    written = set()
    for experiment_plots in plots.values():
        for plot in experiment_plots:
            write_bytes_atomic(out / plot.filename, plot.png)
            written.add(plot.filename)
    for stale in out.glob("*.png"):
        if stale.name not in written:
            stale.unlink()
    return plots
