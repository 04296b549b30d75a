"""Builds a world and its task specs from the ``data`` config (the only place that reads it)."""

from __future__ import annotations

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


def selected_tasks(data: DictConfig) -> list[TaskSpec]:
    """The tasks named in ``data.tasks``, in the config's order (all binary in these worlds)."""
    return [TaskSpec(name=name, kind="binary") for name in data.tasks]


def task_budgets(data: DictConfig) -> dict[str, TaskBudget]:
    """Each task's ``n_train`` and ``label_rate``, falling back to the data-wide values."""
    budgets = {}
    for name, task in data.tasks.items():
        n_train = task.n_train if task is not None and task.n_train is not None else data.n_train
        rate = (
            task.label_rate if task is not None and task.label_rate is not None else data.label_rate
        )
        budgets[name] = TaskBudget(n_train=int(n_train), label_rate=float(rate))
    return budgets
