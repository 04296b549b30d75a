"""The interface every procedural world offers, and the index streams it is read from."""

from __future__ import annotations

from typing import Protocol

import torch

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

    def render(self, stream: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs (B, *input_shape) and labels (B, len(task_names)) on ``index``'s device."""
        ...


def as_model_input(x: torch.Tensor) -> torch.Tensor:
    """uint8 images become floats in [0, 1]; float inputs pass through unchanged."""
    return x.to(torch.float32) / 255.0 if x.dtype == torch.uint8 else x
