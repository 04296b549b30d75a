"""Generated sweeps whose truth is known, to calibrate verdicts: two arms, runs that keep
predictions on one shared test split (used by the tests and ``scripts/calibrate_verdicts.py``).

An arm's score for test example i under seed s is ``effect·y_i + shared·u_arm,i + noise``:
``u_arm`` is what the arm learnt that does not depend on the seed (the same features every
seed finds), so on a noise task (``effect = 0``, labels independent of everything) each arm
has a fixed, lucky or unlucky, AUROC on *this* test split, repeated by every seed. Seeds then
agree closely, and an interval over seeds alone reports the test set's luck as an effect.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tasklab.predictions import TaskPredictions, save_predictions
from tasklab.report.example_metrics import metric_value
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
                    overrides=[f"regime={arm}", f"seed={seed}"],
                    metrics=recorded,
                ),
            )
