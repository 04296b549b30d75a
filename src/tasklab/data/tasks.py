"""Declarative task specs: what a target is, how it is scored, and which way is better."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskKind = Literal["binary", "multiclass", "regression"]

# the metric a summary leads with for each kind of task, in the order it is looked for
HEADLINE_METRIC: dict[str, str] = {"binary": "auroc", "multiclass": "accuracy", "regression": "mae"}


@dataclass(frozen=True)
class TaskSpec:
    """One named target of a world. ``num_classes`` matters only for multiclass tasks.

    A regression target's typical value ``loc`` and spread ``scale`` (in the target's own
    units, e.g. years) let a fresh head start at the right magnitude and the loss weigh tasks
    of different units alike: the head predicts in the target's units, the loss is the squared
    error divided by ``scale``², and metrics stay in the target's units.
    """

    name: str
    kind: TaskKind = "binary"
    num_classes: int = 2
    loc: float = 0.0
    scale: float = 1.0

    @property
    def output_dim(self) -> int:
        return self.num_classes if self.kind == "multiclass" else 1


def binary_specs(names: tuple[str, ...]) -> dict[str, TaskSpec]:
    return {name: TaskSpec(name=name, kind="binary") for name in names}
