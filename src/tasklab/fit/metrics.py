"""torchmetrics per task and split, fed only with labelled entries.

Entries are selected with the mask before ``update`` rather than passed with an
``ignore_index``, so the same code serves binary, multiclass and regression targets and a
missing label can never be scored as a class.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryF1Score,
    MulticlassAccuracy,
    MulticlassF1Score,
)

from tasklab.data.tasks import TaskSpec


def metric_collection(spec: TaskSpec) -> MetricCollection:
    if spec.kind == "binary":
        return MetricCollection(
            {"auroc": BinaryAUROC(), "accuracy": BinaryAccuracy(), "f1": BinaryF1Score()}
        )
    if spec.kind == "multiclass":
        c = spec.num_classes
        return MetricCollection(
            {
                "accuracy": MulticlassAccuracy(num_classes=c, average="micro"),
                "f1": MulticlassF1Score(num_classes=c, average="macro"),
            }
        )
    return MetricCollection({"mae": MeanAbsoluteError(), "mse": MeanSquaredError()})


def prediction(spec: TaskSpec, output: torch.Tensor) -> torch.Tensor:
    """What a metric consumes: probabilities for binary, logits for multiclass, values else."""
    return torch.sigmoid(output) if spec.kind == "binary" else output


def metric_target(spec: TaskSpec, target: torch.Tensor) -> torch.Tensor:
    return target.long() if spec.kind in ("binary", "multiclass") else target


class TaskMetrics(nn.Module):
    """One ``MetricCollection`` per task for one split, with a mean over tasks."""

    def __init__(self, tasks: Sequence[TaskSpec]) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.per_task = nn.ModuleDict({t.name: metric_collection(t) for t in tasks})
        self.seen = {t.name: 0 for t in tasks}

    def update(self, outputs: dict[str, torch.Tensor], targets: torch.Tensor, mask: torch.Tensor):
        for column, spec in enumerate(self.tasks):
            known = mask[:, column]
            n_known = int(known.sum())
            if n_known == 0:
                continue
            self.seen[spec.name] += n_known
            self.per_task[spec.name].update(
                prediction(spec, outputs[spec.name][known].detach()),
                metric_target(spec, targets[known, column]),
            )

    def compute(self, split: str) -> dict[str, float]:
        """``{split}/{task}/{metric}`` for tasks with labels, plus ``{split}/mean/{metric}``."""
        values: dict[str, float] = {}
        collected: dict[str, list[float]] = {}
        for spec in self.tasks:
            if self.seen[spec.name] == 0:
                continue
            for metric, value in self.per_task[spec.name].compute().items():
                values[f"{split}/{spec.name}/{metric}"] = float(value)
                collected.setdefault(metric, []).append(float(value))
        for metric, vals in collected.items():
            values[f"{split}/mean/{metric}"] = sum(vals) / len(vals)
        return values

    def reset(self) -> None:
        for collection in self.per_task.values():
            collection.reset()
        self.seen = {t.name: 0 for t in self.tasks}


def with_task_means(values: dict[str, float]) -> dict[str, float]:
    """Per-task ``{split}/{task}/{metric}`` values plus freshly computed ``{split}/mean/{metric}``.

    Used to merge fits that each saw only some tasks (single-task arms): their own means are
    dropped and the mean over all tasks is recomputed. Keys of another shape (a pipeline
    stage's ``x_to_z/test/bone_0/mae``) pass through unchanged.
    """
    plain = {k: v for k, v in values.items() if k.count("/") == 2}
    other = {k: v for k, v in values.items() if k not in plain}
    per_task = {k: v for k, v in plain.items() if k.split("/")[1] != "mean"}
    groups: dict[str, list[float]] = {}
    for key, value in per_task.items():
        split, _, metric = key.split("/", 2)
        groups.setdefault(f"{split}/mean/{metric}", []).append(value)
    return other | per_task | {key: sum(vals) / len(vals) for key, vals in groups.items()}
