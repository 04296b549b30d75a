"""Trunks that map an input to a feature vector; heads live in ``multihead``.

Each builder takes plain sizes (never a config) and returns (module, feature_dim). A trunk is
an ``nn.Sequential`` of blocks, each a child holding parameters, so that transfer can freeze
"the first k blocks" (see ``trunk_blocks``) without knowing which backbone it is.

A backbone registers itself with ``@BACKBONES.register(name, ...)``, declaring the input
ranks it reads (``input_ranks``; ``advice`` says what to use for other inputs) and whether its
trunk has parameters (``trunk_parameters``: gradient weightings need a shared trunk).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from tasklab.models.checkpoint_weights import is_hub, load_into_trunk, mapped, read_state
from tasklab.registry import BACKBONES

POOLS: tuple[str, ...] = ("avg", "grid")
_GRID = 4  # cells per side kept by pool=grid


@dataclass(frozen=True)
class TrunkShape:
    """What a trunk is built from: sizes, a standard network's name and the weights it starts
    from, so a config never reaches this module."""

    width: int = 16
    depth: int = 3
    pool: str = "avg"
    fc_width: int = 0
    arch: str = ""  # model=torchvision / timm: the library's model name
    weights: str = ""  # a checkpoint file, or torchvision:<NAME> / timm:pretrained
    weights_prefix: tuple[tuple[str, str], ...] = ()  # checkpoint key prefix → trunk's


@BACKBONES.register("cnn", input_ranks=(3,), advice="use model=mlp for vectors, cnn1d for signals")
def cnn(input_shape: tuple[int, ...], shape: TrunkShape) -> tuple[nn.Sequential, int]:
    """``depth`` conv blocks (3x3 conv, BatchNorm, ReLU, 2x2 max-pool), channels doubling from
    ``width``, then pooling and an optional fully connected block.

    ``pool=avg`` (global average) gives translation-tolerant detection of small objects but
    forgets where they are; ``pool=grid`` keeps a 4x4 grid of cells, and with ``fc_width`` > 0
    a hidden layer can then compare positions (a spatial relation between two objects).
    """
    if len(input_shape) != 3:
        raise ValueError(f"model.backbone=cnn needs image inputs (C, H, W), got {input_shape}")
    return _conv_trunk([], input_shape[0], shape, dims=2)


@BACKBONES.register(
    "cnn1d", input_ranks=(1, 2), advice="use model=cnn for images, model=mlp for vectors"
)
def cnn1d(input_shape: tuple[int, ...], shape: TrunkShape) -> tuple[nn.Sequential, int]:
    """For signals and sequences, (L,) or (C, L): the 2-D trunk's design along one axis
    (5-tap conv, BatchNorm, ReLU, 2x max-pool; channels doubling from ``width``); ``pool=grid``
    keeps 4 segments of the signal, so a hidden layer can tell early from late."""
    if len(input_shape) not in (1, 2):
        raise ValueError(
            f"model.backbone=cnn1d needs signals (L,) or (C, L), got inputs of shape {input_shape}"
        )
    if len(input_shape) == 1:  # one channel, added by a block that holds no weights
        return _conv_trunk([nn.Unflatten(1, (1, input_shape[0]))], 1, shape, dims=1)
    return _conv_trunk([], input_shape[0], shape, dims=1)


_LAYERS = {  # per number of spatial dimensions: conv, norm, max-pool, adaptive pool, kernel
    1: (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d, nn.AdaptiveAvgPool1d, 5),
    2: (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, 3),
}


def _conv_trunk(
    blocks: list[nn.Module], channels: int, shape: TrunkShape, dims: int
) -> tuple[nn.Sequential, int]:
    """Conv blocks after ``blocks``, then global average or a grid of cells (``_GRID`` per
    side), then the optional hidden layer: the 2-D and 1-D trunks are one design."""
    conv, norm, max_pool, adaptive_pool, kernel = _LAYERS[dims]
    for block in range(shape.depth):
        out = shape.width * 2 ** min(block, 2)
        layers: list[nn.Module] = [
            conv(channels, out, kernel, padding=kernel // 2, bias=False),
            norm(out),
            nn.ReLU(inplace=True),
        ]
        if block < shape.depth - 1:
            layers.append(max_pool(2))
        blocks.append(nn.Sequential(*layers))
        channels = out
    cells = _GRID if shape.pool == "grid" else 1
    blocks.append(nn.Sequential(adaptive_pool(cells), nn.Flatten()))
    features = channels * cells**dims
    if shape.fc_width > 0:
        blocks.append(nn.Sequential(nn.Linear(features, shape.fc_width), nn.ReLU(inplace=True)))
        features = shape.fc_width
    return nn.Sequential(*blocks), features


@BACKBONES.register("mlp")
def mlp(input_shape: tuple[int, ...], shape: TrunkShape) -> tuple[nn.Sequential, int]:
    """``depth`` hidden layers of ``width`` units with ReLU, on the flattened input."""
    blocks: list[nn.Module] = [nn.Flatten()]
    features = math.prod(input_shape)
    for _ in range(shape.depth):
        blocks.append(nn.Sequential(nn.Linear(features, shape.width), nn.ReLU(inplace=True)))
        features = shape.width
    return nn.Sequential(*blocks), features


@BACKBONES.register("linear", trunk_parameters=False)
def linear(input_shape: tuple[int, ...], shape: TrunkShape) -> tuple[nn.Sequential, int]:
    """No hidden layer: heads read the flattened input directly (a logistic-regression floor)."""
    del shape
    return nn.Sequential(nn.Flatten()), math.prod(input_shape)


def build_backbone(
    name: str, input_shape: tuple[int, ...], shape: TrunkShape
) -> tuple[nn.Module, int]:
    """The registered backbone ``name`` (an unknown name fails naming the registered ones),
    starting from the checkpoint file ``shape.weights`` where one is given."""
    if shape.pool not in POOLS:
        raise ValueError(f"model.pool={shape.pool!r} is unknown; allowed: {', '.join(POOLS)}")
    trunk, features = BACKBONES.get(name).target(input_shape, shape)
    if shape.weights and not is_hub(shape.weights):
        state = mapped(read_state(shape.weights, "model.weights"), dict(shape.weights_prefix))
        load_into_trunk(trunk, state, "model.weights", shape.weights)
    return trunk, features


def trunk_blocks(trunk: nn.Module) -> list[nn.Module]:
    """The trunk's blocks that hold parameters, input side first (what ``partial`` freezes):
    its own ``blocks()`` where it declares them (a library's network), else its children."""
    declared = getattr(trunk, "blocks", None)
    if callable(declared):
        return list(declared())
    return [child for child in trunk.children() if any(True for _ in child.parameters())]
