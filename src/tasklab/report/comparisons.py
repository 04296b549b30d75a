"""Cells and paired comparisons, with intervals over seeds *and* test examples.

Every number a verdict rests on is computed here, once, for ``tasklab-compare`` and
``tasklab-summary`` alike. A comparison's interval is ``intervals.estimate``: Student's t with
Satterthwaite degrees of freedom on the seed spread plus the test split's shared variance
(from resampling its examples). Its verdict and the level of the interval printed are set
later, once the family of all comparisons in the report is known (``analysis``): the printed
interval is the Holm-adjusted one, and a verdict is given exactly when it excludes 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tasklab.report.grouping import Cell, Experiment
from tasklab.report.resampling import ExampleResampler, ResampledRun, pairable
from tasklab.report.stats.effects import lower_is_better
from tasklab.report.stats.intervals import Estimate, estimate
from tasklab.report.stats.significance import sign_flip_p, wins_interval
from tasklab.report.verdicts import UNDECIDED, Verdict

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


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """a − b on matched seeds. ``low``/``high``: the interval the verdict uses, at ``level``
    (95%, Holm-adjusted over the report's family: a verdict ⇔ it excludes 0); ``low_95``/
    ``high_95``: the same estimate's plain 95% interval; ``interval`` says over what.
    ``se`` splits into ``seed_se`` (spread of per-seed differences) and ``test_se`` (the test
    split's shared noise). ``prob_a_better``: the same interval's one-sided confidence that a
    is better; ``wins``: seeds in which a is better, with a
    Clopper–Pearson interval of that share. ``p_value``: the estimate's two-sided p,
    ``p_adjusted``: Holm over the family, ``p_sign_flip``: exact permutation test over seeds
    (beside it, not deciding). Direction follows the metric (lower is better for errors)."""

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
    low_95: float
    high_95: float
    se: float
    seed_se: float
    test_se: float
    prob_a_better: float
    wins: int
    wins_low: float
    wins_high: float
    p_value: float
    p_sign_flip: float
    seed_sd: float
    level: float = 0.95
    detectable: float = math.nan
    seeds_needed: int | None = None
    p_adjusted: float = math.nan
    verdict: Verdict = UNDECIDED
    per_task: str = ""  # for a mean over tasks: each task's difference and verdict

    @property
    def estimate(self) -> Estimate:
        return Estimate(self.diff, self.n, self.seed_sd, self.test_se**2)


def seed_runs(
    experiment: Experiment,
    resampler: ExampleResampler,
    metric: str,
    cell: Cell,
    arm: str,
    seeds: list[int],
) -> list[ResampledRun | None]:
    """Each seed's run of ``arm`` in ``cell`` under the example resamples (None where a run
    kept no predictions for ``metric``)."""
    dirs = experiment.run_dirs.get(cell, {}).get(arm, {})
    return [resampler.run_metric(dirs[s], metric) if s in dirs else None for s in seeds]


class ComparisonBuilder:
    """Computes cells and comparisons of one experiment, sharing one set of example draws."""

    def __init__(self, experiment: Experiment, resamples: int, seed: int) -> None:
        self.experiment, self.resamples, self.seed = experiment, resamples, seed
        self.resampler = ExampleResampler(resamples, seed)

    def _runs(self, metric: str, cell: Cell, arm: str, seeds: list[int]) -> list:
        return seed_runs(self.experiment, self.resampler, metric, cell, arm, seeds)

    def arm_estimate(self, metric: str, cell: Cell, arm: str) -> tuple[Estimate, str]:
        """One arm's mean over its seeds, with what its interval resamples."""
        by_seed = self.experiment.values[metric][cell][arm]
        seeds = sorted(by_seed)
        values = np.asarray([by_seed[s] for s in seeds], dtype=np.float64)
        runs = self._runs(metric, cell, arm, seeds)
        if len(seeds) >= 2 and pairable(runs, []):
            return estimate(values, np.stack([r.resampled for r in runs])), BOTH
        return estimate(values), SEEDS_ONLY

    def cell_stat(self, metric: str, cell: Cell, arm: str) -> CellStat:
        found, kind = self.arm_estimate(metric, cell, arm)
        low, high = found.interval()
        seeds = tuple(sorted(self.experiment.values[metric][cell][arm]))
        return CellStat(
            self.experiment.name,
            metric,
            cell,
            arm,
            found.n,
            found.mean,
            found.seed_sd,
            low,
            high,
            seeds,
            kind,
        )

    def difference(
        self, metric: str, cell: Cell, a: str, b: str
    ) -> tuple[Estimate, str, np.ndarray]:
        """a − b on the seeds both arms have, with what its interval resamples and the
        per-seed differences."""
        arms = self.experiment.values[metric][cell]
        seeds = sorted(set(arms[a]) & set(arms[b]))
        diffs = np.asarray([arms[a][s] - arms[b][s] for s in seeds], dtype=np.float64)
        runs_a, runs_b = self._runs(metric, cell, a, seeds), self._runs(metric, cell, b, seeds)
        if len(seeds) >= 2 and pairable(runs_a, runs_b):
            resampled = np.stack([_minus(ra, rb) for ra, rb in zip(runs_a, runs_b, strict=True)])
            return estimate(diffs, resampled), BOTH, diffs
        return estimate(diffs), SEEDS_ONLY, diffs

    def compare(self, metric: str, cell: Cell, a: str, b: str) -> Comparison:
        found, kind, diffs = self.difference(metric, cell, a, b)
        low, high = found.interval()
        sign = -1.0 if lower_is_better(metric) else 1.0
        n = found.n
        wins = int(np.count_nonzero(sign * diffs > 0))
        wins_low, wins_high = wins_interval(wins, n)
        positive = found.prob_positive()
        prob = positive if sign > 0 or math.isnan(positive) else 1.0 - positive
        seed_se = found.seed_sd / math.sqrt(n) if n >= 2 else math.nan
        return Comparison(
            experiment=self.experiment.name,
            metric=metric,
            cell=cell,
            arm_a=a,
            arm_b=b,
            n=n,
            diff=found.mean,
            low=low,  # the plain 95% interval until the family's correction widens it
            high=high,
            interval=kind,
            low_95=low,
            high_95=high,
            se=found.se,
            seed_se=seed_se,
            test_se=math.sqrt(found.test_var),
            prob_a_better=prob,
            wins=wins,
            wins_low=wins_low,
            wins_high=wins_high,
            p_value=found.p_value(),
            p_sign_flip=sign_flip_p(list(diffs)),
            seed_sd=found.seed_sd,
        )


def _minus(a: ResampledRun | None, b: ResampledRun | None) -> np.ndarray:
    assert a is not None and b is not None  # ``pairable`` checked it
    return a.resampled - b.resampled
