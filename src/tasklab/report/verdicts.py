"""From a paired difference to a verdict, as data.

The p-value and the interval of a comparison are one t distribution (``stats.intervals``);
the rule is one: a verdict exactly when the Holm-adjusted interval excludes 0 (equivalently
the Holm-adjusted p is below 0.05), with at least ``MIN_SEEDS`` seeds. No second guard
overrides what the reader sees.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from tasklab.report.stats.intervals import ALPHA

MIN_SEEDS = 3


class Outcome(enum.Enum):
    BETTER = "better"
    NO_CONCLUSION = "no conclusion"
    TOO_FEW_SEEDS = "too few seeds"
    UNDECIDED = ""  # before the family's correction


@dataclass(frozen=True)
class Verdict:
    """What a comparison concludes, as data: code asks ``shown`` and ``winner``; people read
    ``str(verdict)`` ("a better", "no conclusion (adjusted p = 0.67)", …). ``worse_on``: the
    tasks shown worse where a mean over tasks is better; ``phrase`` names a shown direction
    otherwise ("positive transfer")."""

    outcome: Outcome = Outcome.UNDECIDED
    winner: str = ""
    loser: str = ""
    n: int = 0
    p_adjusted: float = math.nan
    worse_on: tuple[str, ...] = ()
    phrase: str = ""

    @property
    def shown(self) -> bool:
        return self.outcome is Outcome.BETTER

    def __str__(self) -> str:
        if self.outcome is Outcome.BETTER:
            if self.phrase:
                return self.phrase
            if self.worse_on:
                return f"{self.winner} better on the mean, worse on {', '.join(self.worse_on)}"
            return f"{self.winner} better"
        if self.outcome is Outcome.NO_CONCLUSION:
            return f"no conclusion (adjusted p = {self.p_adjusted:.2g})"
        if self.outcome is Outcome.TOO_FEW_SEEDS:
            return f"too few seeds ({self.n} < {MIN_SEEDS})"
        return ""

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


UNDECIDED = Verdict()


def verdict(n: int, diff: float, p_adjusted: float, positive: str, negative: str) -> Verdict:
    """``positive`` better when the difference is positive and shown, ``negative`` when it is
    negative and shown, else no conclusion. Shown means: at least 3 seeds (below, no interval
    is printed) and the family-adjusted p below 0.05, i.e. the printed interval excludes 0."""
    if n < MIN_SEEDS:
        return Verdict(Outcome.TOO_FEW_SEEDS, n=n, p_adjusted=p_adjusted)
    if not (p_adjusted < ALPHA):
        return Verdict(Outcome.NO_CONCLUSION, n=n, p_adjusted=p_adjusted)
    winner, loser = (positive, negative) if diff > 0 else (negative, positive)
    return Verdict(Outcome.BETTER, winner, loser, n, p_adjusted)


def is_shown(found: Verdict) -> bool:
    """Whether a verdict states a difference (not "no conclusion" or "too few seeds")."""
    return found.shown
