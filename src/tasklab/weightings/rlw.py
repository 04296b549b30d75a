"""``rlw`` (random loss weighting, Lin et al. 2022, "Reasonable Effectiveness of Random
Weighting", Algorithm 2): each step weighs the present tasks' mean losses by the softmax of
standard normal draws — a litmus test: a method that does not beat it has not shown that its
weights matter.

TorchJD's ``torchjd.scalarization.Random`` draws from the global generator; here the draws
come from the run's seed and the step (a test checks both give the same weights from the same
seed), so fits reproduce and resume exactly, and only present tasks are drawn for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tasklab.data.tasks import TaskSpec
from tasklab.registry import WEIGHTINGS
from tasklab.weightings import LossWeighting, WeightingSettings, step_seed


@dataclass
class RlwSettings(WeightingSettings):
    name: str = "rlw"


@WEIGHTINGS.register("rlw", settings=RlwSettings)
class RandomLossWeighting(LossWeighting):
    """RLW: weights softmax(N(0, 1) draws) over the present tasks, new each step."""

    def __init__(self, tasks: Sequence[TaskSpec]) -> None:
        super().__init__(tasks)
        self.steps = 0
        self.base_seed = torch.initial_seed()  # the run's seed, set before the network

    def get_extra_state(self) -> dict:
        return {"steps": self.steps, "base_seed": self.base_seed}

    def set_extra_state(self, state: dict) -> None:
        self.steps, self.base_seed = int(state["steps"]), int(state["base_seed"])

    def draw(self, n_tasks: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(step_seed(self.base_seed, self.steps))
        return torch.softmax(torch.randn(n_tasks, generator=generator), dim=0)

    def combine(self, sums, counts, batch_size):
        present = self.present(counts)
        drawn = self.draw(len(present)).to(next(iter(sums.values())).device)
        self.steps += 1
        total = next(iter(sums.values())).new_zeros(())
        weights = {}
        for weight, name in zip(drawn, present, strict=True):
            total = total + weight * sums[name] / counts[name]
            weights[name] = weight
        return total, weights
