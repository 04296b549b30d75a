"""The statistics of a comparison, computed once and rendered by every output.

Per cell and arm: mean, standard deviation, seeds and a bootstrap interval. Between arms in a
cell: paired differences on matched seeds. For multi-task arms: Δm against single-task. For
transfer arms: the gain over scratch and the negative-transfer gap. Along the data-size axis:
where two arms' learning curves cross.

A verdict ("a better") needs at least 3 matched seeds and *both* the bootstrap and the
Student-t interval of the difference to exclude 0: with 3–5 seeds the bootstrap interval is
too narrow (coverage 82–89%, see ``bootstrap``), the t-interval assumes normality; requiring
both keeps a verdict honest under either failure. Everything else reads "no conclusion".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tasklab.report.bootstrap import (
    RESAMPLES,
    Crossover,
    bootstrap_interval,
    crossover,
    paired_comparison,
)
from tasklab.report.effects import delta_m_interval, lower_is_better
from tasklab.report.formatting import signed
from tasklab.report.grouping import Cell, Experiment, Facet
from tasklab.report.pairs import comparison_pairs
from tasklab.report.records import natural_key
from tasklab.report.stats import mean_interval

MIN_SEEDS = 3


@dataclass(frozen=True)
class CellStat:
    experiment: str
    metric: str
    cell: Cell
    arm: str
    n: int
    mean: float
    std: float
    low: float
    high: float
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class Comparison:
    """a − b on matched seeds. ``prob_a_better`` is the bootstrap probability that a is the
    better arm (its mean higher, or lower for lower-is-better metrics)."""

    experiment: str
    metric: str
    cell: Cell
    arm_a: str
    arm_b: str
    n: int
    diff: float
    low: float
    high: float
    t_low: float
    t_high: float
    prob_a_better: float
    verdict: str


@dataclass(frozen=True)
class TransferGain:
    """Gain of a transfer arm over scratch at one target size, signed so that positive is
    better; the negative-transfer gap is its opposite (> 0: pre-training hurt)."""

    experiment: str
    metric: str
    cell: Cell
    arm: str
    n: int
    scratch_mean: float
    arm_mean: float
    gain: float
    low: float
    high: float
    relative_gain_pct: float
    negative_transfer_gap: float
    verdict: str


@dataclass(frozen=True)
class DeltaM:
    experiment: str
    metric_name: str  # e.g. auroc: Δm over test/<task>/auroc
    cell: Cell
    arm: str
    reference: str
    n: int
    tasks: tuple[str, ...]
    value: float
    low: float
    high: float
    verdict: str


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


@dataclass
class Analysis:
    experiment: Experiment
    metrics: list[str]
    cells: list[CellStat] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    transfer: list[TransferGain] = field(default_factory=list)
    delta_m: list[DeltaM] = field(default_factory=list)
    crossovers: list[CrossoverRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _excludes_zero(low: float, high: float) -> bool:
    return math.isfinite(low) and math.isfinite(high) and (low > 0 or high < 0)


def _verdict(n: int, intervals: list[tuple[float, float]], positive: str, negative: str) -> str:
    if n < MIN_SEEDS:
        return f"too few seeds ({n} < {MIN_SEEDS})"
    if all(_excludes_zero(*i) and i[0] > 0 for i in intervals):
        return positive
    if all(_excludes_zero(*i) and i[1] < 0 for i in intervals):
        return negative
    return "no conclusion (bootstrap or t CI contains 0)"


def _cell_stats(experiment: Experiment, metric: str, resamples: int, seed: int) -> list[CellStat]:
    stats = []
    for cell in experiment.cells(metric):
        for arm, seeds in sorted(
            experiment.values[metric][cell].items(), key=lambda i: natural_key(i[0])
        ):
            values = [seeds[s] for s in sorted(seeds)]
            interval = bootstrap_interval(values, resamples, seed)
            std = mean_interval(values).std
            stats.append(
                CellStat(
                    experiment.name,
                    metric,
                    cell,
                    arm,
                    interval.n,
                    interval.mean,
                    std,
                    interval.low,
                    interval.high,
                    tuple(sorted(seeds)),
                )
            )
    return stats


def _compare(
    experiment: Experiment, metric: str, cell: Cell, a: str, b: str, resamples: int, seed: int
) -> Comparison:
    arms = experiment.values[metric][cell]
    paired = paired_comparison(arms[a], arms[b], resamples, seed)
    t = mean_interval([arms[a][s] - arms[b][s] for s in paired.seeds])
    lower = lower_is_better(metric)
    prob = paired.prob_a_better if not lower else 1.0 - paired.prob_a_better
    intervals = [(paired.diff.low, paired.diff.high), (t.low, t.high)]
    better, worse = (f"{b} better", f"{a} better") if lower else (f"{a} better", f"{b} better")
    return Comparison(
        experiment.name,
        metric,
        cell,
        a,
        b,
        paired.diff.n,
        paired.diff.mean,
        paired.diff.low,
        paired.diff.high,
        t.low,
        t.high,
        prob,
        _verdict(paired.diff.n, intervals, better, worse),
    )


def _transfer_gain(comparison: Comparison, experiment: Experiment) -> TransferGain:
    sign = -1.0 if lower_is_better(comparison.metric) else 1.0
    arms = experiment.values[comparison.metric][comparison.cell]
    seeds = [s for s in arms[comparison.arm_a] if s in arms[comparison.arm_b]]
    scratch = sum(arms[comparison.arm_b][s] for s in seeds) / len(seeds)
    arm = sum(arms[comparison.arm_a][s] for s in seeds) / len(seeds)
    gain = sign * comparison.diff
    low, high = sorted((sign * comparison.low, sign * comparison.high))
    t_low, t_high = sorted((sign * comparison.t_low, sign * comparison.t_high))
    verdict = _verdict(
        comparison.n, [(low, high), (t_low, t_high)], "positive transfer", "negative transfer"
    )
    relative = 100.0 * gain / abs(scratch) if scratch else math.nan
    return TransferGain(
        experiment.name,
        comparison.metric,
        comparison.cell,
        comparison.arm_a,
        comparison.n,
        scratch,
        arm,
        gain,
        low,
        high,
        relative,
        -gain,
        verdict,
    )


def _task_values(
    experiment: Experiment, metric: str, cell: Cell, arm: str
) -> dict[int, dict[str, float]]:
    """{seed: {task: value}} from ``split/<task>/<name>`` metrics, for Δm."""
    split, name = metric.split("/", 1)[0], metric.rsplit("/", 1)[-1]
    per_seed: dict[int, dict[str, float]] = {}
    for key, cells in experiment.values.items():
        parts = key.split("/")
        if len(parts) != 3 or parts[0] != split or parts[2] != name or parts[1] == "mean":
            continue
        for s, value in cells.get(cell, {}).get(arm, {}).items():
            per_seed.setdefault(s, {})[parts[1]] = value
    return per_seed


def _delta_m(
    experiment: Experiment, metric: str, cell: Cell, arm: str, resamples: int, seed: int
) -> DeltaM | None:
    mtl = _task_values(experiment, metric, cell, arm)
    stl = _task_values(experiment, metric, cell, "single_task")
    lower = {task: lower_is_better(metric) for s in mtl.values() for task in s}
    result = delta_m_interval(mtl, stl, lower, resamples, seed)
    if not result.tasks:
        return None
    t = mean_interval(list(result.per_seed))
    n = len(result.per_seed)
    verdict = _verdict(
        n, [(result.low, result.high), (t.low, t.high)], f"{arm} better", "single_task better"
    )
    return DeltaM(
        experiment.name,
        metric.rsplit("/", 1)[-1],
        cell,
        arm,
        "single_task",
        n,
        result.tasks,
        result.value,
        result.low,
        result.high,
        verdict,
    )


def _crossovers(
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


def analyse(
    experiment: Experiment,
    metrics: list[str],
    resamples: int = RESAMPLES,
    seed: int = 0,
    reference: str | None = None,
) -> Analysis:
    analysis = Analysis(experiment, metrics)
    few: set[str] = set()
    delta_m_done: set[tuple[str, str]] = set()
    for metric in metrics:
        if metric not in experiment.values:
            continue
        analysis.cells += _cell_stats(experiment, metric, resamples, seed)
        curve_pairs: set[tuple[str, str]] = set()
        # Δm spans the tasks, so test/car/auroc and test/mean/auroc give the same one: once.
        family = (metric.split("/", 1)[0], metric.rsplit("/", 1)[-1])
        for cell in experiment.cells(metric):
            arms = experiment.values[metric][cell]
            for a, b in comparison_pairs(list(arms), reference):
                comparison = _compare(experiment, metric, cell, a, b, resamples, seed)
                analysis.comparisons.append(comparison)
                curve_pairs.add((a, b))
                if b == "scratch" and comparison.n > 0:
                    analysis.transfer.append(_transfer_gain(comparison, experiment))
                if (
                    b == "single_task"
                    and family not in delta_m_done
                    and (dm := _delta_m(experiment, metric, cell, a, resamples, seed))
                ):
                    analysis.delta_m.append(dm)
        delta_m_done.add(family)
        if experiment.x_axis is not None:
            analysis.crossovers += _crossovers(experiment, metric, curve_pairs, resamples, seed)
    for stat in analysis.cells:
        if stat.n < MIN_SEEDS:
            few.add(f"{stat.cell.label(experiment.x_axis)} {stat.arm}: {stat.n} seed(s)")
    analysis.warnings += [
        f"fewer than {MIN_SEEDS} seeds, no interval to trust: {text}"
        for text in sorted(few, key=natural_key)
    ]
    analysis.warnings += [
        f"no conclusion, the bootstrap or t CI of the difference contains 0: {c.metric} "
        f"{c.cell.label(experiment.x_axis)} {c.arm_a} − {c.arm_b} = {signed(c.diff)}, "
        f"bootstrap [{signed(c.low)}, {signed(c.high)}], t [{signed(c.t_low)}, {signed(c.t_high)}]"
        for c in analysis.comparisons
        if c.verdict.startswith("no conclusion")
    ]
    analysis.warnings += [
        f"replicated runs disagree (the last one read is used): {text}"
        for text in experiment.disagreeing
    ]
    return analysis
