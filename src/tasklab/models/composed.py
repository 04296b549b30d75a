"""A staged pipeline as one network: stage 1 predicts z from x, stage 2 predicts y from what
the world makes of x and the *predicted* z (the measurements, or a crop around a location).

Composed this way, the pipeline is evaluated like any other network, and fine-tuning it end to
end is an ordinary fit: gradients of the target's loss flow through stage 2, the glue and
stage 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from tasklab.data.tasks import TaskSpec
from tasklab.data.z_encoding import z_from_outputs

Glue = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class ComposedNet(nn.Module):
    """``stage2(glue(x, stage1(x)[z]))``; outputs stage 1's z heads and stage 2's target."""

    def __init__(
        self,
        stage1: nn.Module,
        stage2: nn.Module,
        glue: Glue,
        intermediate: Sequence[TaskSpec],
        target: str,
    ) -> None:
        """``intermediate``: the z specs, in the order stage 2 reads them (``z_encoding``)."""
        super().__init__()
        self.stage1, self.stage2, self.glue = stage1, stage2, glue
        self.z_specs, self.target = list(intermediate), target
        self.intermediate = [spec.name for spec in self.z_specs]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z_heads = self.stage1(x)
        z = z_from_outputs(self.z_specs, z_heads)
        y = self.stage2(self.glue(x, z))[self.target]
        return {**{name: z_heads[name] for name in self.intermediate}, self.target: y}
