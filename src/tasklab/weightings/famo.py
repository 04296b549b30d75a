"""``famo`` (Liu et al. 2023, "FAMO: Fast Adaptive Multitask Optimization"): losses decrease at
about the same rate, from the loss values alone — O(1) in the number of tasks, no per-task
gradient. The step's loss is c·Σ z_i·log(L_i + ε) with z = softmax(w) and c making the update
a convex combination of the task gradients; after the step, the logits w take one Adam step
towards the tasks whose loss fell least (the losses recomputed on the same batch).

TorchJD's ``torchjd.scalarization.FAMO`` needs every task's loss at every step; here a task
without a label in the batch takes no part (no term in the loss; its loss change counts as
zero in the logits' step), so the formulas are written out, and a test checks they equal
TorchJD's when every task is present. The logits and their Adam state are kept in
checkpoints: a resumed fit is exact."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tasklab.data.tasks import TaskSpec
from tasklab.registry import WEIGHTINGS
from tasklab.settings import setting
from tasklab.weightings import LossWeighting, WeightingSettings

EPSILON = 1e-8  # TorchJD's and the paper's code's


@dataclass
class FamoSettings(WeightingSettings):
    name: str = "famo"
    lr: float = setting(0.025, above=0, arm=True, doc="Adam rate of the task logits (paper)")
    weight_decay: float = setting(1e-3, low=0, arm=True, doc="Adam decay of the logits")


@WEIGHTINGS.register("famo", settings=FamoSettings)
class Famo(LossWeighting):
    """FAMO: log-loss weights from logits learned by how fast each task's loss falls."""

    needs_losses_after_step = True

    def __init__(
        self, tasks: Sequence[TaskSpec], lr: float = 0.025, weight_decay: float = 1e-3
    ) -> None:
        super().__init__(tasks)
        # not an nn.Parameter: the network's optimiser must not step the logits; FAMO's own
        # Adam does, from the change in losses (``after_step``)
        self.logits = torch.zeros(len(self.names), requires_grad=True)
        self.optimiser = torch.optim.Adam([self.logits], lr=lr, weight_decay=weight_decay)
        self._before: dict[str, float] = {}

    def get_extra_state(self) -> dict:
        # a copy: Adam's state_dict holds its live moment tensors
        adam = copy.deepcopy(self.optimiser.state_dict())
        return {"logits": self.logits.detach().tolist(), "adam": adam}

    def set_extra_state(self, state: dict) -> None:
        with torch.no_grad():
            self.logits.copy_(torch.tensor(state["logits"]))
        self.optimiser.load_state_dict(state["adam"])

    def combine(self, sums, counts, batch_size):
        present = self.present(counts)
        z = torch.softmax(self.logits.detach(), dim=0).to(next(iter(sums.values())).device)
        losses = {n: sums[n] / counts[n] for n in present}
        self._before = {n: float(losses[n].detach()) for n in present}
        shifted = {n: losses[n] + EPSILON for n in present}
        normaliser = sum(z[self.names.index(n)] / shifted[n].detach() for n in present)
        total = next(iter(sums.values())).new_zeros(())
        weights = {}
        for n in present:
            share = z[self.names.index(n)] / normaliser
            total = total + share * torch.log(shifted[n])
            # the weight of task n's gradient in the update: share / (L_n + ε), summing to 1
            weights[n] = (share / shifted[n]).detach()
        return total, weights

    def after_step(self, sums: dict[str, torch.Tensor], counts: dict[str, torch.Tensor]) -> None:
        """One Adam step of the logits from log L(before) − log L(after) of the present tasks."""
        delta = torch.zeros(len(self.names))
        for name, before in self._before.items():
            after = float(sums[name].detach() / counts[name])
            delta[self.names.index(name)] = torch.log(torch.tensor(before + EPSILON)) - torch.log(
                torch.tensor(after + EPSILON)
            )
        with torch.enable_grad():
            z = torch.softmax(self.logits, dim=0)
            (grad,) = torch.autograd.grad(z, self.logits, grad_outputs=delta)
        self.logits.grad = grad
        self.optimiser.step()
        self.logits.grad = None
