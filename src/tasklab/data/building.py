"""Builds a world and its task specs from the ``data`` config (the only place that reads it)."""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig, open_dict

from tasklab.data.label_masks import TaskBudget
from tasklab.data.tasks import TaskSpec
from tasklab.data.world import FiniteWorld, World
from tasklab.registry import WORLDS
from tasklab.settings import as_settings, check_settings, kwargs

ALL_ROWS = -1  # data.n_train / n_val / n_test of a file world: every row of the split


def build_world(data: DictConfig, verbose: bool = False) -> World:
    """The registered world ``data.world`` built from its settings ``data.<world>.*``, after
    their declared checks (``verbose``: a file world prints what it read and decided)."""
    component = WORLDS.get(data.world)
    settings = as_settings(component.settings, data.get(data.world) or {})
    check_settings(f"data.{data.world}", settings)
    build = component.spec.build
    if build is not None:
        return build(settings, tasks=list(data.tasks), verbose=verbose)
    return component.target(seed=data.world_seed, **kwargs(settings, skip=()))


def fit_data_to_world(data: DictConfig, world: World) -> None:
    """Sizes and tasks a user's file decides: ``-1`` sizes become the split's row count, an
    empty ``data.tasks`` every target of the file. Procedural worlds are left as they are."""
    if not isinstance(world, FiniteWorld):
        return
    targets = [n for n in world.task_names if n not in world.intermediate_names]
    with open_dict(data):
        if not data.tasks:
            data.tasks = targets
        for field, split in (("n_train", "train"), ("n_val", "val"), ("n_test", "test")):
            if data[field] == ALL_ROWS:
                data[field] = world.split_size(split)
        for name, n in list(data.n_train_by_task.items()):
            if n == ALL_ROWS:
                data.n_train_by_task[name] = world.split_size("train")


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
