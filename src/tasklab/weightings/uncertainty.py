"""``uncertainty`` (Kendall, Gal and Cipolla 2018): a learned log-variance s per task; the loss
is c·exp(−s)·L + s/2 with c = 1/2 for regression and 1 for classification, so a task whose
loss stays large is down-weighted, at a price of s/2."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from tasklab.data.tasks import TaskSpec
from tasklab.registry import WEIGHTINGS
from tasklab.settings import setting
from tasklab.weightings import LossWeighting, WeightingSettings


@dataclass
class UncertaintySettings(WeightingSettings):
    name: str = "uncertainty"
    lr_scale: float = setting(
        1.0, above=0, arm=True, doc="the log-variances train at optim.lr × this"
    )


@WEIGHTINGS.register("uncertainty", settings=UncertaintySettings)
class UncertaintyWeighting(LossWeighting):
    def __init__(self, tasks: Sequence[TaskSpec], lr_scale: float = 1.0) -> None:
        super().__init__(tasks)
        self.lr_scale = lr_scale
        self.log_vars = nn.Parameter(torch.zeros(len(self.names)))
        self.factor = [0.5 if t.kind == "regression" else 1.0 for t in tasks]

    def combine(self, sums, counts, batch_size):
        total = self.log_vars.new_zeros(())
        weights = {}
        for k, name in enumerate(self.names):
            if float(counts[name]) == 0:
                continue
            weight = self.factor[k] * torch.exp(-self.log_vars[k])
            total = total + weight * sums[name] / counts[name] + 0.5 * self.log_vars[k]
            weights[name] = weight.detach()
        return total, weights
