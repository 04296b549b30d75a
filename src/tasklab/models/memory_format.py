"""The memory layout a fit trains its network in.

On a CPU, 2-D convolutions run ~1.4× faster on channels-last weights (NHWC: oneDNN's native
layout; measured through tasklab's own fit of the driving CNN, ``scripts/bench_throughput.py``),
and a conv given channels-last weights returns channels-last activations, so the input batches
need no conversion. Values agree with the default layout up to float rounding, which is why a
change of layout is a change of ``TRAINING_VERSION``. On a GPU the layout is left as built:
not measured there.
"""

from __future__ import annotations

import torch
from torch import nn


def prefers_channels_last(net: nn.Module, device: torch.device) -> bool:
    return device.type == "cpu" and any(isinstance(m, nn.Conv2d) for m in net.modules())


def train_in_preferred_layout(net: nn.Module, device: torch.device) -> None:
    """Converts ``net``'s 4-D weights in place (the same Parameter objects: an optimiser that
    holds them keeps working)."""
    if prefers_channels_last(net, device):
        net.to(memory_format=torch.channels_last)
