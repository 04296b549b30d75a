"""Builds a world and its task specs from the ``data`` config (the only place that reads it)."""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig

from tasklab.data.driving import DrivingWorld
from tasklab.data.label_masks import TaskBudget
from tasklab.data.tasks import TaskSpec
from tasklab.data.vectors import VectorWorld
from tasklab.data.world import World

WORLDS: tuple[str, ...] = ("driving", "vectors")


def build_world(data: DictConfig) -> World:
    if data.world == "driving":
        return DrivingWorld(seed=data.world_seed, **data.driving)
    if data.world == "vectors":
        return VectorWorld(seed=data.world_seed, **data.vectors)
    raise ValueError(f"data.world={data.world!r} is unknown; allowed: {', '.join(WORLDS)}")


def selected_tasks(world: World, names: Sequence[str]) -> list[TaskSpec]:
    """The world's specs of the tasks ``names``, in that order."""
    specs = world.task_specs
    return [specs[name] for name in names]


def task_budgets(data: DictConfig) -> dict[str, TaskBudget]:
    """Each task's ``n_train`` and ``label_rate``: its own entry, else the data-wide value."""
    return {
        name: TaskBudget(
            n_train=int(data.n_train_by_task.get(name, data.n_train)),
            label_rate=float(data.label_rate_by_task.get(name, data.label_rate)),
        )
        for name in data.tasks
    }
