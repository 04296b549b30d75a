"""One Lightning fit of the generic module on a set of tasks, shared by every regime."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from tasklab.data.datamodule import EvalCache, WorldDataModule
from tasklab.data.label_masks import TaskBudget
from tasklab.data.tasks import TaskSpec
from tasklab.data.world import World
from tasklab.fit.lightning_trainer import build_trainer, quiet_lightning, steps_per_call
from tasklab.fit.module import TaskLabModule
from tasklab.loggers import build_loggers, finish_wandb
from tasklab.models.backbones import TrunkShape
from tasklab.models.handoff import FineTunePlan
from tasklab.models.mtl_architectures import build_architecture
from tasklab.models.multihead import MultiHeadNet, count_parameters
from tasklab.registry import BACKBONES
from tasklab.runs.checkpoints import resume_checkpoint
from tasklab.settings import ConfigError, as_settings
from tasklab.weightings import LossWeighting, build_weighting, weighting_settings


@dataclass
class RunContext:
    """What every fit of one run shares."""

    cfg: DictConfig
    world: World
    budgets: dict[str, TaskBudget]
    output_dir: Path
    group: str
    eval_cache: EvalCache = field(default_factory=dict)


@dataclass
class FitOutcome:
    name: str
    tasks: list[str]
    metrics: dict[str, float]
    n_params: int
    n_labelled: dict[str, int]
    steps: int
    wall_time_s: float
    train_digest: str = ""
    # {i: {j: mean Z(i→j)}} where mtl.affinity_every measured it (``tasklab.fit.affinity``)
    affinity: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)  # regime-specific facts for the run record
    # split -> task -> per-example predictions of the last evaluation (``tasklab.predictions``)
    predictions: dict = field(default_factory=dict, repr=False)
    net: nn.Module | None = field(default=None, repr=False)
    # False for a fit whose network is not part of the final predictor (a stage that a later
    # fit fine-tunes) or repeats one that is (the evaluation of a composed pipeline).
    in_predictor: bool = True


# Called on the freshly initialised network before training: may load weights into it and
# returns what stays frozen and which parts learn at a scaled rate.
PrepareNet = Callable[[MultiHeadNet], FineTunePlan]


def model_shape(model: DictConfig) -> TrunkShape:
    """The sizes of a ``model``-shaped config (``model.*``, or a pipeline's stage-2 model)."""
    return TrunkShape(
        width=model.width,
        depth=model.depth,
        pool=model.pool,
        fc_width=model.fc_width,
        arch=model.arch,
        weights=model.weights,
        weights_prefix=tuple((str(k), str(v)) for k, v in model.weights_prefix.items()),
    )


def trunk_shape(cfg: DictConfig) -> TrunkShape:
    return model_shape(cfg.model)


def bounded_steps(cfg: DictConfig, steps: int) -> int:
    """A fit's steps, at most ``trainer.max_steps`` under ``trainer=smoke`` (for every fit:
    stage 1, stages, fine-tuning), so a smoke run of any regime is quick."""
    return min(steps, cfg.trainer.max_steps) if cfg.trainer.smoke else steps


def fit_weighting(
    cfg: DictConfig, tasks: Sequence[TaskSpec], task_weights: dict[str, float] | None
) -> LossWeighting | None:
    """The configured loss weighting for a fit of several tasks; None (the masked loss's equal
    sum) for a single task, for ``mtl.weighting=equal``, and for fits whose regime sets its own
    task weights (a pipeline's auxiliary loss)."""
    weighting = cfg.mtl.weighting
    if weighting.name == "equal" or len(tasks) < 2 or task_weights is not None:
        return None
    return build_weighting(as_settings(weighting_settings(weighting.name), weighting), tasks)


def batch_bytes(ctx: RunContext) -> int:
    """The inputs of one training batch, in bytes (float32)."""
    return 4 * ctx.cfg.data.batch_size * math.prod(ctx.world.input_shape)


def seeded_datamodule(
    ctx: RunContext,
    tasks: Sequence[TaskSpec],
    max_steps: int,
    focus: tuple[Sequence[str], float] | None = None,
    steps_per_batch: int = 1,
) -> WorldDataModule:
    """A fit's data, after seeding the global RNG with the run's seed: what follows (the
    network's initialisation) draws the same numbers in a stacked fit as in a single one."""
    cfg = ctx.cfg
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    return WorldDataModule(
        ctx.world,
        tasks,
        {t.name: ctx.budgets[t.name] for t in tasks},
        seed=cfg.seed,
        batch_size=cfg.data.batch_size,
        n_val=cfg.data.n_val,
        n_test=cfg.data.n_test,
        materialise_max=0 if cfg.trainer.smoke else cfg.data.materialise_max,
        train_batches=max_steps,
        eval_cache=ctx.eval_cache,
        focus=focus,
        steps_per_batch=steps_per_batch,
        min_batch_rows=BACKBONES.get(cfg.model.backbone).spec.min_batch,
    )


def model_network(ctx: RunContext, tasks: Sequence[TaskSpec]) -> nn.Module:
    """The network ``model.*`` describes, with a head per task."""
    cfg = ctx.cfg
    return build_architecture(
        cfg.model.architecture,
        cfg.model.backbone,
        ctx.world.input_shape,
        trunk_shape(cfg),
        tasks,
        cfg.model.n_experts,
    )


def fit_loggers(ctx: RunContext, fit_name: str) -> list:
    """The W&B and CSV loggers of one fit of one seed."""
    cfg = ctx.cfg
    config = OmegaConf.to_container(cfg, resolve=True)
    return build_loggers(
        cfg.logger,
        ctx.output_dir,
        f"{cfg.name}-{cfg.regime.name}-{fit_name}-s{cfg.seed}",
        ctx.group,
        cfg.regime.name,
        config,  # type: ignore[arg-type]
    )


def fit_tasks(
    ctx: RunContext,
    tasks: Sequence[TaskSpec],
    fit_name: str,
    max_steps: int | None = None,
    prepare: PrepareNet | None = None,
    network: Callable[[], nn.Module] | None = None,
    task_weights: dict[str, float] | None = None,
    focus: tuple[Sequence[str], float] | None = None,
) -> FitOutcome:
    """Train one network with a head per task in ``tasks``; validate and test it.

    ``max_steps`` replaces ``trainer.max_steps`` (a stage has its own schedule; 0 evaluates
    without training); ``network`` builds another network than ``model.*`` describes (a
    pipeline stage, a composed pipeline); ``prepare`` initialises the network from elsewhere
    and says what to freeze; ``task_weights`` scales the tasks' losses; ``focus=(tasks,
    share)`` fills that share of every batch with rows labelled for one of ``tasks``.
    """
    cfg = ctx.cfg
    max_steps = bounded_steps(cfg, cfg.trainer.max_steps if max_steps is None else max_steps)
    start = time.perf_counter()
    group = steps_per_call(cfg.trainer, max_steps, batch_bytes(ctx))
    datamodule = seeded_datamodule(ctx, tasks, max_steps, focus, steps_per_batch=group)
    net = network() if network is not None else model_network(ctx, tasks)
    plan = prepare(net) if prepare is not None else FineTunePlan(frozen=[], lr_scales=[])
    module = TaskLabModule(
        net,
        tasks,
        lr=cfg.optim.lr,
        weight_decay=cfg.optim.weight_decay,
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        lr_scales=plan.lr_scales,
        frozen=plan.frozen,
        task_weights=task_weights,
        schedule=cfg.optim.schedule,
        total_steps=max_steps,
        weighting=fit_weighting(cfg, tasks, task_weights),
        affinity_every=cfg.mtl.affinity_every,
    )
    loggers = fit_loggers(ctx, fit_name)
    try:
        with quiet_lightning():
            trainer = build_trainer(
                cfg.trainer, loggers, ctx.output_dir, max(max_steps, 1), fit_name, group
            )
            if max_steps > 0:
                resume = resume_checkpoint(ctx.output_dir, fit_name)
                if resume is None and cfg.trainer.resume_from:
                    resume = resume_checkpoint(Path(cfg.trainer.resume_from), fit_name, own=False)
                    if resume is not None:
                        check_fits(resume, module)
                trainer.fit(module, datamodule=datamodule, ckpt_path=resume, weights_only=True)
            if module.validated_at_step != trainer.global_step:
                trainer.validate(module, datamodule=datamodule, verbose=False)
            trainer.test(module, datamodule=datamodule, verbose=False)
    finally:
        finish_wandb()
    labelled = datamodule.labelled_counts() if max_steps > 0 else {}
    if max_steps > 0 and not any(labelled.values()):
        print(
            f"tasklab-train: warning: fit {fit_name!r} has no labelled training row for "
            f"{', '.join(t.name for t in tasks)} (data.label_rate / n_train leave none); its "
            "metrics are those of the untrained network",
            file=sys.stderr,
        )
    return FitOutcome(
        name=fit_name,
        tasks=[t.name for t in tasks],
        metrics=dict(module.latest),
        n_params=count_parameters(net),
        n_labelled=labelled,
        steps=int(trainer.global_step),
        wall_time_s=time.perf_counter() - start,
        train_digest=datamodule.train_digest() if max_steps > 0 else "",
        affinity=module.affinity.means(),
        net=net,
        predictions=module.predictions,
    )


def check_fits(checkpoint: Path, module: torch.nn.Module) -> None:
    """A checkpoint from ``trainer.resume_from`` has this network's parameters, or one line
    names the keys that differ (another width, depth or task list) before training starts."""
    stored = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    own = module.state_dict()
    shapes = [
        f"{k} {tuple(stored[k].shape)} in the checkpoint, {tuple(v.shape)} here"
        for k, v in own.items()
        if isinstance(v, torch.Tensor)
        and isinstance(stored.get(k), torch.Tensor)
        and tuple(stored[k].shape) != tuple(v.shape)
    ]
    missing = sorted(set(own) - set(stored))
    extra = sorted(set(stored) - set(own))
    if not (shapes or missing or extra):
        return
    parts = [*shapes[:3]]
    if missing:
        parts.append(f"missing from the checkpoint: {', '.join(missing[:3])}")
    if extra:
        parts.append(f"not in this network: {', '.join(extra[:3])}")
    more = len(shapes) + len(missing) + len(extra) - len(parts)
    raise ConfigError(
        f"trainer.resume_from: {checkpoint} does not fit this network ({'; '.join(parts)}"
        f"{f'; {more} more' if more > 0 else ''}); resume with the model and tasks that run used"
    )


def set_threads(threads: int | None) -> None:
    if threads is not None:
        torch.set_num_threads(threads)
