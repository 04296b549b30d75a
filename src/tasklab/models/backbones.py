"""Trunks that map an input to a feature vector; heads live in ``multihead``.

Each builder takes plain sizes (never a config) and returns (module, feature_dim).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import nn

BACKBONES: tuple[str, ...] = ("cnn", "mlp", "linear")


def cnn(input_shape: tuple[int, ...], width: int, depth: int) -> tuple[nn.Module, int]:
    """``depth`` conv blocks (3x3 conv, BatchNorm, ReLU, 2x2 max-pool), channels doubling from
    ``width``, then global average pooling: translation-tolerant detection of small objects."""
    if len(input_shape) != 3:
        raise ValueError(f"model.backbone=cnn needs image inputs (C, H, W), got {input_shape}")
    layers: list[nn.Module] = []
    channels = input_shape[0]
    for block in range(depth):
        out = width * 2 ** min(block, 2)
        layers += [
            nn.Conv2d(channels, out, 3, padding=1, bias=False),
            nn.BatchNorm2d(out),
            nn.ReLU(inplace=True),
        ]
        if block < depth - 1:
            layers.append(nn.MaxPool2d(2))
        channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), channels


def mlp(input_shape: tuple[int, ...], width: int, depth: int) -> tuple[nn.Module, int]:
    """``depth`` hidden layers of ``width`` units with ReLU, on the flattened input."""
    layers: list[nn.Module] = [nn.Flatten()]
    features = math.prod(input_shape)
    for _ in range(depth):
        layers += [nn.Linear(features, width), nn.ReLU(inplace=True)]
        features = width
    return nn.Sequential(*layers), features


def linear(input_shape: tuple[int, ...], width: int, depth: int) -> tuple[nn.Module, int]:
    """No hidden layer: heads read the flattened input directly (a logistic-regression floor)."""
    del width, depth
    return nn.Flatten(), math.prod(input_shape)


_BUILDERS: dict[str, Callable[[tuple[int, ...], int, int], tuple[nn.Module, int]]] = {
    "cnn": cnn,
    "mlp": mlp,
    "linear": linear,
}


def build_backbone(
    name: str, input_shape: tuple[int, ...], width: int, depth: int
) -> tuple[nn.Module, int]:
    if name not in _BUILDERS:
        raise ValueError(f"model.backbone={name!r} is unknown; allowed: {', '.join(BACKBONES)}")
    return _BUILDERS[name](input_shape, width, depth)
