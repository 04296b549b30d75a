"""A world of one's own: points on two noisy rings; is a point on the outer ring, above the axis.

The README's "Extending tasklab" shows this file: a world is a dataclass of settings (the
schema of ``data.rings``, with their checks) and a class that renders (stream, index) pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from tasklab.data.counter_rng import SampleRandomness
from tasklab.data.tasks import TaskSpec
from tasklab.registry import WORLDS
from tasklab.settings import setting


@dataclass
class RingsSettings:
    noise: float = setting(0.1, low=0, doc="the rings' radial noise")
    inner_radius: float = setting(0.5, above=0, high=1)


@WORLDS.register("rings", settings=RingsSettings)
@dataclass
class RingsWorld(RingsSettings):
    seed: int = 0

    @property
    def task_names(self) -> tuple[str, ...]:
        return ("outer", "upper")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (2,)

    @property
    def task_specs(self) -> dict[str, TaskSpec]:
        return {name: TaskSpec(name, "binary") for name in self.task_names}

    def render(self, stream: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rng = SampleRandomness(self.seed, stream, index.to(torch.int64))
        outer = rng.uniform(1, 0) < 0.5
        angle = 2 * math.pi * rng.uniform(2, 0)
        radius = torch.where(outer, 1.0, self.inner_radius) + self.noise * (rng.uniform(3, 0) - 0.5)
        x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
        return x, torch.stack([outer, x[:, 1] > 0], dim=1).to(torch.float32)
