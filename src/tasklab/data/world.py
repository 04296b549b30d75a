"""The interface every procedural world offers, and the index streams it is read from."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from tasklab.data.tasks import TaskSpec

VAL_STREAM, TEST_STREAM = 1, 2
_TRAIN_STREAM_BASE = 1000
MAX_INDEX = 10_000_000  # any training size up to this is addressable


def train_stream(seed: int) -> int:
    """Each run seed draws its training examples from its own stream of the world.

    Replicates then differ in the training sample as well as in initialisation, while the
    validation and test streams stay fixed for every seed and every training size.
    """
    return _TRAIN_STREAM_BASE + seed


class World(Protocol):
    """A pure function from (stream, indices) to a batch of inputs and all of its labels."""

    @property
    def task_names(self) -> tuple[str, ...]: ...

    @property
    def input_shape(self) -> tuple[int, ...]: ...

    @property
    def task_specs(self) -> dict[str, TaskSpec]:
        """Each task's kind (binary, multiclass, regression) and scale, by name."""
        ...

    def render(self, stream: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs (B, *input_shape) and labels (B, len(task_names)) on ``index``'s device."""
        ...


@runtime_checkable
class FiniteWorld(World, Protocol):
    """A world read from rows that run out (a user's files), not generated.

    Its splits have sizes, so sizes given as "all rows" resolve to them and evaluation never
    asks for more rows than a split holds; and what it reads can change between runs, so its
    rendered evaluation data are never shared from one run to the next. Any world with these
    members is treated so; a procedural world has none of them."""

    @property
    def intermediate_names(self) -> tuple[str, ...]:
        """Columns that are a pipeline's intermediate z, never a default target."""
        ...

    def split_size(self, split: str) -> int:
        """Rows of ``"train"``, ``"val"`` or ``"test"``."""
        ...


@runtime_checkable
class StagedWorld(World, Protocol):
    """A world with an intermediate representation z between input x and target y.

    A pipeline learns x → z (``intermediate_tasks``) and then y (``target_task``) from what
    ``stage2_input`` makes of the input and z: z itself (bone measurements → age), or the part
    of x that z points at (a face's location → the crop that is identified).
    """

    @property
    def intermediate_tasks(self) -> tuple[str, ...]: ...

    @property
    def target_task(self) -> str: ...

    @property
    def stage2_input_shape(self) -> tuple[int, ...]: ...

    def stage2_input(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Stage 2's input (B, *stage2_input_shape) from model inputs x and z (B, len(z));
        differentiable in both, so a composed pipeline can be fine-tuned end to end."""
        ...


def as_model_input(x: torch.Tensor) -> torch.Tensor:
    """uint8 images become floats in [0, 1]; float inputs pass through unchanged."""
    return x.to(torch.float32) / 255.0 if x.dtype == torch.uint8 else x
