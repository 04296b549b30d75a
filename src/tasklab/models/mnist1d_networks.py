"""The MNIST-1D paper's own networks (Greydanus & Kobak 2024, ``notebooks/models.py`` of its
repository), as trunks, so that its table can be reproduced with the networks it reports.

Each is the paper's network without its last linear layer, which tasklab's head replaces one
for one (a linear map from the same features to the 10 digits). Logistic regression is
``model=linear``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tasklab.models.backbones import TrunkShape
from tasklab.registry import BACKBONES

_HIDDEN, _CHANNELS = 100, 25


class _ResidualMlp(nn.Module):
    """``h = relu(W1 x); h = h + relu(W2 h)``: the paper's MLP up to its output layer."""

    def __init__(self, inputs: int) -> None:
        super().__init__()
        self.linear1 = nn.Linear(inputs, _HIDDEN)
        self.linear2 = nn.Linear(_HIDDEN, _HIDDEN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear1(x.flatten(1)).relu()
        return h + self.linear2(h).relu()


@BACKBONES.register("mnist1d_mlp", input_ranks=(1,), advice="it reads signals of shape (L,)")
def mnist1d_mlp(input_shape: tuple[int, ...], shape: TrunkShape) -> tuple[nn.Sequential, int]:
    """The paper's MLP: 100 hidden units, the second layer residual. Its sizes are fixed."""
    del shape
    return nn.Sequential(_ResidualMlp(math.prod(input_shape))), _HIDDEN


@BACKBONES.register("mnist1d_cnn", input_ranks=(1,), advice="it reads signals of shape (L,)")
def mnist1d_cnn(input_shape: tuple[int, ...], shape: TrunkShape) -> tuple[nn.Sequential, int]:
    """The paper's CNN: three convolutions of 25 channels (kernel 5, then 3, 3; stride 2,
    padding 1; ReLU), no pooling, flattened: 125 features for signals of length 40."""
    del shape
    length = input_shape[0]
    blocks: list[nn.Module] = [nn.Unflatten(1, (1, length))]
    channels = 1
    for kernel in (5, 3, 3):
        blocks.append(nn.Sequential(nn.Conv1d(channels, _CHANNELS, kernel, 2, 1), nn.ReLU()))
        channels, length = _CHANNELS, (length + 2 - kernel) // 2 + 1
    blocks.append(nn.Flatten())
    return nn.Sequential(*blocks), _CHANNELS * length
