"""The two learned sub-steps of a pipeline, each trained once and cached.

Stage 1 learns x → z on ``n_stage1`` inputs labelled with z; stage 2 learns y from
``stage2_input(x, true z)`` on ``n_stage2`` records. Neither depends on the number of
end-to-end pairs, so a sweep over ``data.n_train`` trains each stage once per seed and the
staged arms read them from the cache (``stage_cache``), keyed by everything that determines
their weights.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from tasklab.data.building import selected_tasks
from tasklab.data.label_masks import TaskBudget
from tasklab.data.tasks import TaskSpec
from tasklab.data.world import StagedWorld, as_model_input
from tasklab.data.z_encoding import z_from_labels
from tasklab.fit.fitting import FitOutcome, RunContext, fit_tasks, model_shape, trunk_shape
from tasklab.models.multihead import build_net, count_parameters
from tasklab.predictions import RunPredictions, prefixed
from tasklab.regimes.stage_keys import fit_fields
from tasklab.stage_cache import State, load_or_build

X_TO_Z, Z_TO_Y = "x_to_z", "z_to_y"  # metric prefixes of the two stages


class Stage2World:
    """Stage 2's view of a staged world: input ``stage2_input(x, true z)``, label y.

    Its test stream is the world's test stream with the true z, so a stage-2 network's test
    metrics are those of the pipeline with a perfect stage 1 (the oracle upper bound).
    """

    def __init__(self, world: StagedWorld) -> None:
        self.world = world
        names = world.task_names
        self._z = [names.index(t) for t in world.intermediate_tasks]
        self._z_specs = [world.task_specs[t] for t in world.intermediate_tasks]
        self._y = names.index(world.target_task)

    @property
    def task_names(self) -> tuple[str, ...]:
        return (self.world.target_task,)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.world.stage2_input_shape)

    @property
    def task_specs(self) -> dict[str, TaskSpec]:
        return {self.world.target_task: self.world.task_specs[self.world.target_task]}

    def render(self, stream: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, labels = self.world.render(stream, index)
        z, y = labels[:, self._z], labels[:, self._y : self._y + 1]
        # A record whose z is unknown (a user's file with gaps) is no (z, y) record: its y is
        # hidden from stage 2, and its z zeroed so that no NaN reaches the network.
        unknown = torch.isnan(z).any(dim=1, keepdim=True)
        y = torch.where(unknown, torch.full_like(y, float("nan")), y)
        z = z_from_labels(self._z_specs, torch.nan_to_num(z))  # as stage 1's output reads
        inputs = self.world.stage2_input(as_model_input(x), z)
        return inputs, y


def staged_world(ctx: RunContext) -> StagedWorld:
    """The run's world, which ``pipeline.check`` has made sure declares a z."""
    world = ctx.world
    assert isinstance(world, StagedWorld)
    return world


def stage1_network(cfg: DictConfig, world: StagedWorld) -> nn.Module:
    tasks = selected_tasks(world, world.intermediate_tasks)
    return build_net(cfg.model.backbone, world.input_shape, trunk_shape(cfg), tasks)


def stage2_network(cfg: DictConfig, world: StagedWorld) -> nn.Module:
    tasks = selected_tasks(world, [world.target_task])
    model = cfg.regime.stage2_model
    return build_net(model.backbone, world.stage2_input_shape, model_shape(model), tasks)


def stage_fields(cfg: DictConfig, stage: str) -> dict[str, Any]:
    """Everything that determines a stage's weights; n_train and the arm are absent."""
    regime = cfg.regime
    first = stage == X_TO_Z
    model = cfg.model if first else regime.stage2_model
    steps = regime.stage1_steps if first else regime.stage2_steps
    return fit_fields(cfg, cfg.data, model, steps) | {
        "stage": stage,
        "n": regime.n_stage1 if first else regime.n_stage2,
    }


@dataclass
class TrainedStage:
    net: nn.Module
    fit: FitOutcome  # metrics prefixed with the stage's name


def _fit_stage(ctx: RunContext, stage: str) -> tuple[State, dict[str, Any], RunPredictions]:
    cfg, world = ctx.cfg, staged_world(ctx)
    if stage == X_TO_Z:
        stage_world, n, steps = world, cfg.regime.n_stage1, cfg.regime.stage1_steps
        names, build = world.intermediate_tasks, lambda: stage1_network(cfg, world)
    else:
        stage_world, n, steps = Stage2World(world), cfg.regime.n_stage2, cfg.regime.stage2_steps
        names, build = (world.target_task,), lambda: stage2_network(cfg, world)
    tasks = selected_tasks(stage_world, names)
    stage_ctx = dataclasses.replace(
        ctx,
        world=stage_world,
        budgets={t.name: TaskBudget(n_train=n) for t in tasks},
        # stage 2 sees other inputs than the run's own evaluation sets
        eval_cache=ctx.eval_cache if stage == X_TO_Z else {},
    )
    fit = fit_tasks(stage_ctx, tasks, fit_name=stage, max_steps=steps, network=build)
    assert fit.net is not None
    record = {
        "tasks": list(names),
        "n_params": fit.n_params,
        "steps": fit.steps,
        "wall_time_s": round(fit.wall_time_s, 3),
        "n_labelled": fit.n_labelled,
        "train_digest": fit.train_digest,
        "metrics": fit.metrics,
    }
    state = {k: v.detach().cpu() for k, v in fit.net.state_dict().items()}
    return state, record, fit.predictions


def trained_stage(ctx: RunContext, stage: str) -> TrainedStage:
    """Stage ``stage`` (``x_to_z`` or ``z_to_y``) of this run's pipeline, from the cache."""
    cfg, world = ctx.cfg, staged_world(ctx)
    start = time.perf_counter()
    entry = load_or_build(
        Path(cfg.regime.cache_dir),
        stage_fields(cfg, stage),
        lambda: _fit_stage(ctx, stage),
        resolved_config=OmegaConf.to_container(cfg, resolve=True),  # type: ignore[arg-type]
    )
    net = stage1_network(cfg, world) if stage == X_TO_Z else stage2_network(cfg, world)
    net.load_state_dict(entry.state)
    record = entry.record
    fit = FitOutcome(
        name=stage,
        tasks=list(record["tasks"]),
        metrics={f"{stage}/{key}": value for key, value in record["metrics"].items()},
        n_params=count_parameters(net),
        n_labelled=dict(record["n_labelled"]),
        steps=int(record["steps"]),
        wall_time_s=time.perf_counter() - start,
        train_digest=record["train_digest"],
        predictions=prefixed(entry.predictions, stage),  # filed as its metrics are
        notes={
            "cache": {
                "key": entry.key,
                "hit": entry.hit,
                "path": str(entry.path),
                "trained_s": record["wall_time_s"],
            }
        },
        net=net,
    )
    return TrainedStage(net=net, fit=fit)
