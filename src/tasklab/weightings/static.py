"""``static``: Σ w_t · mean loss of task t, with weights fixed in the config, e.g.
``mtl/weighting=static '+mtl.weighting.weights={pedestrian: 1, car: 2}'``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tasklab.data.tasks import TaskSpec
from tasklab.registry import WEIGHTINGS
from tasklab.settings import require, setting
from tasklab.weightings import LossWeighting, WeightingSettings


@dataclass
class StaticSettings(WeightingSettings):
    name: str = "static"
    weights: dict[str, float] = setting(factory=dict, arm=True, doc="one weight per task")

    def check(self, path: str) -> None:
        for task, value in self.weights.items():
            require(value >= 0, f"{path}.weights.{task}={value} must be >= 0")


def check_tasks(settings: StaticSettings, tasks: Sequence[str], path: str) -> None:
    """Every task of ``data.tasks`` needs a weight."""
    missing = [t for t in tasks if t not in settings.weights]
    example = "{" + ", ".join(f"{t}: 1.0" for t in tasks) + "}"
    require(
        not missing,
        f"{path}.weights has no weight for {missing}; name every task of data.tasks, e.g. "
        f"+mtl.weighting.weights={example}",
    )
    unknown = [t for t in settings.weights if t not in tasks]
    require(
        not unknown,
        f"{path}.weights names {unknown}, which are not in data.tasks={list(tasks)}; weigh "
        f"exactly the tasks trained, e.g. mtl.weighting.weights={example}",
    )


@WEIGHTINGS.register("static", settings=StaticSettings, check_tasks=check_tasks)
class StaticWeighting(LossWeighting):
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
