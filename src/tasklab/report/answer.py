"""The answer first: one sentence per verdict of an experiment, before any table or plot.

A verdict reads "a better than b on <metric> at <cell>: difference [interval]"; when no
comparison reaches one, a single sentence says so and why, so a reader never has to find the
answer in the third table. The sentences come from the same analysis every table shows.
"""

from __future__ import annotations

from tasklab.report.analysis import Analysis
from tasklab.report.comparisons import Comparison
from tasklab.report.formatting import p_text
from tasklab.report.verdicts import MIN_SEEDS, is_shown


def _sentence(comparison: Comparison, x_axis: str | None) -> str:
    a, b = comparison.arm_a, comparison.arm_b
    winner = a if comparison.verdict.startswith(f"{a} better") else b
    loser = b if winner == a else a
    detail = comparison.verdict[len(f"{winner} better") :]  # ", worse on X" after a mean
    where = comparison.cell.label(x_axis)
    return (
        f"{winner} better than {loser}{detail.replace(' on the mean', '')} on "
        f"{comparison.metric} at {where}: {a} − {b} = {comparison.diff:+.3f} "
        f"[{comparison.low:+.3f}, {comparison.high:+.3f}] ({comparison.n} seeds, adjusted "
        f"{p_text(comparison.p_adjusted)})"
    )


def answer_lines(analysis: Analysis) -> list[str]:
    """The experiment's verdicts as sentences, or one sentence saying none was reached."""
    experiment = analysis.experiment
    shown = [c for c in analysis.comparisons if is_shown(c.verdict)]
    if shown:
        return [_sentence(c, experiment.x_axis) for c in shown]
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
