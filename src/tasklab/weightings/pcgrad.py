"""``pcgrad`` (Yu et al. 2020): each task's gradient on the shared trunk, where it conflicts
with another task's (negative dot product), loses its component along that gradient; the
trunk then steps along the sum. Heads get their own task's gradient as usual."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from tasklab.data.tasks import TaskSpec
from tasklab.registry import WEIGHTINGS
from tasklab.weightings import LossWeighting, WeightingSettings


@dataclass
class PCGradSettings(WeightingSettings):
    name: str = "pcgrad"


def project_conflicts(grads: list[torch.Tensor], seed: int) -> list[torch.Tensor]:
    """PCGrad's projection of flattened task gradients: each is projected off every other
    task's gradient it conflicts with, the others taken in a seeded random order."""
    generator = torch.Generator().manual_seed(seed)
    projected = []
    for i, grad in enumerate(grads):
        g = grad.clone()
        for j in torch.randperm(len(grads), generator=generator).tolist():
            if j == i:
                continue
            dot = torch.dot(g, grads[j])
            norm = torch.dot(grads[j], grads[j])
            if dot < 0 and norm > 0:
                g = g - dot / norm * grads[j]
        projected.append(g)
    return projected


@WEIGHTINGS.register("pcgrad", settings=PCGradSettings)
class PCGrad(LossWeighting):
    """PCGrad: conflicting task gradients projected off each other (replaces the backward pass)."""

    shared_gradients = True

    def __init__(self, tasks: Sequence[TaskSpec]) -> None:
        super().__init__(tasks)
        self.steps = 0

    def get_extra_state(self) -> dict:
        return {"steps": self.steps}  # seeds each step's projection order

    def set_extra_state(self, state: dict) -> None:
        self.steps = int(state["steps"])

    def combine(self, sums, counts, batch_size):
        total = next(iter(sums.values())).new_zeros(())
        weights = {}
        for name in self.present(counts):
            total = total + sums[name] / counts[name]
            weights[name] = total.new_ones(())
        return total, weights

    def backward(
        self,
        total: torch.Tensor,
        sums: dict[str, torch.Tensor],
        counts: dict[str, torch.Tensor],
        shared: list[nn.Parameter],
        backward,
    ) -> None:
        """``backward(total)`` fills every gradient; the shared parameters' are then replaced
        by the sum of the projected per-task gradients."""
        present = self.present(counts)
        shared = [p for p in shared if p.requires_grad]
        per_task = []
        for name in present:
            grads = torch.autograd.grad(
                sums[name] / counts[name], shared, retain_graph=True, allow_unused=True
            )
            per_task.append(
                torch.cat(
                    [
                        (g if g is not None else torch.zeros_like(p)).reshape(-1)
                        for g, p in zip(grads, shared, strict=True)
                    ]
                )
            )
        backward(total)
        self.steps += 1
        if len(per_task) < 2:
            return
        combined = torch.stack(project_conflicts(per_task, seed=self.steps)).sum(dim=0)
        offset = 0
        for param in shared:
            size = param.numel()
            param.grad = combined[offset : offset + size].view_as(param).clone()
            offset += size
