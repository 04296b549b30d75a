"""Generated sweeps whose truth is known, to calibrate verdicts: two arms, runs that keep
predictions on one shared test split (used by the tests and ``scripts/calibrate_verdicts.py``).

An arm's score for test example i under seed s is ``effect·y_i + shared·u_arm,i + noise``:
``u_arm`` is what the arm learnt that does not depend on the seed (the same features every
seed finds), so on a noise task (``effect = 0``, labels independent of everything) each arm
has a fixed, lucky or unlucky, AUROC on *this* test split, repeated by every seed. Seeds then
agree closely, and an interval over seeds alone reports the test set's luck as an effect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from tasklab.prediction_metrics import metric_value
from tasklab.predictions import TaskPredictions, save_predictions
from tasklab.report.resampling import ExampleResampler
from tasklab.report.stats.intervals import estimate
from tasklab.results import RunResult, write_result

ARMS = ("multi_task", "single_task")


def write_two_arm_sweep(
    root: Path,
    name: str,
    rng: np.random.Generator,
    seeds: int = 5,
    n_test: int = 359,
    effect: float = 0.0,
    shared: float = 1.0,
    noise: float = 0.3,
    tasks: tuple[str, ...] = ("noise",),
    effects: dict[str, float] | None = None,
    metrics: tuple[str, ...] = ("auroc",),
    split: str = "test",
) -> None:
    """One experiment, two arms × ``seeds`` runs; ``effect`` (or per task ``effects``) is how
    strongly multi_task's score follows the label (negative: single_task's does). ``split``
    may carry a stage's prefix (``source/test``), as a transfer run's source tasks do."""
    labels = {t: rng.integers(0, 2, n_test).astype(np.int16) for t in tasks}
    learnt = {(arm, t): rng.standard_normal(n_test) for arm in ARMS for t in tasks}
    for arm in ARMS:
        for seed in range(seeds):
            predictions, recorded = {}, {}
            for t in tasks:
                gain = (effects or {}).get(t, effect)
                signal = max(gain, 0.0) if arm == "multi_task" else max(-gain, 0.0)
                score = (
                    signal * (2.0 * labels[t] - 1.0)
                    + shared * learnt[(arm, t)]
                    + noise * rng.standard_normal(n_test)
                )
                prob = (1 / (1 + np.exp(-score))).astype(np.float32)
                p = TaskPredictions("binary", np.arange(n_test), labels[t], prob)
                predictions[t] = p
                for metric in metrics:
                    recorded[f"{split}/{t}/{metric}"] = float(metric_value(p, metric)[0])
            for metric in metrics:
                per_task = [recorded[f"{split}/{t}/{metric}"] for t in tasks]
                recorded[f"{split}/mean/{metric}"] = float(np.mean(per_task))
            folder = root / name / f"{arm}-{seed}"
            save_predictions(folder, {split: predictions})
            write_result(
                folder,
                RunResult(
                    status="ok",
                    name=name,
                    regime=arm,
                    seed=seed,
                    arm=arm,
                    arm_axes=["regime"],
                    reference_arm="single_task",
                    reference_effect="delta_m",
                    overrides=[f"regime={arm}", f"seed={seed}"],
                    metrics=recorded,
                ),
            )


@dataclass(frozen=True)
class NoiseRegime:
    """A population of A/A experiments: two arms identical in distribution, so the true
    difference is 0 and every verdict is false. A seed's quality (how well it learns) varies
    with ``seed_sd``; ``shared`` is what an arm learns the same way every seed (on a finite
    test split, luck common to all its seeds); ``noise`` differs by seed and example."""

    name: str
    n_test: int
    seed_sd: float
    shared: float
    noise: float = 0.3
    signal: float = 1.0

    def true_auroc(self) -> float:
        """The arm's expected AUROC over seeds and test splits: the score gap between a
        positive and a negative is normal with mean 2·(signal + q) and variance
        2·(shared² + noise²), q ~ N(0, seed_sd²)."""
        spread = 2.0 * (self.shared**2 + self.noise**2) + 4.0 * self.seed_sd**2
        return float(stats.norm.cdf(2.0 * self.signal / math.sqrt(spread)))


# test-set noise dominant: 300 test rows, seeds that agree; seed noise dominant: 1,000 rows,
# seeds that differ (the share each source has of the variance is printed by the script)
REGIMES = (
    NoiseRegime("test noise dominant", n_test=300, seed_sd=0.01, shared=1.0),
    NoiseRegime("seed noise dominant", n_test=1000, seed_sd=0.1, shared=0.2, noise=1.0, signal=0.5),
)


@dataclass(frozen=True)
class Coverage:
    regime: str
    seeds: int
    experiments: int
    difference_covered: float  # share of intervals of A − B that hold 0
    false_verdicts: float  # share that exclude 0 (a verdict, on a family of one)
    arm_covered: float  # share of arm intervals that hold the arm's true AUROC
    test_share: float  # mean share of the difference's variance that the test split carries


def _auroc_runs(
    regime: NoiseRegime, seeds: int, rng: np.random.Generator, counts: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One arm's ``seeds`` runs: observed AUROC (seeds,) and under ``counts`` (seeds, R)."""
    learnt = regime.shared * rng.standard_normal(regime.n_test)
    sign = 2.0 * y - 1.0
    observed, resampled = [], []
    for _ in range(seeds):
        quality = regime.signal + regime.seed_sd * rng.standard_normal()
        score = quality * sign + learnt + regime.noise * rng.standard_normal(regime.n_test)
        p = TaskPredictions("binary", np.arange(regime.n_test), y, score.astype(np.float32))
        observed.append(float(metric_value(p, "auroc")[0]))
        resampled.append(metric_value(p, "auroc", counts))
    return np.asarray(observed), np.stack(resampled)


def measure_coverage(
    regime: NoiseRegime, seeds: int, experiments: int, resamples: int = 200, seed: int = 0
) -> Coverage:
    """Run ``experiments`` A/A experiments of ``seeds`` seeds through the interval every
    report prints (``intervals.estimate``) and count how often it holds the truth."""
    rng = np.random.default_rng([seed, seeds, regime.n_test])
    truth = regime.true_auroc()
    covered = arm_covered = 0
    test_share = 0.0
    for _ in range(experiments):
        y = rng.integers(0, 2, regime.n_test).astype(np.int16)
        # the example draws of this experiment's own test split
        counts = ExampleResampler(resamples, int(rng.integers(2**62))).counts(regime.n_test)
        a_observed, a_resampled = _auroc_runs(regime, seeds, rng, counts, y)
        b_observed, b_resampled = _auroc_runs(regime, seeds, rng, counts, y)
        difference = estimate(a_observed - b_observed, a_resampled - b_resampled)
        low, high = difference.interval()
        covered += low <= 0.0 <= high
        test_share += difference.test_var / difference.se**2
        arm_low, arm_high = estimate(a_observed, a_resampled).interval()
        arm_covered += arm_low <= truth <= arm_high
    return Coverage(
        regime.name,
        seeds,
        experiments,
        covered / experiments,
        1.0 - covered / experiments,
        arm_covered / experiments,
        test_share / experiments,
    )
