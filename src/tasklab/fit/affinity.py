"""Which tasks help which: inter-task affinity by lookahead (Fifty et al. 2021, "Efficiently
Identifying Task Groupings for Multi-Task Learning"), measured during one joint run.

At a measured step, for each task i with labels in the batch: take one plain gradient step on
the shared trunk along task i's gradient alone (rate: the optimiser's), and see how every
task j's loss on the same batch changes: Z(i→j) = 1 − L_j(after i's step) / L_j(before).
Positive: a step for i also lowers j's loss (i helps j); negative: it raises it. The run's
affinity is the mean over its measured steps.

The lookahead never touches the network: the stepped weights exist only inside one
``torch.func.functional_call``, with copies of the normalisation statistics, so a run that
measures affinity trains exactly like one that does not (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call

from tasklab.data.tasks import TaskSpec
from tasklab.fit.losses import masked_multitask_loss

Pair = tuple[str, str]


def lookahead_affinity(
    net: nn.Module,
    tasks: Sequence[TaskSpec],
    batch: dict[str, torch.Tensor],
    losses: dict[str, torch.Tensor],
    shared: Sequence[nn.Parameter],
    lr: float,
) -> dict[Pair, float]:
    """Z(i→j) for every ordered pair of the present tasks (``losses``: their mean losses on
    ``batch``, still attached to the graph; ``shared``: the trunk's parameters)."""
    present = list(losses)
    if len(present) < 2:
        return {}
    shared = [p for p in shared if p.requires_grad]
    names = {id(p): name for name, p in net.named_parameters()}
    state = {name: p for name, p in net.named_parameters()}
    before = {name: float(losses[name].detach()) for name in present}
    affinity: dict[Pair, float] = {}
    for i in present:
        grads = torch.autograd.grad(losses[i], shared, retain_graph=True, allow_unused=True)
        stepped = dict(state)
        for param, grad in zip(shared, grads, strict=True):
            if grad is not None:
                stepped[names[id(param)]] = param.detach() - lr * grad
        buffers = {name: b.detach().clone() for name, b in net.named_buffers()}
        with torch.no_grad():
            outputs = functional_call(net, {**stepped, **buffers}, (batch["x"],))
            _, sums, counts = masked_multitask_loss(tasks, outputs, batch["y"], batch["mask"])
        for j in present:
            after = float(sums[j] / counts[j])
            affinity[(i, j)] = 1.0 - after / before[j] if before[j] > 0 else 0.0
    return affinity


class AffinityMeter(nn.Module):
    """Running means of Z(i→j) over the measured steps of a fit (a submodule, so that its
    sums are in checkpoints and a resumed fit reports what an unbroken one would)."""

    def __init__(self) -> None:
        super().__init__()
        self.sums: dict[Pair, float] = {}
        self.counts: dict[Pair, int] = {}

    def add(self, values: dict[Pair, float]) -> None:
        for pair, value in values.items():
            self.sums[pair] = self.sums.get(pair, 0.0) + value
            self.counts[pair] = self.counts.get(pair, 0) + 1

    def means(self) -> dict[str, dict[str, float]]:
        """``{i: {j: mean Z(i→j)}}``: what the run record keeps."""
        table: dict[str, dict[str, float]] = {}
        for (i, j), total in sorted(self.sums.items()):
            table.setdefault(i, {})[j] = total / self.counts[(i, j)]
        return table

    def get_extra_state(self) -> dict:
        return {"pairs": [[i, j, self.sums[(i, j)], self.counts[(i, j)]] for i, j in self.sums]}

    def set_extra_state(self, state: dict) -> None:
        self.sums = {(i, j): float(s) for i, j, s, _ in state["pairs"]}
        self.counts = {(i, j): int(c) for i, j, _, c in state["pairs"]}
