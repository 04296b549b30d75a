"""A vector world for fast multi-task studies with MLPs.

x ~ N(0, I_d); a fixed random layer gives shared features h = relu(W x); task j's label is
1[v_j · h > median] with a small fraction of labels flipped. The tasks share h (so a shared
trunk can help) but each needs its own read-out, and a linear model on x cannot express
relu features, so depth pays.

``task_groups`` > 1 makes unrelated tasks: task j reads the features h_g = relu(W_g x) of its
group g = j mod task_groups, each group with its own random layer, so tasks of different
groups share nothing a trunk could learn once (``task_groups = n_tasks``: every task on its
own; the negative control of multi-task learning). With one group the world is the original,
bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from tasklab.data.counter_rng import SampleRandomness, normal
from tasklab.data.tasks import TaskSpec, binary_specs
from tasklab.registry import WORLDS
from tasklab.settings import require, setting

_F_X, _F_FLIP = 1, 2
_WEIGHT_STREAM = 0x57454947


@dataclass
class VectorSettings:
    """The vector world's knobs (``data.vectors.*``)."""

    n_features: int = setting(32, low=1)
    n_hidden: int = setting(16, low=1)
    n_tasks: int = setting(4, low=1, high=1000)
    label_noise: float = setting(0.05, low=0, high=0.5, doc="0.5: labels carry no signal")
    task_groups: int = setting(
        1, low=1, doc="groups of related tasks (task j in group j mod this); n_tasks: unrelated"
    )

    def check(self, path: str) -> None:
        require(
            self.task_groups <= self.n_tasks,
            f"{path}.task_groups={self.task_groups} is more than n_tasks={self.n_tasks}: a "
            "group needs a task; use at most n_tasks (n_tasks: every task on its own)",
        )


@WORLDS.register("vectors", settings=VectorSettings)
@dataclass
class VectorWorld(VectorSettings):
    seed: int = 0
    _weights: tuple[torch.Tensor, torch.Tensor, torch.Tensor] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        rows = torch.arange(self.n_hidden).view(-1, 1)
        cols = torch.arange(self.n_features).view(1, -1)
        # one hidden layer per group, (groups, n_hidden, n_features); group 0's is the
        # original world's
        w = (
            torch.stack(
                [
                    normal(self.seed, _WEIGHT_STREAM, 0, g * 100_000_000 + rows * 10_000 + cols)
                    for g in range(self.task_groups)
                ]
            )
            / self.n_features**0.5
        )
        tasks = torch.arange(self.n_tasks).view(-1, 1)
        hidden = torch.arange(self.n_hidden).view(1, -1)
        v = normal(self.seed, _WEIGHT_STREAM, 1, tasks * 10_000 + hidden)
        # Centre each task at the median of its score so labels are balanced.
        probe_x = normal(
            self.seed, _WEIGHT_STREAM, 2, torch.arange(4096).view(-1, 1) * 10_000 + cols
        )
        probe = self._scores(probe_x, w, v)
        object.__setattr__(self, "_weights", (w, v, probe.median(dim=0).values))

    def _scores(self, x: torch.Tensor, w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """v_j · relu(W_g(j) x) for every task j, (B, n_tasks)."""
        if self.task_groups == 1:
            return torch.relu(x @ w[0].T) @ v.T  # the original world's arithmetic, bit for bit
        scores = x.new_empty(x.shape[0], self.n_tasks)
        for g in range(self.task_groups):
            members = torch.arange(g, self.n_tasks, self.task_groups, device=x.device)
            scores[:, members] = torch.relu(x @ w[g].T) @ v[members].T
        return scores

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(f"t{j}" for j in range(self.n_tasks))

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.n_features,)

    @property
    def task_specs(self) -> dict[str, TaskSpec]:
        return binary_specs(self.task_names)

    def render(self, stream: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (B, d) float32 and labels (B, n_tasks) float 0/1."""
        index = index.to(torch.int64)
        w, v, centre = (t.to(index.device) for t in self._weights)
        feature = torch.arange(self.n_features, device=index.device).view(1, -1)
        x = normal(self.seed, stream, index.view(-1, 1), _F_X, feature)
        scores = self._scores(x, w, v) - centre
        rng = SampleRandomness(self.seed, stream, index)
        flips = torch.stack(
            [rng.uniform(_F_FLIP, j) < self.label_noise for j in range(self.n_tasks)], dim=1
        )
        return x, ((scores > 0) ^ flips).to(torch.float32)
