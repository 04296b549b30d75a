"""Gathering a split's labelled predictions during evaluation, for ``predictions.npz``.

The torch side of ``tasklab.predictions`` (which stays numpy-only, so that reading records
never imports torch): what is stored per task, and the collector a fit feeds batch by batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from tasklab.data.tasks import TaskSpec
from tasklab.predictions import TaskPredictions


def metric_input(spec: TaskSpec, output: torch.Tensor) -> torch.Tensor:
    """What is stored for one task's outputs: see the module docstring."""
    if spec.kind == "binary":
        return torch.sigmoid(output.float()).reshape(-1)
    if spec.kind == "multiclass":
        return output.argmax(dim=-1)
    return output.float().reshape(-1)


class PredictionCollector:
    """Gathers one split's labelled predictions batch by batch (on the CPU)."""

    def __init__(self, tasks: Sequence[TaskSpec]) -> None:
        self.tasks = list(tasks)
        self._parts: dict[str, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]] = {}

    def update(
        self,
        outputs: Mapping[str, torch.Tensor],
        targets: torch.Tensor,
        mask: torch.Tensor,
        index: torch.Tensor,
    ) -> None:
        for column, spec in enumerate(self.tasks):
            known = mask[:, column]
            if not bool(known.any()):
                continue
            stored = metric_input(spec, outputs[spec.name][known].detach())
            self._parts.setdefault(spec.name, []).append(
                (index[known].cpu(), targets[known, column].cpu(), stored.cpu())
            )

    def result(self) -> dict[str, TaskPredictions]:
        found = {}
        for spec in self.tasks:
            parts = self._parts.get(spec.name)
            if not parts:
                continue
            index, target, output = (torch.cat(p).numpy() for p in zip(*parts, strict=True))
            order = np.argsort(index, kind="stable")
            if spec.kind == "regression":
                target, output = target.astype(np.float32), output.astype(np.float32)
            else:
                target, output = (
                    target.astype(np.int16),
                    output.astype(np.float32 if spec.kind == "binary" else np.int16),
                )
            found[spec.name] = TaskPredictions(
                spec.kind,
                index.astype(np.int64)[order],
                target[order],
                output[order],
                spec.num_classes,
            )
        return found

    def reset(self) -> None:
        self._parts = {}
