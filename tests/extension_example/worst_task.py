"""A loss weighting of one's own: train on the worst task's mean loss, plus a share of the rest.

The README's "Extending tasklab" shows this file: the settings (the schema of
``mtl.weighting`` when ``mtl/weighting=worst_task``) and the class that combines task losses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tasklab.data.tasks import TaskSpec
from tasklab.registry import WEIGHTINGS
from tasklab.settings import setting
from tasklab.weightings import LossWeighting, WeightingSettings


@dataclass
class WorstTaskSettings(WeightingSettings):
    name: str = "worst_task"
    rest: float = setting(0.1, low=0, high=1, arm=True, doc="the other tasks' weight")


@WEIGHTINGS.register("worst_task", settings=WorstTaskSettings)
class WorstTask(LossWeighting):
    def __init__(self, tasks: Sequence[TaskSpec], rest: float = 0.1) -> None:
        super().__init__(tasks)
        self.rest = rest

    def combine(self, sums, counts, batch_size):
        means = {n: sums[n] / counts[n] for n in self.present(counts)}
        worst = max(means, key=lambda n: float(means[n].detach()))
        weights = {n: means[n].new_tensor(1.0 if n == worst else self.rest) for n in means}
        return sum(weights[n] * means[n] for n in means), weights
