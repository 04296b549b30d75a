"""Transfer A → B: pre-train a trunk on data-rich source tasks, train the target from it.

Stage 1 is cached (``stage_cache``), so a sweep over target sizes and fine-tune modes
pre-trains once per (source setting, seed). Stage 2 is the same fit as the scratch arm
(``n_source=0``) in every respect but the trunk's initial weights and what is frozen: the same
target subset, seed, validation set, head initialisation and number of steps.

``mode=joint`` is the multi-task answer to the same question: one network trained on the
source and target tasks at once, with the same labels as the two stages (``n_source`` per
source task, the target's budget) and their steps added up. Every record of a trained source
carries the source tasks' metrics as ``source/{split}/{task}/{metric}`` (the stage-1 fit's, or
the joint fit's), so a comparison shows what joint training costs the data-rich task.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from tasklab.config import RegimeSettings
from tasklab.config_checks import check_choice, check_rows, require
from tasklab.data.building import build_world, selected_tasks
from tasklab.data.label_masks import TaskBudget
from tasklab.data.shuffled_labels import ShuffledLabels
from tasklab.data.tasks import TaskSpec
from tasklab.data.world import MAX_INDEX, FiniteWorld, World
from tasklab.fit.fitting import FitOutcome, RunContext, fit_tasks, trunk_shape
from tasklab.fit.metrics import with_task_means
from tasklab.models.backbones import build_backbone, trunk_blocks
from tasklab.models.checkpoint_weights import (
    fit_to_trunk,
    is_hub,
    load_into_trunk,
    mapped,
    read_state,
    state_digest,
)
from tasklab.models.handoff import FINE_TUNE_MODES, fine_tune_plan, load_trunk, trunk_state
from tasklab.models.multihead import MultiHeadNet
from tasklab.predictions import RunPredictions, of_tasks, prefixed
from tasklab.regimes.stage_keys import fit_fields
from tasklab.registry import REGIMES
from tasklab.runs.ids import read_inputs
from tasklab.settings import setting
from tasklab.stage_cache import CachedTrunk, State, load_or_build

SOURCES: tuple[str, ...] = ("related", "control", "checkpoint")
# the fine-tune modes of a pre-trained trunk, joint training instead of two stages, and scratch
# (the reference arm, as n_source=0 is; the natural name where the source is a checkpoint)
MODES: tuple[str, ...] = (*FINE_TUNE_MODES, "joint", "scratch")
SOURCE_PREFIX = "source/"
SOURCE_SPLIT = SOURCE_PREFIX.rstrip("/")  # the source tasks' predictions: source/test, source/val


@dataclass
class TransferSettings(RegimeSettings):
    """Stage 1 pre-trains on ``source_tasks`` with ``n_source`` examples; stage 2 trains on
    ``data.tasks`` with ``data.n_train`` examples (the target budget) from the stage-1 trunk."""

    name: str = "transfer"
    source_tasks: list[str] = setting(
        factory=lambda: ["pedestrian", "car", "stop_sign", "traffic_light"]
    )
    n_source: int = setting(100_000, low=0, high=MAX_INDEX, arm=True, size=True, doc="0: scratch")
    # related, control (the same images with other images' labels), or checkpoint: no stage 1,
    # the trunk starts from regime.checkpoint
    source: str = setting("related", choices=SOURCES, arm=True)
    # source=checkpoint: a .safetensors / .pt / .pth state dict (its content hash joins the
    # run's identity), or torchvision:DEFAULT / timm:pretrained for model.arch
    checkpoint: str = setting("", reads=True, arm=True)
    checkpoint_prefix: dict[str, str] = setting(factory=dict, doc="key prefix → trunk's")
    # Overrides of the data config for the source world only, e.g. {driving: {noise_std: 0.4}}
    # for a source with other rendering statistics; its inputs must have the target's shape.
    source_data: dict[str, Any] = setting(factory=dict)
    # full, linear_probe (trunk frozen), partial (the first frozen_blocks frozen), or joint:
    # one multi-task fit on source and target tasks together instead of two stages
    mode: str = setting("full", choices=MODES, arm=True)
    # mode=joint: the share of every batch given to rows labelled for a target task (0: rows
    # sampled alike, so a small target appears in few batches); other modes ignore it, as
    # they ignore frozen_blocks unless partial
    target_share: float = setting(0.0, low=0, high=1, arm=True, doc="mode=joint only")
    frozen_blocks: int = setting(1, low=0, arm=True)
    trunk_lr_scale: float = setting(1.0, above=0, arm=True, doc="trunk lr: optim.lr × this")
    # Stage-1 steps: source_epochs passes over n_source, at least source_min_steps, at most
    # source_max_steps (0: no cap).
    source_epochs: float = setting(1.0, above=0)
    source_min_steps: int = setting(500, above=0)
    source_max_steps: int = setting(0, low=0)
    cache_dir: str = setting("${oc.env:TASKLAB_CACHE_DIR,cache/stage1}", identity=False)


_log = logging.getLogger(__name__)


def source_data_config(cfg: DictConfig) -> DictConfig:
    """The data config of the source world: the target's, with ``regime.source_data`` on top."""
    return OmegaConf.merge(cfg.data, cfg.regime.source_data)  # type: ignore[return-value]


def source_eval_config(cfg: DictConfig, source_world: World) -> DictConfig:
    """The run's config with the evaluation sizes of the source fit: a source file is scored
    on its own validation and test rows, at most as many as the target's."""
    if not isinstance(source_world, FiniteWorld):
        return cfg
    source_cfg = copy.deepcopy(cfg)
    source_cfg.data.n_val = min(cfg.data.n_val, source_world.split_size("val"))
    source_cfg.data.n_test = min(cfg.data.n_test, source_world.split_size("test"))
    return source_cfg


def arm(cfg: DictConfig) -> str:
    """``scratch``, or e.g. ``related/partial(k=2) n_source=100000``: what a comparison calls
    this run. Scratch runs are one arm whatever mode or source they were given."""
    regime = cfg.regime
    if is_scratch(regime):
        return "scratch"
    mode = f"partial(k={regime.frozen_blocks})" if regime.mode == "partial" else regime.mode
    if regime.mode == "joint" and regime.target_share > 0:
        mode += f"(target_share={regime.target_share:g})"
    elif regime.trunk_lr_scale != 1.0 and regime.mode != "linear_probe":
        mode += f"(trunk_lr×{regime.trunk_lr_scale:g})"
    if regime.source == "checkpoint":
        return f"checkpoint={checkpoint_name(regime.checkpoint)}/{mode}"
    return f"{regime.source}/{mode} n_source={regime.n_source}"


def is_scratch(regime: DictConfig) -> bool:
    return regime.n_source == 0 or regime.mode == "scratch"


def checkpoint_name(checkpoint: str) -> str:
    """A checkpoint as an arm names it: a file by its stem, published weights as given."""
    return checkpoint if is_hub(checkpoint) else Path(checkpoint).stem


def arm_keys(cfg: DictConfig) -> list[str]:
    """The settings that change what this arm trains (scratch: none; a linear probe never
    trains the trunk, so its learning-rate scale and frozen blocks do not matter)."""
    regime = cfg.regime
    if is_scratch(regime):
        return []
    keys = ["regime.n_source", "regime.source", "regime.mode"]
    if regime.source == "checkpoint":
        keys = ["regime.source", "regime.checkpoint", "regime.mode"]
    if regime.mode == "joint":
        return [*keys, "regime.target_share"]
    if regime.mode != "linear_probe":
        keys.append("regime.trunk_lr_scale")
    if regime.mode == "partial":
        keys.append("regime.frozen_blocks")
    return keys


def source_steps(regime: DictConfig, batch_size: int) -> int:
    """``source_epochs`` passes over ``n_source``, clamped to [min, max] steps."""
    steps = max(math.ceil(regime.source_epochs * regime.n_source / batch_size), 1)
    steps = max(steps, regime.source_min_steps)
    return min(steps, regime.source_max_steps) if regime.source_max_steps > 0 else steps


def stage1_fields(cfg: DictConfig) -> dict[str, Any]:
    """Everything that determines the stage-1 weights, and nothing that does not (the target
    tasks, target size and fine-tune mode are absent, so those sweeps share one entry)."""
    data, regime = source_data_config(cfg), cfg.regime
    return fit_fields(cfg, data, cfg.model, source_steps(regime, data.batch_size)) | {
        "source": regime.source,
        "source_tasks": list(regime.source_tasks),
        "n_source": regime.n_source,
    }


def _pretrain(ctx: RunContext) -> tuple[State, dict[str, Any], RunPredictions]:
    cfg, regime = ctx.cfg, ctx.cfg.regime
    world = build_world(source_data_config(cfg))
    source_world = ShuffledLabels(world, cfg.seed) if regime.source == "control" else world
    tasks = selected_tasks(source_world, regime.source_tasks)
    source_ctx = dataclasses.replace(
        ctx,
        cfg=source_eval_config(cfg, world),
        world=source_world,
        budgets={t.name: TaskBudget(n_train=regime.n_source) for t in tasks},
        eval_cache={},  # a control world labels the same images differently
    )
    steps = source_steps(regime, cfg.data.batch_size)
    fit = fit_tasks(source_ctx, tasks, fit_name="stage1", max_steps=steps)
    assert fit.net is not None
    record = {
        "steps": fit.steps,
        "wall_time_s": round(fit.wall_time_s, 3),
        "n_labelled": fit.n_labelled,
        "train_digest": fit.train_digest,
        "metrics": fit.metrics,
    }
    return trunk_state(fit.net), record, fit.predictions


def pretrained_trunk(ctx: RunContext) -> CachedTrunk:
    return load_or_build(
        Path(ctx.cfg.regime.cache_dir),
        stage1_fields(ctx.cfg),
        lambda: _pretrain(ctx),
        resolved_config=OmegaConf.to_container(ctx.cfg, resolve=True),  # type: ignore[arg-type]
    )


def _of_tasks(metrics: dict[str, float], names: list[str]) -> dict[str, float]:
    """The ``{split}/{task}/{metric}`` values of the tasks ``names`` (no means)."""
    return {k: v for k, v in metrics.items() if k.count("/") == 2 and k.split("/")[1] in names}


def source_metrics(metrics: dict[str, float], source_tasks: list[str]) -> dict[str, float]:
    """The source tasks' ``{split}/{task}/{metric}`` values and their means, each key prefixed
    with ``source/`` so they never mix with the target's."""
    own = with_task_means(_of_tasks(metrics, source_tasks))
    return {SOURCE_PREFIX + k: v for k, v in own.items()}


def _joint(ctx: RunContext, targets: list[TaskSpec]) -> FitOutcome:
    """One multi-task fit on source and target tasks with the two stages' labels and steps."""
    cfg, regime = ctx.cfg, ctx.cfg.regime
    sources = selected_tasks(ctx.world, regime.source_tasks)
    budgets = ctx.budgets | {t.name: TaskBudget(n_train=regime.n_source) for t in sources}
    steps = source_steps(regime, cfg.data.batch_size) + cfg.trainer.max_steps
    share = regime.target_share
    fit = fit_tasks(
        dataclasses.replace(ctx, budgets=budgets),
        [*sources, *targets],
        fit_name="joint",
        max_steps=steps,
        focus=(tuple(t.name for t in targets), share) if share > 0 else None,
    )
    names = [t.name for t in targets]
    fit.metrics = _of_tasks(fit.metrics, names) | source_metrics(
        fit.metrics, list(regime.source_tasks)
    )
    source_names = {t.name for t in sources}
    fit.predictions = of_tasks(fit.predictions, lambda task: task in names) | prefixed(
        of_tasks(fit.predictions, lambda task: task in source_names), SOURCE_SPLIT
    )
    fit.notes = {
        "arm": "joint",
        "n_source": regime.n_source,
        "source": regime.source,
        "mode": "joint",
        "target_share": share,
    }
    return fit


def run(ctx: RunContext) -> list[FitOutcome]:
    regime = ctx.cfg.regime
    targets = selected_tasks(ctx.world, ctx.cfg.data.tasks)
    if is_scratch(regime):
        fit = fit_tasks(ctx, targets, fit_name="scratch")
        fit.notes = {"arm": "scratch", "n_source": 0}
        return [fit]
    if regime.mode == "joint":
        return [_joint(ctx, targets)]
    if regime.source == "checkpoint":
        return [_from_checkpoint(ctx, targets)]
    trunk = pretrained_trunk(ctx)
    handoff: dict[str, list[str]] = {}

    def prepare(net: MultiHeadNet):
        report = load_trunk(net, trunk.state)
        if report.missing or report.unexpected:
            _log.warning(
                "stage-1 trunk hand-off: missing keys %s, unexpected keys %s",
                report.missing,
                report.unexpected,
            )
        handoff.update(missing=report.missing, unexpected=report.unexpected)
        return fine_tune_plan(net, regime.mode, regime.frozen_blocks, regime.trunk_lr_scale)

    fit = fit_tasks(ctx, targets, fit_name=regime.mode, prepare=prepare)
    fit.metrics |= source_metrics(trunk.record.get("metrics", {}), list(regime.source_tasks))
    fit.predictions |= prefixed(trunk.predictions, SOURCE_SPLIT)
    fit.notes = {
        "arm": "transfer",
        "n_source": regime.n_source,
        "source": regime.source,
        "mode": regime.mode,
        "handoff": handoff,
        "stage1": {
            "key": trunk.key,
            "cache_hit": trunk.hit,
            "path": str(trunk.path),
            **trunk.record,
        },
    }
    return [fit]


def checkpoint_state(cfg: DictConfig, world: World) -> dict[str, torch.Tensor]:
    """The trunk weights ``regime.checkpoint`` holds, keyed as ``model.*``'s trunk names them:
    a file read and renamed by ``regime.checkpoint_prefix``, or published weights that the
    backbone loads itself (torchvision:NAME, timm:pretrained)."""
    regime = cfg.regime
    shape = trunk_shape(cfg)
    if is_hub(regime.checkpoint):
        trunk, _ = build_backbone(
            cfg.model.backbone,
            world.input_shape,
            dataclasses.replace(shape, weights=regime.checkpoint),
        )
        return {k: v.detach().clone() for k, v in trunk.state_dict().items()}
    state = mapped(
        read_state(regime.checkpoint, "regime.checkpoint"), dict(regime.checkpoint_prefix)
    )
    trunk, _ = build_backbone(cfg.model.backbone, world.input_shape, shape)
    return fit_to_trunk(trunk, state, "regime.checkpoint", regime.checkpoint)


def _from_checkpoint(ctx: RunContext, targets: list[TaskSpec]) -> FitOutcome:
    """Stage 2 alone: the target's fit from the checkpoint's trunk, frozen as ``mode`` says."""
    regime = ctx.cfg.regime
    state = checkpoint_state(ctx.cfg, ctx.world)
    handoff: dict[str, list[str]] = {}

    def prepare(net: MultiHeadNet):
        missing, unexpected = load_into_trunk(
            net.trunk, state, "regime.checkpoint", regime.checkpoint
        )
        handoff.update(missing=missing, unexpected=unexpected)
        return fine_tune_plan(net, regime.mode, regime.frozen_blocks, regime.trunk_lr_scale)

    fit = fit_tasks(ctx, targets, fit_name=regime.mode, prepare=prepare)
    fit.notes = {
        "arm": "transfer",
        "source": "checkpoint",
        "mode": regime.mode,
        "checkpoint": {"path": regime.checkpoint, "state_digest": state_digest(state)},
        "handoff": handoff,
    }
    return fit


def check(cfg: DictConfig, world: World) -> None:
    """Transfer's own settings, checked before any training; one line per problem."""
    regime = cfg.regime
    if regime.source == "checkpoint":
        _check_checkpoint(cfg, world)
        return
    source_data = source_data_config(cfg)
    source_world = build_world(source_data)
    require(
        tuple(source_world.input_shape) == tuple(world.input_shape),
        f"regime.source_data gives source inputs of shape {tuple(source_world.input_shape)} but "
        f"the target's are {tuple(world.input_shape)}; transfer needs the same input x",
    )
    check_rows("regime.n_source", regime.n_source, source_world)
    require(len(regime.source_tasks) > 0, "regime.source_tasks is empty; name a source task")
    for name in regime.source_tasks:
        check_choice("regime.source_tasks", name, source_world.task_names)
    if regime.mode == "joint" and regime.n_source > 0:
        _check_joint(cfg)
    _check_frozen_blocks(cfg, world)


def _check_checkpoint(cfg: DictConfig, world: World) -> None:
    """A checkpoint source: named, not trained jointly, and fitting the trunk (read now, so a
    mismatch ends the run before any training)."""
    regime = cfg.regime
    require(
        regime.mode != "joint",
        "regime.mode=joint trains a source task with the target; a checkpoint has none: use "
        "full, linear_probe, partial or scratch",
    )
    require(
        bool(regime.checkpoint),
        "regime.source=checkpoint needs regime.checkpoint: a .safetensors/.pt/.pth file, or "
        "torchvision:DEFAULT",
    )
    _check_frozen_blocks(cfg, world)
    if not is_scratch(regime):
        checkpoint_state(cfg, world)


def _check_frozen_blocks(cfg: DictConfig, world: World) -> None:
    regime = cfg.regime
    blocks = trunk_blocks(
        build_backbone(cfg.model.backbone, world.input_shape, trunk_shape(cfg))[0]
    )
    require(
        regime.mode != "partial" or 0 <= regime.frozen_blocks <= len(blocks),
        f"regime.frozen_blocks={regime.frozen_blocks} is out of range for mode=partial: "
        f"model.backbone={cfg.model.backbone} has {len(blocks)} trunk blocks; use 0 to "
        f"{len(blocks)}",
    )


def _check_joint(cfg: DictConfig) -> None:
    """Joint training puts source and target tasks in one network on one set of inputs."""
    regime = cfg.regime
    require(
        regime.source == "related",
        f"regime.source={regime.source} cannot be trained jointly (its labels belong to other "
        "images); use regime.mode=full or linear_probe for the control source",
    )
    require(
        not regime.source_data,
        "regime.source_data gives the source its own world, which mode=joint cannot train in "
        "one network with the target; drop regime.source_data or use mode=full",
    )
    shared = sorted(set(regime.source_tasks) & set(cfg.data.tasks))
    require(
        not shared,
        f"regime.source_tasks and data.tasks both name {', '.join(shared)}; mode=joint needs "
        "each task once, as a source or a target",
    )


# one_trunk: a trunk is handed from one fit to the next (what model.architecture must allow)
def source_inputs(cfg: DictConfig) -> dict[str, dict[str, str]]:
    """The files a second source file (``regime.source_data.files``) brings to the run."""
    if not cfg.regime.get("source_data"):  # absent where the regime was not chosen whole
        return {}
    source = read_inputs(source_data_config(cfg), "regime.source_data.")
    own = read_inputs(cfg.data, "data.")
    # the target's own files are the run's inputs already; only what source_data replaces
    return {
        key: entry
        for key, entry in source.items()
        if own.get(key.replace("regime.source_data.", "data.", 1)) != entry
    }


REGIMES.register(
    "transfer",
    settings=TransferSettings,
    check=check,
    arm=arm,
    arm_keys=arm_keys,
    one_trunk=True,
    reads=source_inputs,
    reference="scratch",
    reference_effect="gain",
)(run)
