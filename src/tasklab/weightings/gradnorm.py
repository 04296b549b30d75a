"""``gradnorm`` (Chen et al. 2018): learned weights w (summing to the number of tasks) are
moved so that each task's gradient norm on the trunk's last layer approaches the mean norm
times (its relative inverse training rate)^alpha; the network steps on Σ w·L with w fixed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from tasklab.data.tasks import TaskSpec
from tasklab.registry import WEIGHTINGS
from tasklab.settings import setting
from tasklab.weightings import LossWeighting, WeightingSettings


@dataclass
class GradNormSettings(WeightingSettings):
    name: str = "gradnorm"
    alpha: float = setting(1.5, low=0, arm=True, doc="how strongly slower tasks are pushed")
    lr_scale: float = setting(1.0, above=0, arm=True, doc="the weights train at optim.lr × this")


@WEIGHTINGS.register("gradnorm", settings=GradNormSettings)
class GradNorm(LossWeighting):
    """GradNorm: learned task weights that balance gradient norms (replaces the backward pass)."""

    shared_gradients = True

    def __init__(
        self, tasks: Sequence[TaskSpec], alpha: float = 1.5, lr_scale: float = 1.0
    ) -> None:
        super().__init__(tasks)
        self.alpha, self.lr_scale = alpha, lr_scale
        self.task_weights = nn.Parameter(torch.ones(len(self.names)))
        self.initial: dict[str, float] = {}  # each task's first mean loss, for its rate

    def get_extra_state(self) -> dict:
        return {"initial": self.initial}

    def set_extra_state(self, state: dict) -> None:
        self.initial = dict(state["initial"])

    def _renormalise(self) -> None:
        with torch.no_grad():  # after the optimiser moved them: positive, summing to K
            self.task_weights.clamp_(min=1e-3)
            self.task_weights.mul_(len(self.names) / self.task_weights.sum())

    def combine(self, sums, counts, batch_size):
        self._renormalise()
        total = self.task_weights.new_zeros(())
        weights = {}
        for k, name in enumerate(self.names):
            if float(counts[name]) == 0:
                continue
            weight = self.task_weights[k].detach()
            total = total + weight * sums[name] / counts[name]
            weights[name] = weight
        return total, weights

    def backward(self, total, sums, counts, shared, backward) -> None:
        """The weights' gradient comes from the gradient-norm loss alone, the network's from
        ``total`` (the weighted loss with the weights held fixed)."""
        present = self.present(counts)
        layer = [p for p in shared if p.requires_grad and p.dim() > 1][-1]
        norms, rates = [], []
        for name in present:
            k = self.names.index(name)
            loss = sums[name] / counts[name]
            self.initial.setdefault(name, float(loss.detach()))
            (grad,) = torch.autograd.grad(
                self.task_weights[k] * loss, layer, retain_graph=True, create_graph=True
            )
            norms.append(grad.norm())
            rates.append(float(loss.detach()) / max(self.initial[name], 1e-12))
        if len(present) > 1:
            norms_t = torch.stack(norms)
            rates_t = torch.tensor(rates, device=norms_t.device)
            target = (norms_t.mean() * (rates_t / rates_t.mean()) ** self.alpha).detach()
            grad_loss = (norms_t - target).abs().sum()
            (self.task_weights.grad,) = torch.autograd.grad(
                grad_loss, self.task_weights, retain_graph=True
            )
        backward(total)
