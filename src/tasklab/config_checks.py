"""Checks that relate a config to its world and to other components; each failure is one line
naming the field and the fix. A component's own ranges and allowed values are declared on its
settings (``tasklab.settings.setting``) and checked here by ``check_settings``, so a new
setting gets its check where it is declared.
"""

from __future__ import annotations

import dataclasses
import netrc
import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from omegaconf import DictConfig
from pytorch_lightning.strategies import StrategyRegistry

from tasklab.config import (
    MAX_SEED,
    DataSettings,
    LoggerConfig,
    ModelConfig,
    OptimConfig,
    TrainerConfig,
)
from tasklab.data.world import MAX_INDEX, FiniteWorld, World
from tasklab.names import is_safe_name, unsafe_name_message
from tasklab.registry import ARCHITECTURES, BACKBONES, REGIMES, WEIGHTINGS
from tasklab.runs.checkpoints import CHECKPOINT_DIR, LAST, checkpoint_problem
from tasklab.settings import ConfigError, as_settings, check_settings, require
from tasklab.weightings import weighting_settings

__all__ = ["MAX_SEED", "ConfigError", "check_config", "require"]


def several_processes(trainer: DictConfig) -> bool:
    """Whether the run asks Lightning for more than one process (DDP and its kin)."""
    return trainer.strategy != "auto" or trainer.devices > 1 or trainer.num_nodes > 1


def check_rate(field: str, value: float) -> None:
    require(
        0.0 <= value <= 1.0, f"{field}={value} is outside [0, 1]; use a fraction of labels kept"
    )


def check_n_train(field: str, value: int) -> None:
    require(
        1 <= value <= MAX_INDEX,
        f"{field}={value} is out of range; use an integer in [1, {MAX_INDEX:,}]",
    )


def check_choice(field: str, value: str, allowed: tuple[str, ...] | list[str]) -> None:
    require(value in allowed, f"{field}={value!r} is unknown; allowed: {', '.join(allowed)}")


def check_rows(field: str, n: int, world: object, split: str = "train") -> None:
    """A size drawn from a user's file fits in the file's ``split`` (no-op for a procedural
    world, which has rows without end)."""
    if not isinstance(world, FiniteWorld):
        return
    rows = world.split_size(split)
    require(
        n <= rows,
        f"{field}={n:,} exceeds the {rows:,} {split} rows of your data; use at most {rows:,}"
        + (" (-1: all of them)" if field.startswith("data.") else ""),
    )


def check_config(cfg: DictConfig, world: World) -> None:
    """Raise ``ConfigError`` on the first bad value; the world gives tasks and input shape."""
    data = cfg.data
    regime = REGIMES.get(cfg.regime.name)
    require(
        0 <= cfg.seed <= MAX_SEED,
        f"seed={cfg.seed} is out of range; use an integer in [0, {MAX_SEED:,}]",
    )
    require(is_safe_name(cfg.name), unsafe_name_message("name", cfg.name))
    for path, schema, node in (
        (
            "data",
            DataSettings,
            {k: v for k, v in data.items() if k in DataSettings.__annotations__},
        ),
        ("model", ModelConfig, cfg.model),
        ("optim", OptimConfig, cfg.optim),
        ("trainer", TrainerConfig, cfg.trainer),
        ("logger", LoggerConfig, cfg.logger),
    ):
        check_settings(path, as_settings(schema, node))
    _check_chosen_by_group(cfg.regime, regime.settings, "regime", "regime")
    _check_chosen_by_group(
        cfg.mtl.weighting,
        weighting_settings(cfg.mtl.weighting.name),
        "mtl.weighting",
        "mtl/weighting",
    )
    if regime.settings is not None:
        check_settings("regime", as_settings(regime.settings, cfg.regime))
    _check_device(cfg.trainer)
    _check_wandb(cfg.logger)
    _check_data(data, world)
    _check_model(cfg, world, one_trunk=regime.spec.one_trunk)
    _check_weighting(cfg)
    if cfg.trainer.resume_from:
        check_resume_from(cfg.trainer.resume_from)
    if regime.spec.check is not None:
        regime.spec.check(cfg, world)


def _check_device(trainer: DictConfig) -> None:
    """The accelerator asked for is here and the strategy is one Lightning knows (Lightning
    would fail with a traceback)."""
    strategies = ("auto", *StrategyRegistry.available_strategies())
    require(
        trainer.strategy in strategies,
        f"trainer.strategy={trainer.strategy!r} is not a Lightning strategy; use auto, or ddp "
        "(trainer=ddp) for several processes; Lightning knows: "
        + ", ".join(strategies[:6])
        + ", …",
    )
    wanted = trainer.accelerator
    if wanted in ("gpu", "cuda"):
        require(
            torch.cuda.is_available(),
            f"trainer.accelerator={wanted} but this machine shows no CUDA GPU; use "
            "trainer.accelerator=auto (or cpu)",
        )
    if wanted == "mps":
        require(
            torch.backends.mps.is_available(),
            "trainer.accelerator=mps but Apple's MPS is not available here; use "
            "trainer.accelerator=auto (or cpu)",
        )


def _check_wandb(logger: DictConfig) -> None:
    """Online W&B needs credentials; without them W&B fails inside the first fit."""
    if not logger.wandb or logger.wandb_mode != "online" or os.environ.get("WANDB_API_KEY"):
        return
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        found = netrc.netrc().authenticators(host or "api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        found = False
    require(
        found,
        "logger.wandb_mode=online needs W&B credentials and none are configured here; run "
        "`wandb login` (or set WANDB_API_KEY), or keep logger.wandb_mode=offline and "
        "`wandb sync` the runs later",
    )


def _check_data(data: DictConfig, world: World) -> None:
    check_n_train("data.n_train", data.n_train)
    check_rows("data.n_train", data.n_train, world)
    require(len(data.tasks) > 0, "data.tasks is empty; name at least one task of the world")
    require(
        len(set(data.tasks)) == len(data.tasks), f"data.tasks={list(data.tasks)} repeats a task"
    )
    for name in data.tasks:
        check_choice("data.tasks", name, world.task_names)
        require(is_safe_name(name), unsafe_name_message("data.tasks", name))
    for name, n_train in data.n_train_by_task.items():
        check_choice("data.n_train_by_task", name, list(data.tasks))
        check_n_train(f"data.n_train_by_task.{name}", n_train)
        check_rows(f"data.n_train_by_task.{name}", n_train, world)
    for name, rate in data.label_rate_by_task.items():
        check_choice("data.label_rate_by_task", name, list(data.tasks))
        check_rate(f"data.label_rate_by_task.{name}", rate)
    check_rows("data.n_val", data.n_val, world, "val")
    check_rows("data.n_test", data.n_test, world, "test")


def _check_model(cfg: DictConfig, world: World, one_trunk: bool) -> None:
    """The backbone reads the world's inputs; the architecture suits the regime."""
    model, shape = cfg.model, tuple(world.input_shape)
    backbone = BACKBONES.get(model.backbone)
    ranks = backbone.spec.input_ranks
    require(
        ranks is None or len(shape) in ranks,
        f"model.backbone={model.backbone} reads inputs of {' or '.join(map(str, ranks or ()))} "
        f"dimensions but data.world={cfg.data.world} gives inputs of shape {shape}; "
        f"{backbone.spec.advice}",
    )
    architecture = ARCHITECTURES.get(model.architecture)
    require(
        architecture.spec.one_trunk or not one_trunk,
        f"model.architecture={model.architecture} has no single trunk to hand between fits, "
        f"which regime={cfg.regime.name} does; use model.architecture="
        + ", ".join(a.name for a in ARCHITECTURES if a.spec.one_trunk)
        + " or regime=multi_task / single_task",
    )


def _check_chosen_by_group(node: DictConfig, cls: type | None, path: str, group: str) -> None:
    """``regime.name=transfer`` renames the default regime's settings instead of choosing
    transfer's (they lack transfer's fields): one line that says how to choose it."""
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in node] if cls else []
    require(
        not missing,
        f"{path}.name={node.name} keeps the settings of another {path.split('.')[-1]}; choose "
        f"it with {group}={node.name} (without '{path}.name')",
    )


def _runs_under_ddp(weighting: type) -> bool:
    return not (
        getattr(weighting, "shared_gradients", False)
        or getattr(weighting, "needs_losses_after_step", False)
    )


def _check_weighting(cfg: DictConfig) -> None:
    """The weighting's declared checks, and what its kind needs from the rest of the run."""
    name = cfg.mtl.weighting.name
    component = WEIGHTINGS.get(name)
    settings = as_settings(weighting_settings(name), cfg.mtl.weighting)
    check_settings("mtl.weighting", settings)
    if component.spec.check_tasks is not None:
        component.spec.check_tasks(settings, list(cfg.data.tasks), "mtl.weighting")
    require(
        not (
            getattr(component.target, "needs_losses_after_step", False)
            and several_processes(cfg.trainer)
        ),
        f"mtl.weighting={name} learns its task weights from each process's own losses, so "
        "under DDP the processes would weigh differently; run it on one device "
        "(trainer=default)",
    )
    if not getattr(component.target, "shared_gradients", False):
        return
    require(
        BACKBONES.get(cfg.model.backbone).spec.trunk_parameters,
        f"mtl.weighting={name} works on a shared trunk's gradients and model.backbone="
        f"{cfg.model.backbone} has none; use model=mlp or model=cnn",
    )
    require(
        str(cfg.trainer.precision) not in ("16-mixed", "16"),
        f"trainer.precision={cfg.trainer.precision} scales the loss, and mtl.weighting={name} "
        "sets the trunk's gradients from unscaled per-task ones (the trunk would barely move); "
        "use trainer.precision=bf16-mixed or 32-true",
    )
    require(
        not several_processes(cfg.trainer),
        f"mtl.weighting={name} takes per-task gradients outside DDP's all-reduce, so the "
        "processes would drift apart; run it on one device (trainer=default) or choose a "
        "loss-based weighting ("
        + ", ".join(w.name for w in WEIGHTINGS if _runs_under_ddp(w.target))
        + ")",
    )


def check_resume_from(run_dir: str) -> None:
    """``trainer.resume_from`` names a folder holding readable checkpoints, or fails in one
    line before any training."""
    found = sorted((Path(run_dir) / CHECKPOINT_DIR).glob(f"*/{LAST}.ckpt"))
    if not found:
        raise ConfigError(
            f"trainer.resume_from={run_dir} holds no {CHECKPOINT_DIR}/<fit>/{LAST}.ckpt; give "
            "the folder of a run made with trainer.keep_checkpoints=true"
        )
    for path in found:
        if checkpoint_problem(path) is not None:
            raise ConfigError(
                f"trainer.resume_from: {path} is not a readable checkpoint; remove it or give "
                "another run's folder"
            )
