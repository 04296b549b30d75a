"""Declarative task specs: what a target is, how it is scored, and which way is better."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskKind = Literal["binary", "multiclass", "regression"]

HEADLINE_METRIC: dict[str, str] = {"binary": "auroc", "multiclass": "accuracy", "regression": "mae"}
LOWER_IS_BETTER: frozenset[str] = frozenset({"mae", "mse", "loss"})


@dataclass(frozen=True)
class TaskSpec:
    """One named target of a world. ``num_classes`` matters only for multiclass tasks."""

    name: str
    kind: TaskKind = "binary"
    num_classes: int = 2

    @property
    def output_dim(self) -> int:
        return self.num_classes if self.kind == "multiclass" else 1
