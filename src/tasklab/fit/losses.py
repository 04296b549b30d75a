"""The masked multi-task loss.

    L = (1/m) Σ_i Σ_{j labelled for i} ℓ_j(ŷ_ij, y_ij)

``m`` is the number of examples in the batch (every row of a training batch has at least one
known label); ℓ_j is the logistic loss for binary tasks, cross-entropy for multiclass and squared
error for regression, divided by the task's ``scale``² so that targets in other units weigh
alike. Unknown entries are *selected out* (``pred[mask]``), never multiplied by zero, so they
contribute exactly zero loss and zero gradient and a NaN or garbage target in them cannot
leak. A task with no label in the batch adds nothing and produces no NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from tasklab.data.tasks import TaskSpec


def task_loss(
    spec: TaskSpec, output: torch.Tensor, target: torch.Tensor, reduction: str = "sum"
) -> torch.Tensor:
    """ℓ_j of one task: summed over the given entries (``"sum"``: 0 when there are none) or
    per entry (``"none"``, any leading shape; the stacked fit's (K, B)). The one definition
    of each task kind's loss, shared by the single and the stacked fit."""
    if spec.kind == "binary":
        return F.binary_cross_entropy_with_logits(output, target, reduction=reduction)
    if spec.kind == "multiclass":
        if reduction == "sum" or output.dim() == 2:
            return F.cross_entropy(output, target.long(), reduction=reduction)
        classes = output.shape[-1]
        flat = F.cross_entropy(
            output.reshape(-1, classes), target.long().reshape(-1), reduction="none"
        )
        return flat.reshape(target.shape)
    return F.mse_loss(output / spec.scale, target / spec.scale, reduction=reduction)


def task_loss_sum(spec: TaskSpec, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Summed loss of one task over already-selected (labelled) entries; 0 when there are none."""
    return task_loss(spec, output, target, "sum")


def masked_multitask_loss(
    tasks: Sequence[TaskSpec],
    outputs: dict[str, torch.Tensor],
    targets: torch.Tensor,
    mask: torch.Tensor,
    weights: dict[str, float] | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Total loss, per-task summed losses and per-task label counts.

    ``targets`` and ``mask`` are (B, T) with columns in the order of ``tasks``. ``weights``
    scale each task's sum (default 1: the plain masked loss above).
    """
    m = targets.shape[0]
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, torch.Tensor] = {}
    total = outputs[tasks[0].name].new_zeros(())
    for column, spec in enumerate(tasks):
        known = mask[:, column]
        loss_sum = task_loss_sum(spec, outputs[spec.name][known], targets[known, column])
        sums[spec.name], counts[spec.name] = loss_sum, known.sum(dtype=loss_sum.dtype)
        total = total + (1.0 if weights is None else weights[spec.name]) * loss_sum
    return total / max(m, 1), sums, counts
