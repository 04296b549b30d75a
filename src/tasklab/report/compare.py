"""``tasklab-compare DIR [DIR…]``: a sweep's records → tables, plots and a report.

Reads every ``result.json`` under the given run or multirun folders (failed, partial and
unreadable records are listed, never fatal), groups them by experiment, arm and every swept
axis, and writes next to each other in one folder: ``summary.csv`` (one row per cell),
``comparisons.csv``, ``transfer.csv``, ``delta_m.csv``, ``crossovers.csv``, ``summary.md``,
one PNG of learning curves per experiment and metric, and a self-contained ``report.html``.
With W&B on, the same tables and plots are logged to a run in the experiment's group.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasklab.report.analysis import Analysis
from tasklab.report.formatting import signed, signed_interval
from tasklab.report.metric_selection import CompareError
from tasklab.report.records import Records
from tasklab.report.report_steps import (
    analyse_records,
    read_records,
    writable_folder,
    write_plots,
)
from tasklab.report.resampling import RESAMPLES
from tasklab.report.verdicts import is_shown
from tasklab.results import write_bytes_atomic

if TYPE_CHECKING:
    from tasklab.report.plots import Plot
    from tasklab.report.tables import Table

PROG = "tasklab-compare"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="run or multirun folders (or files)")
    parser.add_argument("--out", type=Path, help="output folder (default: FIRST_DIR/compare)")
    parser.add_argument(
        "--metric",
        action="append",
        dest="metrics",
        metavar="PATTERN",
        help="metric keys to report, glob patterns, repeatable (default: test/mean/* and a "
        "pipeline's x_to_z/test/mean/*, z_to_y/test/mean/*)",
    )
    parser.add_argument(
        "--x",
        dest="x_axis",
        metavar="KEY",
        help="the data-size axis (default: the swept key the records declare a size, such as "
        "data.n_train; naming one declares it a size, e.g. for records of older versions)",
    )
    parser.add_argument(
        "--reference",
        metavar="ARM",
        help="the arm every other is compared to (default: the one the records' regime declares)",
    )
    parser.add_argument(
        "--no-curves",
        dest="curves",
        action="store_false",
        help="skip fitted learning curves, crossovers and data units (the rest of the report "
        "in about two thirds of the time)",
    )
    parser.add_argument("--resamples", type=int, default=RESAMPLES, help="test-example resamples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resamples and draws")
    parser.add_argument(
        "--wandb",
        choices=("auto", "off", "offline", "online"),
        default="auto",
        help="log tables and plots to W&B (auto: as the runs did; offline unless they were online)",
    )
    return parser


def _wandb_settings(records: list[dict[str, Any]], choice: str) -> tuple[str | None, str]:
    """(mode or None for off, project) following the runs' own logger settings."""
    loggers = [(r.get("config") or {}).get("logger") or {} for r in records]
    project = next((lg["project"] for lg in loggers if lg.get("project")), "tasklab")
    if choice == "off" or os.environ.get("WANDB_MODE") == "disabled":
        return None, project
    if choice != "auto":
        return choice, project
    used = [lg for lg in loggers if lg.get("wandb") and lg.get("wandb_mode") != "disabled"]
    if not used:
        return None, project
    online = any(lg.get("wandb_mode") == "online" for lg in used)
    return ("online" if online else "offline"), project


def _groups(records: list[dict[str, Any]]) -> dict[str, str]:
    groups = {}
    for record in records:
        logger = (record.get("config") or {}).get("logger") or {}
        groups.setdefault(str(record["name"]), logger.get("group") or str(record["name"]))
    return groups


def _output_dir(args: argparse.Namespace) -> Path:
    if args.out is not None:
        return args.out
    first = args.dirs[0]
    return (first.parent if first.is_file() else first) / "compare"


def run_compare(args: argparse.Namespace) -> tuple[Path, list[Analysis], Records]:
    records = read_records(args)
    analyses = analyse_records(records, args)
    out = _output_dir(args)
    write_outputs(out, analyses, records, args)
    return out, analyses, records


@dataclass(frozen=True)
class Rendered:
    """What every renderer of one comparison gets: its analyses, tables and drawn figures."""

    out: Path
    analyses: list[Analysis]
    tables: list[Table]
    plots: dict[str, list[Plot]]
    records: Records
    args: argparse.Namespace


def _csv_tables(report: Rendered) -> None:
    from tasklab.report.tables import to_csv

    for table in report.tables:
        write_bytes_atomic(report.out / f"{table.name}.csv", to_csv(table).encode())


def _markdown(report: Rendered) -> None:
    from tasklab.report.markdown_report import render_markdown

    text = render_markdown(report.analyses, report.tables, report.plots, report.records.problems)
    write_bytes_atomic(report.out / "summary.md", text.encode())


def _html(report: Rendered) -> None:
    from tasklab.report.html_report import render_html

    page = render_html(
        report.analyses,
        report.tables,
        report.plots,
        report.records.problems,
        list(report.args.dirs),
    )
    write_bytes_atomic(report.out / "report.html", page.encode())


def _wandb(report: Rendered) -> None:
    mode, project = _wandb_settings(report.records.ok, report.args.wandb)
    if mode is None or not report.analyses:
        return
    from tasklab.report.wandb_report import log_to_wandb

    plot_files = {
        name: [(plot, report.out / plot.filename) for plot in experiment_plots]
        for name, experiment_plots in report.plots.items()
    }
    groups = _groups(report.records.ok)
    log_to_wandb(report.analyses, report.tables, plot_files, report.out, mode, project, groups)


# Everything a comparison writes besides its PNGs, in order; a new output is one function here.
RENDERERS: list[Callable[[Rendered], None]] = [_csv_tables, _markdown, _html, _wandb]


def write_outputs(
    out: Path, analyses: list[Analysis], records: Records, args: argparse.Namespace
) -> None:
    # Plotting pulls in matplotlib: imported here so that the statistics stay light to import.
    from tasklab.report.tables import build_tables

    writable_folder(out)
    tables = build_tables(analyses)
    plots = write_plots(out, analyses)
    report = Rendered(out, analyses, tables, plots, records, args)
    for render in RENDERERS:
        render(report)


def _print_summary(out: Path, analyses: list[Analysis], records: Records, seconds: float) -> None:
    for analysis in analyses:
        experiment = analysis.experiment
        decided = [c for c in analysis.comparisons if is_shown(c.verdict)]
        print(
            f"{experiment.name}: {experiment.n_records} records, "
            f"size axis {experiment.x_axis or 'none'}, {len(analysis.comparisons)} comparisons "
            f"({len(decided)} with a verdict; Holm-adjusted over a family of "
            f"{analysis.family_size}), {len(analysis.warnings)} warnings"
        )
        for comparison in decided[:10]:
            print(
                f"  {comparison.metric} {comparison.cell.label(experiment.x_axis)}: "
                f"{comparison.arm_a} − {comparison.arm_b} = {signed(comparison.diff)} "
                f"{signed_interval(comparison.low, comparison.high)} → {comparison.verdict}"
            )
        if len(decided) > 10:
            print(f"  … {len(decided) - 10} more in comparisons.csv")
    for path, reason in records.problems:
        print(f"skipped {path}: {reason}")
    print(f"wrote {out}/report.html, summary.md, summary.csv and plots in {seconds:.1f} s")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    try:
        out, analyses, records = run_compare(args)
    except CompareError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    _print_summary(out, analyses, records, time.perf_counter() - started)
    if not records.ok:
        print(f"{PROG}: error: no successful record; the report lists why", file=sys.stderr)
        return 1
    return 0


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
