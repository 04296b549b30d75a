"""Where two arms' learning curves cross, as rows a report shows.

The crossing and its interval come from ``bootstrap.crossover`` (resampling whole seeds, so
a seed's curve stays intact); here they are found for every compared pair of every facet and
described in words: which arm is better below and above the crossing, or throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasklab.report.bootstrap import Crossover, crossover
from tasklab.report.effects import lower_is_better
from tasklab.report.grouping import Experiment, Facet
from tasklab.report.records import natural_key


@dataclass(frozen=True)
class CrossoverRow:
    experiment: str
    metric: str
    facet: Facet
    arm_a: str
    arm_b: str
    found: Crossover
    better_first: str | None  # the better arm at the smallest size
    better_last: str | None  # ... and at the largest

    @property
    def summary(self) -> str:
        found, first, last = self.found, self.better_first, self.better_last
        if not found.seeds:
            return "no seed at every size of both curves"
        if found.size is None:
            lead = f"; {first} better throughout" if first and first == last else ""
            return (
                f"no crossover in the range{lead} ({found.share_crossing:.0%} of resamples cross)"
            )
        span = (
            f"{found.low:,.0f}–{found.high:,.0f}"
            if found.low is not None and found.high is not None
            else "n/a"
        )
        head = (
            f"crosses at {found.size:,.0f} (95% CI {span}, {found.share_crossing:.0%} of "
            f"resamples cross): {first} better below"
        )
        if first is not None and first == last:  # crossed, then crossed back
            other = self.arm_b if first == self.arm_a else self.arm_a
            return f"{head}, {other} better just above; crosses back: {last} at the largest size"
        return f"{head}, {last} better above"


def crossover_rows(
    experiment: Experiment, metric: str, pairs: set[tuple[str, str]], resamples: int, seed: int
) -> list[CrossoverRow]:
    rows = []
    lower = lower_is_better(metric)
    for facet in experiment.facets(metric):
        curves = experiment.curves(metric, facet)
        for a, b in sorted(pairs, key=lambda p: natural_key(" ".join(p))):
            if a not in curves or b not in curves:
                continue
            found = crossover(curves[a], curves[b], resamples, seed)
            if len(found.sizes) < 2:
                continue
            first, last = (
                _better_at(curves[a][x], curves[b][x], set(found.seeds), a, b, lower)
                for x in (found.sizes[0], found.sizes[-1])
            )
            rows.append(CrossoverRow(experiment.name, metric, facet, a, b, found, first, last))
    return rows


def _better_at(
    a_values: dict[int, float],
    b_values: dict[int, float],
    seeds: set[int],
    a: str,
    b: str,
    lower: bool,
) -> str | None:
    """The arm with the better mean over ``seeds`` at one size; None on a tie or no seeds."""
    gap = sum(a_values[s] - b_values[s] for s in seeds)
    if not seeds or gap == 0:
        return None
    return a if (gap > 0) != lower else b
