"""The masked multi-task loss for K stacked members at once.

Same formula, and the same per-task loss (``tasklab.fit.losses.task_loss``), as
``tasklab.fit.losses.masked_multitask_loss`` for each member, without a loop over
members: unknown entries are replaced before the loss (their targets are 0 already) and
dropped with ``torch.where``, which passes them a zero gradient, so a garbage target still
cannot leak. Each member divides by its own number of rows (batches of members whose
training sets differ in size are padded with unlabelled rows).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tasklab.data.tasks import TaskSpec
from tasklab.fit.losses import task_loss


def stacked_masked_loss(
    tasks: Sequence[TaskSpec],
    outputs: dict[str, torch.Tensor],
    targets: torch.Tensor,
    mask: torch.Tensor,
    rows: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per member: total loss (K,), per-task loss sums (K, T) and label counts (K, T).

    ``targets``/``mask`` are (K, B, T); ``rows`` (K,) the real rows of each member's batch.
    """
    sums, counts = [], []
    for column, spec in enumerate(tasks):
        known = mask[..., column]
        entry = task_loss(spec, outputs[spec.name], targets[..., column], "none")
        sums.append(torch.where(known, entry, torch.zeros_like(entry)).sum(dim=1))
        counts.append(known.sum(dim=1, dtype=entry.dtype))
    task_sums, task_counts = torch.stack(sums, dim=1), torch.stack(counts, dim=1)
    total = task_sums.sum(dim=1) / rows.clamp(min=1).to(task_sums.dtype)
    return total, task_sums, task_counts
