"""The answer first: one sentence per verdict of an experiment, before any table or plot.

A verdict reads "a better than b on <metric> at <cell>: difference [interval]"; when no
comparison reaches one, a single sentence says so and why, so a reader never has to find the
answer in the third table. On a declared size axis, each crossover that is shown follows,
with the fitted families and their backtest errors, and what the arms with a verdict are
worth in examples of the reference (the first ``DATA_UNIT_LINES``; the rest are in
data_units.csv). The sentences come from the same analysis every table shows.
"""

from __future__ import annotations

from tasklab.report.analysis import Analysis
from tasklab.report.comparisons import Comparison
from tasklab.report.formatting import p_text, signed, signed_interval
from tasklab.report.verdicts import MIN_SEEDS, is_shown

DATA_UNIT_LINES = 10


def _sentence(comparison: Comparison, x_axis: str | None) -> str:
    a, b = comparison.arm_a, comparison.arm_b
    found = comparison.verdict
    detail = f", worse on {', '.join(found.worse_on)}" if found.worse_on else ""
    where = comparison.cell.label(x_axis)
    return (
        f"{found.winner} better than {found.loser}{detail} on "
        f"{comparison.metric} at {where}: {a} − {b} = {signed(comparison.diff)} "
        f"{signed_interval(comparison.low, comparison.high)} ({comparison.n} seeds, adjusted "
        f"{p_text(comparison.p_adjusted)})"
    )


def _curve_lines(analysis: Analysis, shown: list[Comparison]) -> list[str]:
    """Shown crossovers with their fits, then data units where the comparison is a verdict."""
    fits = {(c.metric, c.facet, c.arm): c.fit for c in analysis.curves}
    lines = []
    for row in (r for r in analysis.crossovers if r.shown):
        families = [fits.get((row.metric, row.facet, arm)) for arm in (row.arm_a, row.arm_b)]
        named = "; ".join(f.backtest_text for f in families if f is not None)
        where = " ".join(f"{k}={v}" for k, v in row.facet)
        lines.append(
            f"{row.arm_a} and {row.arm_b} on {row.metric}{' at ' + where if where else ''}: "
            f"{row.summary} (fitted: {named})"
        )
    decided = {(c.metric, c.cell.facet, c.arm_a, c.cell.x) for c in shown}
    units = [u for u in analysis.data_units if (u.metric, u.facet, u.arm, u.size) in decided]
    introduced = set()
    for u in units[:DATA_UNIT_LINES]:
        group = (u.metric, u.facet, u.reference)
        if group not in introduced:  # the reference curve that the rows invert, named once
            introduced.add(group)
            where = " ".join(f"{k}={v}" for k, v in u.facet)
            lines.append(
                f"In examples of {u.reference} on {u.metric}{' at ' + where if where else ''} "
                f"(its curve: {u.backtest}):"
            )
        lines.append(u.summary)
    if len(units) > DATA_UNIT_LINES:
        lines.append(f"… {len(units) - DATA_UNIT_LINES} more in data_units.csv")
    return lines


def answer_lines(analysis: Analysis) -> list[str]:
    """The experiment's verdicts as sentences, or one sentence saying none was reached; then
    what its fitted curves show."""
    experiment = analysis.experiment
    shown = [c for c in analysis.comparisons if is_shown(c.verdict)]
    if shown:
        return [_sentence(c, experiment.x_axis) for c in shown] + _curve_lines(analysis, shown)
    total = len(analysis.comparisons)
    if total == 0:
        return ["No comparison: every cell holds one arm."]
    few = sum(1 for c in analysis.comparisons if c.n < MIN_SEEDS)
    reason = (
        f"{few} of them with fewer than {MIN_SEEDS} matched seeds; " if few else ""
    ) + "the detectable differences and the seeds needed are listed below"
    return [
        f"No difference shown: none of the {total} comparisons reaches a verdict after "
        f"Holm's correction over the family of {analysis.family_size} ({reason})."
    ]
