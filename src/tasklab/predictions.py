"""Per-example predictions of a run, kept so that comparisons can resample test examples.

A metric on a finite test split carries sampling noise of its own, shared by every seed that is
scored on the same rows; an interval over seeds alone cannot see it. Each fit therefore keeps,
per split and task, what its metric consumed for every labelled example, keyed by the example's
index in the split: the probability of the positive class (binary), the predicted class
(multiclass: accuracy and macro F1 need nothing more) or the predicted value (regression), and
the target. float32 scores keep AUROC's ranking exact (float16 would tie nearby scores and move
AUROC in the fourth decimal); a run on 4,000 test rows and four tasks stores about 100 kB,
compressed, in ``predictions.npz`` beside ``result.json``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasklab.metric_keys import split_task_metric
from tasklab.results import write_bytes_atomic

PREDICTIONS_FILE = "predictions.npz"


@dataclass(frozen=True)
class TaskPredictions:
    """One task on one split: example indices, targets and what the metric consumes."""

    kind: str  # binary | multiclass | regression
    index: np.ndarray  # int64, the example's index in the split
    target: np.ndarray
    output: np.ndarray  # probability, predicted class, or predicted value
    num_classes: int = 2


# split -> task -> predictions
RunPredictions = dict[str, dict[str, TaskPredictions]]


def save_predictions(folder: Path, predictions: RunPredictions) -> Path | None:
    """Write ``predictions.npz`` atomically; nothing (and None) when there is nothing to keep."""
    arrays: dict[str, np.ndarray] = {}
    for split, tasks in predictions.items():
        for task, p in tasks.items():
            prefix = f"{split}/{task}/"
            arrays[prefix + "index"] = p.index
            arrays[prefix + "target"] = p.target
            arrays[prefix + "output"] = p.output
            arrays[prefix + "kind"] = np.asarray(p.kind)
            arrays[prefix + "num_classes"] = np.asarray(p.num_classes)
    if not arrays:
        return None
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path = Path(folder) / PREDICTIONS_FILE
    write_bytes_atomic(path, buffer.getvalue())
    return path


def load_predictions(path: Path) -> RunPredictions:
    """The predictions a run stored; raises OSError/ValueError on a missing or damaged file."""
    with np.load(path, allow_pickle=False) as stored:
        keys = list(stored.files)
        found: RunPredictions = {}
        for key in keys:
            if not key.endswith("/index"):
                continue
            # the split may carry a stage's prefix (``source/test``, ``x_to_z/test``)
            split, task = key[: -len("/index")].rsplit("/", 1)
            prefix = f"{split}/{task}/"
            found.setdefault(split, {})[task] = TaskPredictions(
                str(stored[prefix + "kind"]),
                stored[prefix + "index"],
                stored[prefix + "target"],
                stored[prefix + "output"],
                int(stored[prefix + "num_classes"]),
            )
    return found


def of_tasks(predictions: RunPredictions, keep: Callable[[str], bool]) -> RunPredictions:
    """The predictions of the tasks ``keep`` accepts, split by split."""
    return {split: {t: p for t, p in by.items() if keep(t)} for split, by in predictions.items()}


def prefixed(predictions: RunPredictions, prefix: str) -> RunPredictions:
    """The same predictions filed under ``prefix/split`` (a stage's metrics' prefix)."""
    return {f"{prefix}/{split}": tasks for split, tasks in predictions.items()}


def matching_predictions(
    fits_predictions: Sequence[RunPredictions],
    metrics: Mapping[str, float],
    reproduces: Callable[[TaskPredictions, str, float], bool],
) -> tuple[RunPredictions, list[str]]:
    """Per split and task, the predictions of the latest fit that reproduce every recorded
    metric of that task (``reproduces(predictions, metric name, recorded value)``).

    A run's record merges its fits (a single-task arm's one per task, a pipeline's stages and
    composition), so the fit behind ``test/<task>/…`` is found by its numbers rather than by
    the regime's bookkeeping; a task that no fit reproduces keeps no predictions and is named
    in the second value, so a comparison never resamples predictions that are not the ones
    it reports.
    """
    chosen: RunPredictions = {}
    unmatched: list[str] = []
    by_split: dict[str, dict[str, dict[str, float]]] = {}
    for key, value in metrics.items():
        split, task, name = split_task_metric(key) or ("", "", "")
        if split and task != "mean":
            by_split.setdefault(split, {}).setdefault(task, {})[name] = value
    for split, recorded in by_split.items():
        for task, values in recorded.items():
            for found in reversed(fits_predictions):
                p = found.get(split, {}).get(task)
                if p is not None and all(reproduces(p, m, v) for m, v in values.items()):
                    chosen.setdefault(split, {})[task] = p
                    break
            else:
                unmatched.append(f"{split}/{task}")
    return chosen, unmatched
