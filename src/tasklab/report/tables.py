"""The comparison as tables: one list of rows per kind, shared by CSV, Markdown, HTML and W&B.

Rows are tidy — one per cell (experiment, metric, arm and a value on every swept axis) — and
carry raw numbers; ``display`` formats them for people. Every swept axis of every experiment
is a column of its own, empty where an experiment does not sweep it.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tasklab.report.analysis import Analysis
from tasklab.report.comparisons import Comparison
from tasklab.report.formatting import MINUS, signed
from tasklab.report.grouping import Cell, Facet
from tasklab.report.stats.effects import lower_is_better


@dataclass(frozen=True)
class Table:
    name: str  # file stem and anchor: summary, comparisons, ...
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]

    def for_experiment(self, experiment: str) -> Table:
        rows = [row for row in self.rows if row["experiment"] == experiment]
        return Table(self.name, self.title, self.columns, rows)

    def shown_columns(self) -> list[str]:
        """Columns worth showing people: not the experiment, not ones empty in every row."""
        return [
            c
            for c in self.columns
            if c != "experiment" and any(row.get(c) not in (None, "") for row in self.rows)
        ]


def _axes_of(facet: Facet, x: float | None, x_axis: str | None) -> dict[str, Any]:
    axes: dict[str, Any] = dict(facet)
    if x_axis is not None:
        axes[x_axis] = x
    return axes


def _cell_axes(cell: Cell, x_axis: str | None) -> dict[str, Any]:
    return _axes_of(cell.facet, cell.x, x_axis)


def _span(low: float, high: float) -> str:
    return "" if math.isnan(low) else f"{low:.2f}–{high:.2f}"


def _seeds_needed(c: Comparison) -> str:
    """For a comparison without a verdict: seeds that would detect the observed difference."""
    if c.verdict.shown or c.n < 2 or not math.isfinite(c.detectable):
        return ""
    if c.seeds_needed is None:
        return "not reachable by seeds (test-set noise; more test examples needed)"
    return str(c.seeds_needed)


def build_tables(analyses: list[Analysis]) -> list[Table]:
    axes = sorted({axis for a in analyses for axis in a.experiment.swept})
    summary, comparisons, transfer, delta_m, crossovers = [], [], [], [], []
    curves: list[dict[str, Any]] = []
    data_units: list[dict[str, Any]] = []
    for analysis in analyses:
        x_axis = analysis.experiment.x_axis
        for s in analysis.cells:
            summary.append(
                {
                    "experiment": s.experiment,
                    "metric": s.metric,
                    "arm": s.arm,
                    **_cell_axes(s.cell, x_axis),
                    "n_seeds": s.n,
                    "mean": s.mean,
                    "std": s.std,
                    "ci_low": s.low,
                    "ci_high": s.high,
                    "ci_over": s.interval,
                    "seeds": " ".join(map(str, s.seeds)),
                    "lower_is_better": lower_is_better(s.metric),
                }
            )
        for c in analysis.comparisons:
            comparisons.append(
                {
                    "experiment": c.experiment,
                    "metric": c.metric,
                    "arm_a": c.arm_a,
                    "arm_b": c.arm_b,
                    **_cell_axes(c.cell, x_axis),
                    "n_seeds": c.n,
                    "diff": c.diff,
                    "ci_low": c.low,
                    "ci_high": c.high,
                    "ci_level": c.level,
                    "ci_over": c.interval,
                    "ci95_low": c.low_95,
                    "ci95_high": c.high_95,
                    "se": c.se,
                    "se_seeds": c.seed_se,
                    "se_test": c.test_se,
                    "p_a_better": c.prob_a_better,
                    "seeds_a_better": f"{c.wins}/{c.n}",
                    "wins_ci": _span(c.wins_low, c.wins_high),
                    "p": c.p_value,
                    "p_holm": c.p_adjusted,
                    "p_sign_flip": c.p_sign_flip,
                    "verdict": str(c.verdict),
                    "per_task": c.per_task,
                    "detectable": c.detectable,
                    "seeds_needed": _seeds_needed(c),
                }
            )
        for g in analysis.transfer:
            transfer.append(
                {
                    "experiment": g.experiment,
                    "metric": g.metric,
                    "arm": g.arm,
                    **_cell_axes(g.cell, x_axis),
                    "n_seeds": g.n,
                    "scratch": g.scratch_mean,
                    "transfer": g.arm_mean,
                    "gain": g.gain,
                    "ci_low": g.low,
                    "ci_high": g.high,
                    "gain_pct": g.relative_gain_pct,
                    "negative_transfer_gap": g.negative_transfer_gap,
                    "verdict": str(g.verdict),
                }
            )
        for d in analysis.delta_m:
            delta_m.append(
                {
                    "experiment": d.experiment,
                    "metric": d.metric_name,
                    "arm": d.arm,
                    "reference": d.reference,
                    **_cell_axes(d.cell, x_axis),
                    "n_seeds": d.n,
                    "tasks": " ".join(d.tasks),
                    "delta_m_pct": d.value,
                    "ci_low": d.low,
                    "ci_high": d.high,
                    "p_holm": d.p_adjusted,
                    "verdict": str(d.verdict),
                }
            )
        for x in analysis.crossovers:
            crossovers.append(
                {
                    "experiment": x.experiment,
                    "metric": x.metric,
                    "arm_a": x.arm_a,
                    "arm_b": x.arm_b,
                    **dict(x.facet),
                    "size_axis": x_axis,
                    "sizes": " ".join(f"{s:g}" for s in x.sizes),
                    "n_seeds": len(x.seeds),
                    "shown": x.shown,
                    "crossover": x.size,
                    "ci_low": x.low,
                    "ci_high": x.high,
                    "share_crossing": x.share_crossing,
                    "summary": x.summary,
                }
            )
        for c in analysis.curves:
            fit = c.fit
            curves.append(
                {
                    "experiment": c.experiment,
                    "metric": c.metric,
                    "arm": c.arm,
                    **dict(c.facet),
                    "size_axis": x_axis,
                    "sizes": " ".join(f"{s:g}" for s in c.sizes),
                    "n_seeds": c.seeds,
                    "family": fit.family if fit else "",
                    "params": " ".join(f"{p:.6g}" for p in fit.params) if fit else "",
                    "backtest_error": fit.backtest_error if fit else None,
                    "last_point_error": fit.baseline_error if fit else None,
                    "non_monotone": c.non_monotone,
                    "extrapolated_to": c.extrapolate_to if c.extrapolates else None,
                    "extrapolated": c.extrapolated,
                    "ci_low": c.extrapolated_low,
                    "ci_high": c.extrapolated_high,
                    "summary": c.summary,
                }
            )
        for u in analysis.data_units:
            data_units.append(
                {
                    "experiment": u.experiment,
                    "metric": u.metric,
                    "arm": u.arm,
                    "reference": u.reference,
                    **dict(u.facet),
                    "size_axis": x_axis,
                    "size": u.size,
                    "arm_mean": u.arm_mean,
                    "equivalent_size": u.equivalent,
                    "equivalent_low": u.low,
                    "equivalent_high": u.high,
                    "transferred": u.transferred,
                    "note": u.note,
                    "reference_fit": u.backtest,
                    "summary": u.summary,
                }
            )
    rows = {
        "summary": summary,
        "comparisons": comparisons,
        "transfer": transfer,
        "delta_m": delta_m,
        "crossovers": crossovers,
        "curves": curves,
        "data_units": data_units,
    }
    return [
        Table(name, title, [*lead, *axes, *tail], rows[name])
        for name, (title, lead, tail) in _LAYOUT.items()
    ]


# name: (title, columns before the axis columns, columns after them)
_LAYOUT: dict[str, tuple[str, list[str], list[str]]] = {
    "summary": (
        "Cells: mean, sd and 95% CI (over seeds and test examples where the runs "
        "kept their predictions; ci_over says which)",
        ["experiment", "metric", "arm"],
        ["n_seeds", "mean", "std", "ci_low", "ci_high", "ci_over", "seeds", "lower_is_better"],
    ),
    "comparisons": (
        "Paired differences a − b on matched seeds: the CI the verdict uses (Holm-adjusted, "
        "at ci_level; a verdict exactly when it excludes 0), the plain 95% CI, and the standard "
        "error split into seeds and the test split (intervals: sqrt(a·t² + b·z²))",
        ["experiment", "metric", "arm_a", "arm_b"],
        [
            "n_seeds",
            "diff",
            "ci_low",
            "ci_high",
            "ci_level",
            "ci_over",
            "ci95_low",
            "ci95_high",
            "se",
            "se_seeds",
            "se_test",
            "p_a_better",
            "seeds_a_better",
            "wins_ci",
            "p",
            "p_holm",
            "p_sign_flip",
            "verdict",
            "per_task",
            "detectable",
            "seeds_needed",
        ],
    ),
    "transfer": (
        "Transfer gain over scratch (positive = better) and negative-transfer gap",
        ["experiment", "metric", "arm"],
        [
            "n_seeds",
            "scratch",
            "transfer",
            "gain",
            "ci_low",
            "ci_high",
            "gain_pct",
            "negative_transfer_gap",
            "verdict",
        ],
    ),
    "delta_m": (
        "Δm: mean relative improvement over tasks against single-task, in %",
        ["experiment", "metric", "arm", "reference"],
        ["n_seeds", "tasks", "delta_m_pct", "ci_low", "ci_high", "p_holm", "verdict"],
    ),
    "crossovers": (
        "Where fitted learning curves cross: a location only where the change of sign is "
        "shown (a verdict each way, or the fitted difference's CI excluding 0 on both sides)",
        ["experiment", "metric", "arm_a", "arm_b"],
        [
            "size_axis",
            "sizes",
            "n_seeds",
            "shown",
            "crossover",
            "ci_low",
            "ci_high",
            "share_crossing",
            "summary",
        ],
    ),
    "curves": (
        "Fitted learning curves: the family chosen by backtest (hold out the largest size) "
        "against the last-point baseline; extrapolated only where it beats it and is monotone",
        ["experiment", "metric", "arm"],
        [
            "size_axis",
            "sizes",
            "n_seeds",
            "family",
            "params",
            "backtest_error",
            "last_point_error",
            "non_monotone",
            "extrapolated_to",
            "extrapolated",
            "ci_low",
            "ci_high",
            "summary",
        ],
    ),
    "data_units": (
        "What an arm at a size is worth in examples of the reference arm: the reference's "
        "fitted curve inverted at the arm's mean (equivalent_size); transferred = "
        "equivalent_size − size (negative: it costs examples)",
        ["experiment", "metric", "arm", "reference"],
        [
            "size_axis",
            "size",
            "arm_mean",
            "equivalent_size",
            "equivalent_low",
            "equivalent_high",
            "transferred",
            "note",
            "reference_fit",
            "summary",
        ],
    ),
}


_PROBABILITIES = {"p_a_better", "share_crossing", "p", "p_holm", "p_sign_flip"}
_PERCENTS = {"gain_pct", "delta_m_pct"}
_SIZES = {
    "crossover",
    "size",
    "equivalent_size",
    "equivalent_low",
    "equivalent_high",
    "transferred",
    "extrapolated_to",
}


def display(column: str, value: Any) -> str:
    """A cell as people read it: 3 decimals for metrics, % and sizes spelt as such, and the
    true minus sign of every other printed number (CSV files keep raw numbers)."""
    if isinstance(value, float) and not isinstance(value, bool):
        return _number_text(column, value).replace("-", MINUS)
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _number_text(column: str, value: float) -> str:
    if math.isnan(value):
        return "–"
    if column in _PROBABILITIES:
        return f"{value:.2f}"
    if column in _PERCENTS:
        return signed(value, 2)
    if column in _SIZES or (column in ("ci_low", "ci_high") and abs(value) >= 100):
        return f"{value:,.0f}"
    if value.is_integer() and abs(value) >= 2:
        return f"{value:.0f}"
    return f"{value:.4f}" if abs(value) < 0.01 and value != 0 else f"{value:.3f}"


def to_csv(table: Table) -> str:
    """Raw values, full precision; empty where a row has no value for a column."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=table.columns, lineterminator="\n")
    writer.writeheader()
    for row in table.rows:
        writer.writerow({c: _raw(row.get(c)) for c in table.columns})
    return buffer.getvalue()


def _raw(value: Any) -> Any:
    if value is None:
        return ""
    return repr(float(value)) if isinstance(value, (float, np.floating)) else value


def to_markdown(table: Table) -> str:
    columns = table.shown_columns()
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in table.rows:
        cells = [display(c, row.get(c)).replace("|", "\\|") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
