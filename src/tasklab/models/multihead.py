"""A shared trunk with one head per task: the standard hard-parameter-sharing architecture."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from tasklab.data.tasks import TaskSpec
from tasklab.models.backbones import TrunkShape, build_backbone


class ScaledOutput(nn.Module):
    """``loc + scale * h``: a regression head that predicts in its target's units from a
    standard-scale linear output, so a fresh head starts near the typical value."""

    def __init__(self, loc: float, scale: float) -> None:
        super().__init__()
        self.loc, self.scale = loc, scale

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.loc + self.scale * h


def build_head(feature_dim: int, spec: TaskSpec) -> nn.Module:
    linear = nn.Linear(feature_dim, spec.output_dim)
    if spec.kind == "regression" and (spec.loc, spec.scale) != (0.0, 1.0):
        return nn.Sequential(linear, ScaledOutput(spec.loc, spec.scale))
    return linear


class MultiHeadNet(nn.Module):
    """Backbone plus a linear head per task in a ``ModuleDict`` keyed by task name."""

    def __init__(self, trunk: nn.Module, feature_dim: int, tasks: Sequence[TaskSpec]) -> None:
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict({t.name: build_head(feature_dim, t) for t in tasks})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Outputs per task: (B,) for binary and regression, (B, C) for multiclass."""
        features = self.trunk(x)
        outputs = {}
        for name, head in self.heads.items():
            out = head(features)
            outputs[name] = out.squeeze(1) if out.shape[1] == 1 else out
        return outputs


def build_net(
    backbone: str, input_shape: tuple[int, ...], shape: TrunkShape, tasks: Sequence[TaskSpec]
) -> MultiHeadNet:
    trunk, feature_dim = build_backbone(backbone, input_shape, shape)
    return MultiHeadNet(trunk, feature_dim, tasks)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
