"""A choice's value in examples (Hernandez et al. 2021, "Scaling laws for transfer").

For an arm compared with a reference on a declared size axis (fine-tuned vs scratch, the
shared network vs single-task, staged vs end to end), the reference's fitted learning curve
is inverted at the arm's measured mean at size D: D_E is the size at which the reference
reaches what the arm reaches at D, and D_T = D_E − D is what the choice is worth in examples
(negative: it costs examples; pre-training hurts). The interval comes from the same draws as
every curve interval (``curves``). Inside the measured range of the reference the value is
interpolated; beyond it only where the reference's fit beats the last-point baseline and is
monotone (then labelled extrapolated, up to the report's extrapolation factor), else it is
bounded ("more than the largest measured size").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tasklab.report.curves import MIN_SIZES, CurveDraws, CurveRow, curve_seeds
from tasklab.report.grouping import Experiment, Facet
from tasklab.report.stats.curve_fits import first_root

GRID = 400


@dataclass(frozen=True)
class DataUnitRow:
    """What ``arm`` at ``size`` is worth in examples of ``reference``: D_E, where the
    reference's fitted curve reaches the arm's mean; D_T = D_E − size. ``equivalent`` is
    inf where the reference does not get there within ``reach`` (printed as "> reach", a bound,
    never a number), 0 where it is already better at its smallest measured size."""

    experiment: str
    metric: str
    facet: Facet
    arm: str
    reference: str
    size: float
    arm_mean: float
    equivalent: float
    low: float
    high: float
    note: str  # interpolated, extrapolated, or what bounds it
    backtest: str  # the reference curve's family and backtest
    # the largest size the reference's curve was read at (its largest measured size, or as far
    # as its fit is trusted to extrapolate): an infinite value means "more than this"
    reach: float = math.inf

    @property
    def transferred(self) -> float:
        return self.equivalent - self.size

    @property
    def summary(self) -> str:
        def count(value: float, offset: float = 0.0) -> str:
            if math.isinf(value):  # not reached within the reach: a bound, never a number
                if not math.isfinite(self.reach):
                    return "∞"
                # an integer: a reach a hair below the size reads "> 0", never "> -0"
                return f"> {round(self.reach - offset):,}"
            return f"{value:,.0f}"

        gain = self.transferred
        flag = "; it costs examples" if gain < 0 else ""
        return (
            f"{self.arm} at {self.size:,.0f} ≈ {self.reference} at {count(self.equivalent)} "
            f"[{count(self.low)}, {count(self.high)}] ({self.note}): D_T "
            f"{count(gain, self.size) if math.isinf(gain) else f'= {count(gain)}'}{flag}"
        )


def data_unit_rows(
    experiment: Experiment,
    metric: str,
    pairs: set[tuple[str, str]],
    reference: str | None,
    draws: CurveDraws,
    curves: list[CurveRow],
) -> list[DataUnitRow]:
    if reference is None:
        return []
    trusted = {(c.facet, c.arm): c.extrapolates for c in curves if c.metric == metric}
    arms = sorted(arm for arm, b in pairs if b == reference)
    rows = []
    for facet in experiment.facets(metric):
        available = experiment.curves(metric, facet)
        if reference not in available:
            continue
        sizes, seeds = curve_seeds(experiment, metric, facet, [reference])
        reach = (draws.extrapolate or 1.0) if trusted.get((facet, reference)) else 1.0
        found = draws.on_grid(metric, facet, reference, sizes, seeds, reach, GRID)
        if found is None or len(sizes) < MIN_SIZES:
            continue
        fit = draws.fitted(metric, facet, reference, sizes, seeds)[0]
        assert fit is not None  # on_grid found one
        target = _Reference(reference, *found, sizes[-1], fit.backtest_text)
        for arm in (a for a in arms if a in available):
            arm_sizes, arm_seeds = curve_seeds(experiment, metric, facet, [arm, reference])
            if len(arm_seeds) < 2:
                continue
            mean, drawn = draws.means(metric, facet, arm, arm_sizes, arm_seeds)
            rows += [
                _row(experiment.name, metric, facet, arm, size, float(mean[j]), drawn[:, j], target)
                for j, size in enumerate(arm_sizes)
            ]
    return rows


@dataclass(frozen=True)
class _Reference:
    """The reference arm's fitted curve on the grid it is inverted on."""

    arm: str
    grid: np.ndarray
    curve: np.ndarray
    draws: np.ndarray  # (draws, grid)
    largest: float  # its largest measured size
    backtest: str


def _invert(grid: np.ndarray, curve: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per row, the first size on ``grid`` where ``curve`` reaches ``target``: inf where it
    never does and the curve starts below, 0 where it starts above already."""
    curve = np.atleast_2d(curve)
    gap = curve - target[:, None]
    direction = np.sign(curve[:, -1] - curve[:, 0])[:, None]
    gap = gap * np.where(direction == 0, 1.0, direction)  # reaching = the gap turns positive
    root = first_root(grid, gap)
    beyond = np.where(gap[:, 0] >= 0, 0.0, math.inf)
    return np.where(np.isfinite(root), root, beyond)


def _row(
    experiment: str,
    metric: str,
    facet: Facet,
    arm: str,
    size: float,
    arm_mean: float,
    arm_draws: np.ndarray,
    reference: _Reference,
) -> DataUnitRow:
    equivalent = float(_invert(reference.grid, reference.curve, np.asarray([arm_mean]))[0])
    drawn = _invert(reference.grid, reference.draws, np.asarray(arm_draws))
    # no interpolation between draws: an infinite draw (out of reach) sorts last, as it should
    low = np.quantile(drawn, 0.025, method="lower")
    high = np.quantile(drawn, 0.975, method="higher")
    if equivalent == 0.0:
        note = "below the smallest measured size"
    elif math.isinf(equivalent):
        reach = float(reference.grid[-1])
        note = (
            f"{reference.arm} does not reach it by {reach:,.0f}, its largest measured size"
            if reach <= reference.largest * (1 + 1e-9)
            else f"{reference.arm}'s curve does not reach it by {reach:,.0f}, as far as it is "
            "trusted to extrapolate"
        )
    elif equivalent > reference.largest:
        note = "extrapolated beyond the data"
    else:
        note = "interpolated"
    return DataUnitRow(
        experiment,
        metric,
        facet,
        arm,
        reference.arm,
        size,
        arm_mean,
        equivalent,
        float(low),
        float(high),
        note,
        reference.backtest,
        float(reference.grid[-1]),
    )
