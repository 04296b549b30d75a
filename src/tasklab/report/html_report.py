"""``report.html``: the whole comparison in one self-contained file.

Plots are embedded as base64 PNG, styles and the table-sorting script are inline, and nothing
refers to another file or host, so the report opens offline, can be mailed or attached to a
paper's supplement, and shows the same thing everywhere. Click a column header to sort.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

from tasklab.report.analysis import Analysis
from tasklab.report.answer import answer_lines
from tasklab.report.plots import Plot
from tasklab.report.tables import Table, display

CONVENTIONS = """\
An interval is mean ± sqrt(a·t² + b·z²): a is the seeds' share (their spread, Student's t with
n − 1 degrees of freedom), b the test split's share common to every seed (the variance of the
seed mean over 2,000+ seeded resamples of the test examples, every run's metric recomputed
from its stored predictions; ci_over: seeds+examples). Runs without stored predictions get
Student's t over seeds only, labelled as such, and too narrow for a small test split. The
interval printed for a difference is Holm-adjusted over every comparison of the experiment
(the family, its size given above; its own level is ci_level), and a verdict ("a better") is
given exactly when it excludes 0, with at least 3 matched seeds; otherwise it reads "no
conclusion", with the smallest difference the seeds could detect (80% power) and the seeds
needed for the observed one. Beside each difference: its standard error split into seeds and
the test split, the share of seeds in which arm a is better with its Clopper–Pearson
interval, and the exact sign-flip p over seeds (with 5 seeds or fewer it cannot fall below
0.0625). A mean over tasks is shown with each task's verdict; "better on the mean, worse on X"
flags a task shown worse. p_a_better is the interval's one-sided confidence that a is better.
Transfer gain is transfer − scratch at the same target size, signed so that positive is
better; the negative-transfer gap is its opposite (&gt; 0: pre-training hurt). Δm is the mean
over tasks of the relative change of an arm against single-task, in %, with the sign flipped
for lower-is-better metrics (MAE, MSE, loss, error), so positive always means better; its
interval is over seeds only. Learning curves are drawn only against a declared data size;
each arm's is fitted by the family that best predicts its largest size from the others
(curves: backtest error against the last-point baseline) and extrapolated only where it beats
that baseline and is monotone. A crossover is located on the fitted curves only where the
change of sign is shown (a verdict each way, or the fitted difference's interval excluding 0
on both sides); otherwise it reads "no crossover shown". Data units: the reference arm's
fitted curve inverted at another arm's mean, what that arm is worth in the reference's
examples (transferred &lt; 0: it costs examples)."""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1200px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05rem; margin-top: 1.5rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .82rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; }
th { background: #f3f3f3; cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort=ascending]::after { content: " ▲"; } th[aria-sort=descending]::after { content: " ▼"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .8rem; color: #555; }
.scroll { overflow-x: auto; } .warnings { color: #8a4b00; margin: .5rem 0; }
.warnings summary { cursor: pointer; font-weight: 600; } .problems td { color: #a00; }
.meta { font-size: .88rem; color: #444; } .conventions { font-size: .85rem; color: #444; }
.answer li { font-size: 1.05rem; margin: .3rem 0; }
"""

_SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (o) { o.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[column];
        var raw = cell.getAttribute("data-value");
        var number = parseFloat(raw);
        return isNaN(number) ? (raw || cell.textContent) : number;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), order;
        if (typeof x === "number" && typeof y === "number") order = x - y;
        else order = String(x).localeCompare(String(y), undefined, {numeric: true});
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _sort_value(value: object) -> str:
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value) if value is not None else ""


def _table_html(table: Table, table_id: str) -> str:
    columns = table.shown_columns()
    head = "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in columns)
    rows = []
    for row in table.rows:
        cells = []
        for column in columns:
            value = row.get(column)
            css = " class='num'" if isinstance(value, int | float) else ""
            cells.append(
                f"<td{css} data-value='{html.escape(_sort_value(value), quote=True)}'>"
                f"{html.escape(display(column, value))}</td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<div class='scroll'><table class='sortable' id='{table_id}'><thead><tr>{head}</tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _figure_html(plot: Plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    caption = html.escape(plot.caption)
    return (
        f"<figure><img src='data:image/png;base64,{data}' alt='{caption}'>"
        f"<figcaption>{caption}</figcaption></figure>"
    )


def render_html(
    analyses: list[Analysis],
    tables: list[Table],
    plots: dict[str, list[Plot]],
    problems: list[tuple[Path, str]],
    inputs: list[Path],
) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>tasklab comparison</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>tasklab comparison</h1>",
        "<p class='meta'>From "
        + ", ".join(f"<code>{html.escape(str(p))}</code>" for p in inputs)
        + f": {sum(a.experiment.n_records for a in analyses)} records used, "
        f"{len(problems)} skipped.</p>",
        "<section id='answer'><h2>The answer</h2>",
    ]
    for index, analysis in enumerate(analyses):
        items = "".join(f"<li>{html.escape(line)}</li>" for line in answer_lines(analysis))
        parts.append(
            f"<h3><a href='#experiment-{index}'>{html.escape(analysis.experiment.name)}</a></h3>"
            f"<ul class='answer'>{items}</ul>"
        )
    parts += [
        "</section>",
        f"<details class='conventions'><summary>How to read the numbers</summary>"
        f"<p>{CONVENTIONS}</p></details>",
    ]
    for index, analysis in enumerate(analyses):
        experiment = analysis.experiment
        parts.append(f"<section id='experiment-{index}'>")
        parts.append(f"<h2>{html.escape(experiment.name)}</h2>")
        fixed = " ".join(f"{k}={v}" for k, v in experiment.fixed.items()) or "–"
        parts.append(
            f"<p class='meta'>{experiment.n_records} records · size axis: "
            f"<code>{html.escape(experiment.x_axis or 'none')}</code> · other swept axes: "
            f"<code>{html.escape(', '.join(experiment.facet_axes) or 'none')}</code> · "
            f"fixed: <code>{html.escape(fixed)}</code> · family: "
            f"{analysis.family_size} comparisons, Holm-adjusted together</p>"
        )
        if analysis.warnings:
            items = "".join(f"<li>{html.escape(w)}</li>" for w in analysis.warnings)
            parts.append(
                f"<details class='warnings'><summary>{len(analysis.warnings)} warnings "
                "(too few seeds, intervals over seeds only, verdicts the test set's noise "
                "withdrew, "
                "disagreeing replicas)"
                f"</summary><ul>{items}</ul></details>"
            )
        parts += [_figure_html(plot) for plot in plots.get(experiment.name, [])]
        for table in tables:
            rows = table.for_experiment(experiment.name)
            if rows.rows:
                parts.append(f"<h3>{html.escape(table.title)}</h3>")
                parts.append(_table_html(rows, f"{table.name}-{index}"))
        parts.append("</section>")
    if problems:
        rows = "".join(
            f"<tr><td>{html.escape(str(path))}</td><td>{html.escape(reason)}</td></tr>"
            for path, reason in problems
        )
        parts.append(
            "<section id='problems'><h2>Skipped records</h2>"
            "<table class='sortable problems' id='problems-table'><thead><tr>"
            "<th scope='col'>path</th><th scope='col'>reason</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>"
        )
    parts.append(f"<script>{_SORT_SCRIPT}</script></body></html>")
    return "\n".join(parts)
