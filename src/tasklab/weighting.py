"""How the task losses of a multi-task step become one loss: the loss-weighting strategies.

Every strategy sees only the tasks that have at least one label in the batch: a task without
labels gets no weight, no loss and no gradient (its uncertainty parameter does not move
either). ``equal`` is the seed's formula, the summed loss over labelled entries divided by the
batch size; the others weigh each task's *mean* loss over its labelled entries, which is what
their papers define.

- ``static``: fixed weights per task, from the config.
- ``uncertainty`` (Kendall, Gal and Cipolla 2018): a learned log-variance s per task; the loss
  is c·exp(−s)·L + s/2 with c = 1/2 for regression and 1 for classification, so a task whose
  loss stays large is down-weighted, at a price of s/2.
- ``dwa`` (dynamic weight average, Liu et al. 2019): weights from how fast each task's loss
  fell over the last two windows of ``period`` steps (the paper's epochs),
  K·softmax(r / temperature) with r = L(previous window) / L(the one before).
- ``gradnorm`` (Chen et al. 2018): learned weights w (summing to the number of tasks) are
  moved so that each task's gradient norm on the trunk's last layer approaches the mean norm
  times (its relative inverse training rate)^alpha; the network steps on Σ w·L with w fixed.
- ``pcgrad`` (Yu et al. 2020): each task's gradient on the shared trunk, where it conflicts
  with another task's (negative dot product), loses its component along that gradient; the
  trunk then steps along the sum. Heads get their own task's gradient as usual.

Loss-based strategies work wherever Lightning does (any strategy, any precision). GradNorm and
PCGrad take per-task gradients with ``torch.autograd.grad``, outside DDP's gradient all-reduce,
so they are for a single device, at 32-bit or bf16 precision (fp16's loss scaling is not
applied to them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from tasklab.data.tasks import TaskSpec

WEIGHTINGS: tuple[str, ...] = ("equal", "static", "uncertainty", "dwa", "gradnorm", "pcgrad")


class LossWeighting(nn.Module):
    """Base: ``combine`` returns the step's loss and each present task's weight."""

    # learned weights (uncertainty, GradNorm) train at the optimiser's rate times this
    lr_scale: float = 1.0

    def __init__(self, tasks: Sequence[TaskSpec]) -> None:
        super().__init__()
        self.names = [t.name for t in tasks]

    def combine(
        self, sums: dict[str, torch.Tensor], counts: dict[str, torch.Tensor], batch_size: int
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def present(self, counts: dict[str, torch.Tensor]) -> list[str]:
        return [name for name in self.names if float(counts[name]) > 0]


class EqualWeighting(LossWeighting):
    """The seed's formula: (1/m) Σ over every labelled entry, every task weight 1."""

    def combine(self, sums, counts, batch_size):
        present = self.present(counts)
        total = sum((sums[n] for n in present), start=next(iter(sums.values())).new_zeros(()))
        one = total.new_ones(())
        return total / max(batch_size, 1), {n: one for n in present}


class StaticWeighting(LossWeighting):
    """Σ w_t · mean loss of task t, with the configured weights."""

    def __init__(self, tasks: Sequence[TaskSpec], weights: dict[str, float]) -> None:
        super().__init__(tasks)
        self.weights = {name: float(weights[name]) for name in self.names}

    def combine(self, sums, counts, batch_size):
        present = self.present(counts)
        total = next(iter(sums.values())).new_zeros(())
        weights = {}
        for name in present:
            weights[name] = total.new_tensor(self.weights[name])
            total = total + weights[name] * sums[name] / counts[name]
        return total, weights


class UncertaintyWeighting(LossWeighting):
    """Learned log-variances, one per task, trained with the network."""

    def __init__(self, tasks: Sequence[TaskSpec]) -> None:
        super().__init__(tasks)
        self.log_vars = nn.Parameter(torch.zeros(len(self.names)))
        self.factor = [0.5 if t.kind == "regression" else 1.0 for t in tasks]

    def combine(self, sums, counts, batch_size):
        total = self.log_vars.new_zeros(())
        weights = {}
        for k, name in enumerate(self.names):
            if float(counts[name]) == 0:
                continue
            weight = self.factor[k] * torch.exp(-self.log_vars[k])
            total = total + weight * sums[name] / counts[name] + 0.5 * self.log_vars[k]
            weights[name] = weight.detach()
        return total, weights


class DynamicWeightAverage(LossWeighting):
    """Weights K·softmax(r/T) from the ratio of each task's mean loss in the last two
    completed windows; 1 each until two windows are complete."""

    def __init__(self, tasks: Sequence[TaskSpec], period: int, temperature: float) -> None:
        super().__init__(tasks)
        self.period, self.temperature = period, temperature
        self.history: list[list[float]] = []  # per completed window, each task's mean loss
        self._sums = [0.0] * len(self.names)
        self._counts = [0.0] * len(self.names)
        self._steps = 0

    # plain-Python state, kept in checkpoints so a resumed fit weighs as an unbroken one
    def get_extra_state(self) -> dict:
        return {
            "history": self.history,
            "sums": self._sums,
            "counts": self._counts,
            "steps": self._steps,
        }

    def set_extra_state(self, state: dict) -> None:
        self.history = [list(h) for h in state["history"]]
        self._sums, self._counts = list(state["sums"]), list(state["counts"])
        self._steps = int(state["steps"])

    def current_weights(self) -> list[float]:
        k = len(self.names)
        if len(self.history) < 2:
            return [1.0] * k
        before, last = self.history[-2], self.history[-1]
        ratios = [
            b / a if a > 0 and math.isfinite(a) and math.isfinite(b) else 1.0
            for a, b in zip(before, last, strict=True)
        ]
        top = max(r / self.temperature for r in ratios)
        exps = [math.exp(r / self.temperature - top) for r in ratios]
        return [k * e / sum(exps) for e in exps]

    def record(self, sums: dict[str, torch.Tensor], counts: dict[str, torch.Tensor]) -> None:
        """Add a step's losses to the current window; close it after ``period`` steps."""
        for k, name in enumerate(self.names):
            self._sums[k] += float(sums[name].detach())
            self._counts[k] += float(counts[name])
        self._steps += 1
        if self._steps == self.period:
            previous = self.history[-1] if self.history else [0.0] * len(self.names)
            self.history.append(
                [
                    s / c if c > 0 else previous[k]
                    for k, (s, c) in enumerate(zip(self._sums, self._counts, strict=True))
                ]
            )
            self.history = self.history[-2:]
            self._sums = [0.0] * len(self.names)
            self._counts = [0.0] * len(self.names)
            self._steps = 0

    def combine(self, sums, counts, batch_size):
        factors = self.current_weights()
        total = next(iter(sums.values())).new_zeros(())
        weights = {}
        for k, name in enumerate(self.names):
            if float(counts[name]) == 0:
                continue
            weights[name] = total.new_tensor(factors[k])
            total = total + weights[name] * sums[name] / counts[name]
        self.record(sums, counts)
        return total, weights


def project_conflicts(grads: list[torch.Tensor], seed: int) -> list[torch.Tensor]:
    """PCGrad's projection of flattened task gradients: each is projected off every other
    task's gradient it conflicts with, the others taken in a seeded random order."""
    generator = torch.Generator().manual_seed(seed)
    projected = []
    for i, grad in enumerate(grads):
        g = grad.clone()
        for j in torch.randperm(len(grads), generator=generator).tolist():
            if j == i:
                continue
            dot = torch.dot(g, grads[j])
            norm = torch.dot(grads[j], grads[j])
            if dot < 0 and norm > 0:
                g = g - dot / norm * grads[j]
        projected.append(g)
    return projected


class PCGrad(LossWeighting):
    """Projecting conflicting gradients; ``backward`` replaces the module's backward pass."""

    def __init__(self, tasks: Sequence[TaskSpec]) -> None:
        super().__init__(tasks)
        self.steps = 0

    def get_extra_state(self) -> dict:
        return {"steps": self.steps}  # seeds each step's projection order

    def set_extra_state(self, state: dict) -> None:
        self.steps = int(state["steps"])

    def combine(self, sums, counts, batch_size):
        total = next(iter(sums.values())).new_zeros(())
        weights = {}
        for name in self.present(counts):
            total = total + sums[name] / counts[name]
            weights[name] = total.new_ones(())
        return total, weights

    def backward(
        self,
        total: torch.Tensor,
        sums: dict[str, torch.Tensor],
        counts: dict[str, torch.Tensor],
        shared: list[nn.Parameter],
        backward,
    ) -> None:
        """``backward(total)`` fills every gradient; the shared parameters' are then replaced
        by the sum of the projected per-task gradients."""
        present = self.present(counts)
        shared = [p for p in shared if p.requires_grad]
        per_task = []
        for name in present:
            grads = torch.autograd.grad(
                sums[name] / counts[name], shared, retain_graph=True, allow_unused=True
            )
            per_task.append(
                torch.cat(
                    [
                        (g if g is not None else torch.zeros_like(p)).reshape(-1)
                        for g, p in zip(grads, shared, strict=True)
                    ]
                )
            )
        backward(total)
        self.steps += 1
        if len(per_task) < 2:
            return
        combined = torch.stack(project_conflicts(per_task, seed=self.steps)).sum(dim=0)
        offset = 0
        for param in shared:
            size = param.numel()
            param.grad = combined[offset : offset + size].view_as(param).clone()
            offset += size


class GradNorm(LossWeighting):
    """Gradient normalisation; ``backward`` replaces the module's backward pass."""

    def __init__(self, tasks: Sequence[TaskSpec], alpha: float) -> None:
        super().__init__(tasks)
        self.alpha = alpha
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


def build_weighting(
    name: str,
    tasks: Sequence[TaskSpec],
    static_weights: dict[str, float] | None = None,
    dwa_period: int = 50,
    dwa_temperature: float = 2.0,
    gradnorm_alpha: float = 1.5,
) -> LossWeighting:
    if name == "equal":
        return EqualWeighting(tasks)
    if name == "static":
        return StaticWeighting(tasks, static_weights or {})
    if name == "uncertainty":
        return UncertaintyWeighting(tasks)
    if name == "dwa":
        return DynamicWeightAverage(tasks, dwa_period, dwa_temperature)
    if name == "gradnorm":
        return GradNorm(tasks, gradnorm_alpha)
    if name == "pcgrad":
        return PCGrad(tasks)
    raise ValueError(f"mtl.weighting={name!r} is unknown; allowed: {', '.join(WEIGHTINGS)}")
