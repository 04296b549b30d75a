"""Where two arms' fitted learning curves cross, and whether that is shown (``curves``).

A crossing is located on the fitted curves of both arms (never by a straight line between two
measured sizes), only on a declared size axis with at least 3 sizes, and only where the
difference is shown to change sign: a verdict each way at the measured sizes, or a fitted
difference whose simultaneous interval (``simultaneous_band``: at the verdicts' family level)
excludes 0 on both sides somewhere inside the measured range, from fits that follow their
measured means (``curves.lack_of_fit``).
Otherwise the row says "no crossover shown" without a location.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from tasklab.report.curves import MIN_SIZES, CurveDraws, curve_seeds, lack_of_fit
from tasklab.report.grouping import Experiment, Facet
from tasklab.report.records import natural_key
from tasklab.report.stats.curve_fits import first_root
from tasklab.report.stats.effects import lower_is_better
from tasklab.report.stats.intervals import ALPHA
from tasklab.report.verdicts import UNDECIDED, Verdict

GRID = 200
Verdicts = dict[tuple[str, Facet, str, str, float], Verdict]  # (metric, facet, a, b, size)


@dataclass(frozen=True)
class CrossoverRow:
    experiment: str
    metric: str
    facet: Facet
    arm_a: str
    arm_b: str
    sizes: tuple[float, ...]
    seeds: tuple[int, ...]
    shown: bool
    size: float | None  # where the fitted difference changes sign (shown only)
    low: float | None
    high: float | None
    share_crossing: float  # draws whose fitted difference changes sign in the range
    better_first: str | None
    better_last: str | None
    why: str  # what shows the change of sign, or why none is shown
    turns_back: float | None = None  # a later change of sign of the fitted difference
    verdict_sizes: int = 0  # the measured sizes whose comparison has a verdict

    @property
    def summary(self) -> str:
        if len(self.sizes) < MIN_SIZES:
            return (
                f"no crossover shown: {len(self.sizes)} sizes, a crossover needs "
                f"{MIN_SIZES} or more"
            )
        if not self.shown:
            lead = ""
            if self.better_first and self.better_first == self.better_last:
                lead = (
                    f"; {self.better_first} better throughout"
                    if self.verdict_sizes == len(self.sizes)
                    else f"; {self.better_first} better at the {self.verdict_sizes} of "
                    f"{len(self.sizes)} sizes with a verdict"
                )
            return (
                f"no crossover shown ({self.why}; {self.share_crossing:.0%} of draws cross "
                f"in the measured range){lead}"
            )
        span = (
            f"{self.low:,.0f}–{self.high:,.0f}"
            if self.low is not None and self.high is not None
            else "n/a"
        )
        back = (
            f" (the fitted difference changes sign again near {self.turns_back:,.0f})"
            if self.turns_back is not None
            else ""
        )
        return (
            f"crosses at {self.size:,.0f} (95% CI {span}, {self.share_crossing:.0%} of draws "
            f"cross; {self.why}): {self.better_first} better below, {self.better_last} "
            f"better above{back}"
        )


def _misfits(row: CrossoverRow, draws: CurveDraws, sizes: list, seeds: list) -> list[str]:
    """The arms whose fitted family misses their measured means (``lack_of_fit``): a crossing
    shown by the fits alone needs fits that follow the data."""
    found = []
    for arm in (row.arm_a, row.arm_b):
        fit, mean, drawn = draws.fitted(row.metric, row.facet, arm, sizes, seeds)
        if fit is None:
            continue
        p = lack_of_fit(fit, mean, drawn)
        if p < ALPHA:
            found.append(
                f"{arm}'s {fit.family} misses its measured means (lack of fit p = {p:.2g})"
            )
    return found


def _verdict_sides(
    verdicts: Verdicts, metric: str, facet: Facet, a: str, b: str, sizes: list[float]
) -> list[str]:
    """The arm each measured size's verdict names better, in size order (sizes without a
    verdict left out)."""
    sides = []
    for x in sizes:
        found = verdicts.get((metric, facet, a, b, x), UNDECIDED)
        if found.shown and found.winner in (a, b):
            sides.append(found.winner)
    return sides


def crossover_rows(
    experiment: Experiment,
    metric: str,
    pairs: set[tuple[str, str]],
    draws: CurveDraws,
    verdicts: Verdicts,
    family: int = 1,
) -> list[CrossoverRow]:
    rows = []
    sign = -1.0 if lower_is_better(metric) else 1.0
    for facet in experiment.facets(metric):
        curves = experiment.curves(metric, facet)
        for a, b in sorted(pairs, key=lambda p: natural_key(" ".join(p))):
            if a not in curves or b not in curves:
                continue
            sizes, seeds = curve_seeds(experiment, metric, facet, [a, b])
            if len(sizes) < 2 or len(seeds) < 2:
                continue
            sides = _verdict_sides(verdicts, metric, facet, a, b, sizes)
            head = CrossoverRow(
                experiment.name,
                metric,
                facet,
                a,
                b,
                tuple(sizes),
                tuple(seeds),
                shown=False,
                size=None,
                low=None,
                high=None,
                share_crossing=0.0,
                better_first=sides[0] if sides else None,
                better_last=sides[-1] if sides else None,
                why="too few sizes",
                verdict_sizes=len(sides),
            )
            rows.append(_located(head, draws, sides, sign, family))
    return rows


def simultaneous_band(
    gap: np.ndarray, drawn: np.ndarray, freedom: int, family: int
) -> tuple[np.ndarray, np.ndarray]:
    """The fitted difference's band at every grid point at once, at the report's family level:
    gap ± sqrt(χ²_k(1 − α/m)) · sd, Scheffé's bound for a curve that is linear in k measured
    means (the fitted difference moves with the two arms' means at the k sizes, through the
    fits' hat matrices) and Bonferroni over the m comparisons whose verdicts are adjusted
    together. A pointwise 95% band scanned along the grid would find a change of sign that
    no verdict of the same report supports."""
    critical = math.sqrt(stats.chi2.ppf(1 - ALPHA / max(family, 1), max(freedom, 1)))
    spread = critical * np.std(drawn, axis=0, ddof=1)
    return gap - spread, gap + spread


def _located(
    row: CrossoverRow, draws: CurveDraws, sides: list[str], sign: float, family: int = 1
) -> CrossoverRow:
    """``row`` with its crossing where the fitted curves show one, else why not."""
    if len(row.sizes) < MIN_SIZES:
        return row
    sizes, seeds = list(row.sizes), list(row.seeds)
    found_a = draws.on_grid(row.metric, row.facet, row.arm_a, sizes, seeds, points=GRID)
    found_b = draws.on_grid(row.metric, row.facet, row.arm_b, sizes, seeds, points=GRID)
    if found_a is None or found_b is None:
        return dataclasses.replace(row, why="no curve fits")
    grid, curve_a, drawn_a = found_a
    _, curve_b, drawn_b = found_b
    gap, drawn = curve_a - curve_b, drawn_a - drawn_b
    band_low, band_high = simultaneous_band(gap, drawn, len(sizes), family)
    roots = first_root(grid, drawn)
    crossing = roots[np.isfinite(roots)]
    share = float(crossing.size / drawn.shape[0])
    by_verdicts = len(set(sides)) == 2
    by_fit = bool(np.any(band_low > 0) and np.any(band_high < 0))
    observed = float(first_root(grid, gap[None, :])[0])
    if not (by_verdicts or by_fit) or math.isnan(observed):
        why = (
            "no verdict each way, and the fitted difference's simultaneous interval holds 0 "
            "on one side"
        )
        return dataclasses.replace(row, share_crossing=share, why=why)
    misfit = [] if by_verdicts else _misfits(row, draws, sizes, seeds)
    if misfit:
        why = (
            "no verdict each way; the fitted difference's simultaneous interval excludes 0 on "
            "both sides, "
            f"but {'; '.join(misfit)}"
        )
        return dataclasses.replace(row, share_crossing=share, why=why)
    low, high = np.exp(np.quantile(np.log(crossing), [0.025, 0.975]))
    # the sides just below and just above the first change of sign: a fitted difference
    # may turn back before the largest size, and "better above" is about this crossing
    changes = np.flatnonzero(np.sign(gap[:-1]) * np.sign(gap[1:]) < 0)
    above = gap[changes[0] + 1] if changes.size else gap[-1]
    first, last = (row.arm_a if sign * g > 0 else row.arm_b for g in (gap[0], above))
    turns_back = (
        float(first_root(grid[changes[1] :], gap[None, changes[1] :])[0])
        if changes.size > 1
        else None
    )
    return dataclasses.replace(
        row,
        shown=True,
        size=observed,
        low=float(low),
        high=float(high),
        share_crossing=share,
        better_first=first,
        better_last=last,
        turns_back=turns_back,
        why="a verdict each way"
        if by_verdicts
        else "the fitted difference's simultaneous interval excludes 0 on both sides",
    )
