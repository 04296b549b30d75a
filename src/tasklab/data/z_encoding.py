"""What stage 2 of a pipeline reads for each intermediate target z, in training and at test.

Stage 2 trains on the true z and is composed at test time with stage 1's prediction of it; the
two must be the same kind of value, or stage 2 meets inputs it never saw. Per z kind:

| z kind | trained on (true z) | composed with (stage 1's output) |
| --- | --- | --- |
| regression | the value | the predicted value |
| binary | 0 or 1 | the probability, sigmoid(logit) |
| multiclass (C classes) | one-hot, C columns | the softmax probabilities, C columns |

A probability is the expectation of the 0/1 (or one-hot) label, so stage 2 sees values in the
range it was trained on, and a confident stage 1 gives exactly the training inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch.nn import functional as F

from tasklab.data.tasks import TaskSpec


def z_width(specs: Sequence[TaskSpec]) -> int:
    """Columns of stage 2's z input."""
    return sum(s.num_classes if s.kind == "multiclass" else 1 for s in specs)


def z_from_labels(specs: Sequence[TaskSpec], z: torch.Tensor) -> torch.Tensor:
    """(B, len(specs)) true z (NaN-free) → (B, z_width) stage-2 input."""
    columns = []
    for k, spec in enumerate(specs):
        if spec.kind == "multiclass":
            classes = z[:, k].long().clamp(0, spec.num_classes - 1)
            columns.append(F.one_hot(classes, spec.num_classes).to(z.dtype))
        else:
            columns.append(z[:, k : k + 1])
    return torch.cat(columns, dim=1)


def z_from_outputs(specs: Sequence[TaskSpec], outputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Stage 1's head outputs → (B, z_width) stage-2 input (differentiable, for fine-tuning)."""
    columns = []
    for spec in specs:
        out = outputs[spec.name]
        if spec.kind == "multiclass":
            columns.append(torch.softmax(out, dim=-1))
        elif spec.kind == "binary":
            columns.append(torch.sigmoid(out).reshape(-1, 1))
        else:
            columns.append(out.reshape(-1, 1))
    return torch.cat(columns, dim=1)
