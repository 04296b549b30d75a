"""Builds a world and its task specs from the ``data`` config (the only place that reads it)."""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig

from tasklab.data.bone_age import BoneAgeWorld
from tasklab.data.driving import DrivingWorld
from tasklab.data.face_id import FaceIdWorld
from tasklab.data.label_masks import TaskBudget
from tasklab.data.tasks import TaskSpec
from tasklab.data.vectors import VectorWorld
from tasklab.data.world import World

_WORLD_CLASSES: dict[str, type] = {
    "driving": DrivingWorld,
    "vectors": VectorWorld,
    "bone_age": BoneAgeWorld,
    "face_id": FaceIdWorld,
}
WORLDS: tuple[str, ...] = tuple(_WORLD_CLASSES)


def build_world(data: DictConfig) -> World:
    """The world ``data.world`` with its knobs ``data.<world>.*``."""
    if data.world not in _WORLD_CLASSES:
        raise ValueError(f"data.world={data.world!r} is unknown; allowed: {', '.join(WORLDS)}")
    return _WORLD_CLASSES[data.world](seed=data.world_seed, **data[data.world])


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
