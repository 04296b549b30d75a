"""``summary.md``: the comparison as Markdown tables ready to paste into a paper draft, an
issue or a lab notebook; plots are linked by their file names in the same folder."""

from __future__ import annotations

from pathlib import Path

from tasklab.report.analysis import Analysis
from tasklab.report.answer import answer_lines
from tasklab.report.html_report import CONVENTIONS
from tasklab.report.plots import Plot
from tasklab.report.tables import Table, to_markdown


def render_markdown(
    analyses: list[Analysis],
    tables: list[Table],
    plots: dict[str, list[Plot]],
    problems: list[tuple[Path, str]],
) -> str:
    lines = ["# tasklab comparison", "", "## The answer", ""]
    for analysis in analyses:
        lines += [f"### {analysis.experiment.name}", ""]
        lines += [f"- {line}" for line in answer_lines(analysis)] + [""]
    lines += ["## How to read the numbers", "", CONVENTIONS.replace("&gt;", ">"), ""]
    for analysis in analyses:
        experiment = analysis.experiment
        fixed = " ".join(f"{k}={v}" for k, v in experiment.fixed.items()) or "–"
        lines += [
            f"## {experiment.name}",
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
        for plot in plots.get(experiment.name, []):
            lines += [f"![{plot.caption}]({plot.filename})", ""]
        for table in tables:
            rows = table.for_experiment(experiment.name)
            if rows.rows:
                lines += [f"### {table.title}", "", to_markdown(rows), ""]
    if problems:
        lines += ["## Skipped records", ""]
        lines += [f"- `{path}`: {reason}" for path, reason in problems]
        lines.append("")
    return "\n".join(lines)
