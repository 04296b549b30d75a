"""A negative-control source: a world's own images, each with the labels of another image.

Pre-training on it sees exactly the inputs of the related source, but input and label are
independent, so whatever it teaches the trunk is not about the task; a transfer gain from it
would reveal a flaw in the comparison (more steps, a better initialisation scale), not transfer.
"""

from __future__ import annotations

import torch

from tasklab.data.counter_rng import hash_keys
from tasklab.data.tasks import TaskSpec
from tasklab.data.world import MAX_INDEX, World

_DONOR_STREAM = 0x534855  # keeps the donor draw apart from every other hash of the project


class ShuffledLabels:
    """Wraps ``world``: image ``i`` keeps its pixels but takes the labels of a random donor image
    of the same stream, so label frequencies are unchanged and the input-label link is gone."""

    def __init__(self, world: World, seed: int) -> None:
        self.world, self.seed = world, seed

    @property
    def task_names(self) -> tuple[str, ...]:
        return self.world.task_names

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.world.input_shape

    @property
    def task_specs(self) -> dict[str, TaskSpec]:
        return self.world.task_specs

    def donor(self, stream: int, index: torch.Tensor) -> torch.Tensor:
        # a user's file has a row count per stream, a procedural world rows without end
        stream_size = getattr(self.world, "stream_size", None)
        rows = stream_size(stream) if stream_size is not None else MAX_INDEX
        return hash_keys(self.seed, _DONOR_STREAM, stream, index.to(torch.int64)) % rows

    def render(self, stream: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, _ = self.world.render(stream, index)
        donor = self.donor(stream, index)
        labels_of = getattr(self.world, "labels", None)
        labels = labels_of(stream, donor) if labels_of else self.world.render(stream, donor)[1]
        return x, labels
