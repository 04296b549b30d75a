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
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from tasklab.data.tasks import TaskSpec

WEIGHTINGS: tuple[str, ...] = ("equal", "static", "uncertainty", "dwa")


class LossWeighting(nn.Module):
    """Base: ``combine`` returns the step's loss and each present task's weight."""

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


def build_weighting(
    name: str,
    tasks: Sequence[TaskSpec],
    static_weights: dict[str, float] | None = None,
    dwa_period: int = 50,
    dwa_temperature: float = 2.0,
) -> LossWeighting:
    if name == "equal":
        return EqualWeighting(tasks)
    if name == "static":
        return StaticWeighting(tasks, static_weights or {})
    if name == "uncertainty":
        return UncertaintyWeighting(tasks)
    if name == "dwa":
        return DynamicWeightAverage(tasks, dwa_period, dwa_temperature)
    raise ValueError(f"mtl.weighting={name!r} is unknown; allowed: {', '.join(WEIGHTINGS)}")
