"""``dwa`` (dynamic weight average, Liu et al. 2019): weights from how fast each task's loss
fell over the last two windows of ``period`` steps (the paper's epochs),
K·softmax(r / temperature) with r = L(previous window) / L(the one before)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tasklab.data.tasks import TaskSpec
from tasklab.registry import WEIGHTINGS
from tasklab.settings import setting
from tasklab.weightings import LossWeighting, WeightingSettings


@dataclass
class DwaSettings(WeightingSettings):
    name: str = "dwa"
    period: int = setting(50, above=0, arm=True, doc="steps per window (the paper's epoch)")
    temperature: float = setting(2.0, above=0, arm=True, doc="softmax temperature")


@WEIGHTINGS.register("dwa", settings=DwaSettings)
class DynamicWeightAverage(LossWeighting):
    """DWA: weights K·softmax(r/T) from how fast each task's mean loss fell over the last two
    completed windows; 1 each until two windows are complete."""

    def __init__(
        self, tasks: Sequence[TaskSpec], period: int = 50, temperature: float = 2.0
    ) -> None:
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
