"""Cells and paired comparisons, with intervals over seeds *and* test examples.

Every number a verdict rests on is computed here, once, for ``tasklab-compare`` and
``tasklab-summary`` alike. A comparison carries three intervals, each labelled: the two-level
bootstrap (seeds and test examples, ``resampling``) that decides, the seed-only bootstrap
beside it (how much of the uncertainty the test set carries is the gap between the two), and
Student's t over seeds (a guard at 3–5 seeds). Its verdict is set later, once the family of
all comparisons in the report is known (``analysis``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tasklab.report.bootstrap import bootstrap_interval
from tasklab.report.effects import lower_is_better
from tasklab.report.grouping import Cell, Experiment
from tasklab.report.resampling import ExampleResampler, ResampledRun, pairable, two_level_values
from tasklab.report.stats import mean_interval
from tasklab.report.verdicts import bootstrap_p, power, sign_flip_p, wins_interval

BOTH = "seeds+examples"
SEEDS_ONLY = "seeds only"


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
    interval: str = SEEDS_ONLY  # what the interval resamples


@dataclass(frozen=True)
class Comparison:
    """a − b on matched seeds. ``low``/``high``: the deciding interval (``interval`` says over
    what); ``seed_low``/``seed_high``: over seeds only; ``t_low``/``t_high``: Student's t.
    ``prob_a_better``: share of two-level resamples in which a is the better arm; ``wins``: seeds
    in which it is, with a Clopper–Pearson interval of that share. ``p_value``: two-level
    bootstrap p, ``p_adjusted``: Holm-adjusted over the report's family, ``p_sign_flip``: exact
    permutation test over seeds. Direction follows the metric (lower is better for errors)."""

    experiment: str
    metric: str
    cell: Cell
    arm_a: str
    arm_b: str
    n: int
    diff: float
    low: float
    high: float
    interval: str
    seed_low: float
    seed_high: float
    t_low: float
    t_high: float
    prob_a_better: float
    wins: int
    wins_low: float
    wins_high: float
    p_value: float
    p_sign_flip: float
    detectable: float
    seeds_needed: int | None
    test_noise_sd: float
    p_adjusted: float = math.nan
    verdict: str = ""
    per_task: str = ""  # for a mean over tasks: each task's difference and verdict


class ComparisonBuilder:
    """Computes cells and comparisons of one experiment, sharing one set of example draws."""

    def __init__(self, experiment: Experiment, resamples: int, seed: int) -> None:
        self.experiment, self.resamples, self.seed = experiment, resamples, seed
        self.resampler = ExampleResampler(resamples, seed)

    def _runs(self, metric: str, cell: Cell, arm: str, seeds: list[int]) -> list:
        dirs = self.experiment.run_dirs.get(cell, {}).get(arm, {})
        return [self.resampler.run_metric(dirs[s], metric) if s in dirs else None for s in seeds]

    def cell_stat(self, metric: str, cell: Cell, arm: str) -> CellStat:
        by_seed = self.experiment.values[metric][cell][arm]
        seeds = sorted(by_seed)
        values = [by_seed[s] for s in seeds]
        std = mean_interval(values).std
        runs = self._runs(metric, cell, arm, seeds)
        if len(seeds) >= 2 and pairable(runs, []):
            resampled = np.stack([r.resampled for r in runs])
            both = two_level_values(np.asarray(values), resampled, self.resamples, self.seed)
            low, high, kind = both.low, both.high, BOTH
        else:
            seed_only = bootstrap_interval(values, self.resamples, self.seed)
            low, high, kind = seed_only.low, seed_only.high, SEEDS_ONLY
        mean = float(np.mean(values)) if values else math.nan
        return CellStat(
            self.experiment.name,
            metric,
            cell,
            arm,
            len(seeds),
            mean,
            std,
            low,
            high,
            tuple(seeds),
            kind,
        )

    def compare(self, metric: str, cell: Cell, a: str, b: str) -> Comparison:
        arms = self.experiment.values[metric][cell]
        seeds = sorted(set(arms[a]) & set(arms[b]))
        diffs = np.asarray([arms[a][s] - arms[b][s] for s in seeds], dtype=np.float64)
        t = mean_interval([float(d) for d in diffs])
        seed_only = two_level_values(diffs, None, self.resamples, self.seed)
        runs_a, runs_b = self._runs(metric, cell, a, seeds), self._runs(metric, cell, b, seeds)
        if len(seeds) >= 2 and pairable(runs_a, runs_b):
            resampled = np.stack([_minus(ra, rb) for ra, rb in zip(runs_a, runs_b, strict=True)])
            both, kind = two_level_values(diffs, resampled, self.resamples, self.seed), BOTH
        else:
            both, kind = seed_only, SEEDS_ONLY
        sign = -1.0 if lower_is_better(metric) else 1.0
        n = len(seeds)
        wins = int(np.count_nonzero(sign * diffs > 0))
        wins_low, wins_high = wins_interval(wins, n)
        samples = both.samples
        prob = (
            float(np.mean(sign * samples > 0) + 0.5 * np.mean(samples == 0))
            if samples.size
            else math.nan
        )
        total_se = float(np.std(samples, ddof=1)) if samples.size > 1 else math.nan
        found = power(float(diffs.mean()) if n else math.nan, t.std, n, total_se)
        return Comparison(
            self.experiment.name,
            metric,
            cell,
            a,
            b,
            n,
            float(diffs.mean()) if n else math.nan,
            both.low,
            both.high,
            kind,
            seed_only.low,
            seed_only.high,
            t.low,
            t.high,
            prob,
            wins,
            wins_low,
            wins_high,
            bootstrap_p(samples),
            sign_flip_p(list(diffs)),
            found.detectable,
            found.seeds_needed,
            found.test_noise_sd,
        )


def _minus(a: ResampledRun | None, b: ResampledRun | None) -> np.ndarray:
    assert a is not None and b is not None  # ``pairable`` checked it
    return a.resampled - b.resampled
