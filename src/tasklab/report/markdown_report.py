"""``summary.md``: the comparison as Markdown tables ready to paste into a paper draft, an
issue or a lab notebook; plots are linked by their file names in the same folder (or under
``link_prefix``, for a results page whose figures sit in a folder beside it)."""

from __future__ import annotations

import html
from pathlib import Path

from tasklab.report.analysis import Analysis
from tasklab.report.answer import answer_lines
from tasklab.report.html_report import CONVENTIONS
from tasklab.report.plots import Plot
from tasklab.report.tables import Table, to_markdown


def answer_section(analysis: Analysis) -> list[str]:
    return [f"- {line}" for line in answer_lines(analysis)] + [""]


def conventions_section() -> list[str]:
    return [html.unescape(CONVENTIONS), ""]


def experiment_section(
    analysis: Analysis,
    tables: list[Table],
    plots: list[Plot],
    link_prefix: str = "",
    level: int = 2,
) -> list[str]:
    """One experiment: what was grouped, its warnings, its figures and its tables."""
    experiment = analysis.experiment
    fixed = " ".join(f"{k}={v}" for k, v in experiment.fixed.items()) or "–"
    lines = [
        f"{'#' * level} {experiment.name}",
        "",
        f"{experiment.n_records} records · size axis: `{experiment.x_axis or 'none'}` · "
        f"other swept axes: `{', '.join(experiment.facet_axes) or 'none'}` · "
        f"fixed: `{fixed}`",
        "",
        f"Family: {analysis.family_size} comparisons (Holm-adjusted together).",
        "",
    ]
    if analysis.warnings:
        lines += ["**Warnings**", ""] + [f"- {w}" for w in analysis.warnings] + [""]
    for plot in plots:
        lines += [f"![{plot.caption}]({link_prefix}{plot.filename})", ""]
    for table in tables:
        rows = table.for_experiment(experiment.name)
        if rows.rows:
            lines += [f"{'#' * (level + 1)} {table.title}", "", to_markdown(rows), ""]
    return lines


def render_markdown(
    analyses: list[Analysis],
    tables: list[Table],
    plots: dict[str, list[Plot]],
    problems: list[tuple[Path, str]],
) -> str:
    lines = ["# tasklab comparison", "", "## The answer", ""]
    for analysis in analyses:
        lines += [f"### {analysis.experiment.name}", "", *answer_section(analysis)]
    lines += ["## How to read the numbers", "", *conventions_section()]
    for analysis in analyses:
        lines += experiment_section(analysis, tables, plots.get(analysis.experiment.name, []))
    if problems:
        lines += ["## Skipped records", ""]
        lines += [f"- `{path}`: {reason}" for path, reason in problems]
        lines.append("")
    return "\n".join(lines)
