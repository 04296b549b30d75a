"""Multi-task architectures beyond one shared trunk: how much of the network tasks share.

- ``mmoe`` (multi-gate mixture of experts, Ma et al. 2018): ``n_experts`` trunks of the
  configured backbone; each task mixes their features with its own softmax gate computed from
  the input, so tasks can share experts where that helps and keep apart where it does not.
- ``cross_stitch`` (Misra et al. 2016): one trunk per task; after every block each task's
  activation becomes a learned mixture of all tasks' activations at that block (initialised
  to keep 0.9 of its own), so the amount of sharing is learned per layer.

Each registers itself with ``@ARCHITECTURES.register(name)``; ``one_trunk=True`` marks the
architecture whose whole trunk can be handed from one fit to the next (transfer, pipelines).
Both keep the foundation's interface: ``forward(x)`` returns one output per task, shaped like
``MultiHeadNet``'s, and ``trunk`` holds the parameters the tasks share (what PCGrad and
GradNorm treat as shared).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from tasklab.data.tasks import TaskSpec
from tasklab.models.backbones import TrunkShape, build_backbone
from tasklab.models.multihead import build_head, build_net
from tasklab.registry import ARCHITECTURES

_OWN_SHARE = 0.9  # cross-stitch: each task's initial weight on its own activation


def _squeeze(out: torch.Tensor) -> torch.Tensor:
    return out.squeeze(1) if out.shape[1] == 1 else out


@ARCHITECTURES.register("mmoe")
class MMoENet(nn.Module):
    """Multi-gate mixture of experts: n_experts trunks, a softmax gate per task on the input."""

    def __init__(
        self,
        backbone: str,
        input_shape: tuple[int, ...],
        shape: TrunkShape,
        tasks: Sequence[TaskSpec],
        n_experts: int,
    ) -> None:
        super().__init__()
        experts = [build_backbone(backbone, input_shape, shape) for _ in range(n_experts)]
        self.trunk = nn.ModuleList([expert for expert, _ in experts])  # the shared experts
        feature_dim = experts[0][1]
        self.gates = nn.ModuleDict(
            {t.name: nn.Linear(math.prod(input_shape), n_experts) for t in tasks}
        )
        self.heads = nn.ModuleDict({t.name: build_head(feature_dim, t) for t in tasks})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = torch.stack([expert(x) for expert in self.trunk], dim=1)  # (B, E, F)
        flat = x.flatten(1)
        outputs = {}
        for name, head in self.heads.items():
            gate = torch.softmax(self.gates[name](flat), dim=1)  # (B, E)
            mixed = (gate.unsqueeze(-1) * features).sum(dim=1)
            outputs[name] = _squeeze(head(mixed))
        return outputs


@ARCHITECTURES.register("cross_stitch")
class CrossStitchNet(nn.Module):
    """Cross-stitch: a trunk per task, activations mixed across tasks after every block."""

    def __init__(
        self,
        backbone: str,
        input_shape: tuple[int, ...],
        shape: TrunkShape,
        tasks: Sequence[TaskSpec],
        n_experts: int = 4,
    ) -> None:
        del n_experts  # mmoe's setting; a cross-stitch net has one trunk per task
        super().__init__()
        self.names = [t.name for t in tasks]
        built = [build_backbone(backbone, input_shape, shape) for _ in tasks]
        self.trunk = nn.ModuleList([trunk for trunk, _ in built])  # one column per task
        n_tasks, n_blocks = len(tasks), len(list(built[0][0].children()))
        own = _OWN_SHARE if n_tasks > 1 else 1.0  # a single task keeps its activation
        off = (1 - own) / (n_tasks - 1) if n_tasks > 1 else 0.0
        start = torch.full((n_tasks, n_tasks), off) + (own - off) * torch.eye(n_tasks)
        self.stitches = nn.ParameterList([nn.Parameter(start.clone()) for _ in range(n_blocks)])
        self.heads = nn.ModuleDict({t.name: build_head(built[0][1], t) for t in tasks})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        activations = [x] * len(self.names)
        blocks = [list(column.children()) for column in self.trunk]
        for k, stitch in enumerate(self.stitches):
            outs = torch.stack([blocks[t][k](a) for t, a in enumerate(activations)], dim=0)
            mixed = torch.einsum("ij,j...->i...", stitch, outs)
            activations = list(mixed.unbind(0))
        return {
            name: _squeeze(self.heads[name](activations[t])) for t, name in enumerate(self.names)
        }


@ARCHITECTURES.register("hard", one_trunk=True)
def hard_sharing(
    backbone: str,
    input_shape: tuple[int, ...],
    shape: TrunkShape,
    tasks: Sequence[TaskSpec],
    n_experts: int = 4,
) -> nn.Module:
    """The foundation's one trunk and a head per task."""
    del n_experts
    return build_net(backbone, input_shape, shape, tasks)


def build_architecture(
    architecture: str,
    backbone: str,
    input_shape: tuple[int, ...],
    shape: TrunkShape,
    tasks: Sequence[TaskSpec],
    n_experts: int = 4,
) -> nn.Module:
    """The registered architecture ``architecture`` (``hard``, ``mmoe``, ``cross_stitch``, …)."""
    build = ARCHITECTURES.get(architecture).target
    return build(backbone, input_shape, shape, tasks, n_experts)
