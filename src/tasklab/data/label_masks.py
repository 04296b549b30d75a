"""Which training labels are known: per task, the first ``n_train`` indices, thinned by a rate.

A label is hidden ("?") by a hash of (seed, index, task), so the same examples stay labelled
whatever else changes, and a task's labelled set at a smaller ``n_train`` is a subset of the one
at a larger size (nested subsets for data-size studies).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tasklab.data.counter_rng import uniform

_MASK_STREAM = 0x4D41534B  # "MASK": keeps mask randomness apart from the world's own streams


@dataclass(frozen=True)
class TaskBudget:
    """How much of one task's training data is labelled."""

    n_train: int
    label_rate: float = 1.0


def label_mask(seed: int, index: torch.Tensor, task_id: int, budget: TaskBudget) -> torch.Tensor:
    """Bool (B,) mask: True where task ``task_id``'s training label at ``index`` is known."""
    keep = uniform(seed, _MASK_STREAM, index.to(torch.int64), task_id) < budget.label_rate
    return keep & (index < budget.n_train)
