"""Checks the schema cannot express; each failure is one line naming the field and the fix."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from tasklab.data.world import MAX_INDEX, World
from tasklab.models.backbones import BACKBONES, POOLS
from tasklab.models.mtl_architectures import ARCHITECTURES
from tasklab.runs.checkpoints import CHECKPOINT_DIR, LAST
from tasklab.weighting import WEIGHTINGS

SCHEDULES: tuple[str, ...] = ("constant", "cosine")
MAX_SEED = 2**31 - 1  # every stream of random numbers is keyed by it; negatives would alias


class ConfigError(ValueError):
    """A config value is out of range or unknown; the message names the field and the fix."""


def several_processes(trainer: DictConfig) -> bool:
    """Whether the run asks Lightning for more than one process (DDP and its kin)."""
    return trainer.strategy != "auto" or trainer.devices > 1 or trainer.num_nodes > 1


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


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


def check_positive(field: str, value: float) -> None:
    require(value > 0, f"{field}={value} must be > 0")


def check_rows(field: str, n: int, world: object, split: str = "train") -> None:
    """A size drawn from a user's file fits in the file's ``split`` (no-op for a procedural
    world, which has rows without end)."""
    split_size = getattr(world, "split_size", None)
    if split_size is None:
        return
    rows = split_size(split)
    require(
        n <= rows,
        f"{field}={n:,} exceeds the {rows:,} {split} rows of data.files; use at most {rows:,}"
        " (-1: all of them)",
    )


def check_config(cfg: DictConfig, world: World, regimes: tuple[str, ...]) -> None:
    """Raise ``ConfigError`` on the first bad value; the world gives tasks and input shape."""
    data = cfg.data
    task_names, input_shape = world.task_names, world.input_shape
    check_choice("regime.name", cfg.regime.name, regimes)
    require(
        0 <= cfg.seed <= MAX_SEED,
        f"seed={cfg.seed} is out of range; use an integer in [0, {MAX_SEED:,}]",
    )
    check_choice("model.backbone", cfg.model.backbone, BACKBONES)
    require(
        cfg.model.backbone != "cnn" or len(input_shape) == 3,
        f"model.backbone=cnn needs images but data.world={data.world} gives inputs of shape "
        f"{tuple(input_shape)}; use model=mlp",
    )
    require(
        cfg.model.backbone != "cnn1d" or len(input_shape) in (1, 2),
        f"model.backbone=cnn1d needs signals (L,) or (C, L) but data.world={data.world} gives "
        f"inputs of shape {tuple(input_shape)}; use model=cnn for images, model=mlp for vectors",
    )
    check_n_train("data.n_train", data.n_train)
    check_rows("data.n_train", data.n_train, world)
    check_rate("data.label_rate", data.label_rate)
    require(len(data.tasks) > 0, "data.tasks is empty; name at least one task of the world")
    require(
        len(set(data.tasks)) == len(data.tasks), f"data.tasks={list(data.tasks)} repeats a task"
    )
    for name in data.tasks:
        check_choice("data.tasks", name, task_names)
    for name, n_train in data.n_train_by_task.items():
        check_choice("data.n_train_by_task", name, list(data.tasks))
        check_n_train(f"data.n_train_by_task.{name}", n_train)
        check_rows(f"data.n_train_by_task.{name}", n_train, world)
    for name, rate in data.label_rate_by_task.items():
        check_choice("data.label_rate_by_task", name, list(data.tasks))
        check_rate(f"data.label_rate_by_task.{name}", rate)
    if data.world == "driving":
        knobs = data.driving
        for field in ("presence_prob", "decoy_rate", "rim_contrast"):
            check_rate(f"data.driving.{field}", knobs[field])
        require(
            0 <= knobs.n_clutter <= 24,
            f"data.driving.n_clutter={knobs.n_clutter} is out of range; use 0 to 24",
        )
        require(
            8 <= knobs.image_size <= 256,
            f"data.driving.image_size={knobs.image_size} is out of range; use 8 to 256",
        )
        require(
            0 < knobs.min_object_size <= knobs.max_object_size <= 1,
            "data.driving.min_object_size/max_object_size must satisfy 0 < min <= max <= 1",
        )
    if data.world == "bone_age":
        _check_bone_age(data.bone_age)
    if data.world == "face_id":
        _check_face_id(data.face_id)
    for field in ("batch_size", "n_val", "n_test"):
        check_positive(f"data.{field}", data[field])
    check_rows("data.n_val", data.n_val, world, "val")
    check_rows("data.n_test", data.n_test, world, "test")
    check_positive("model.width", cfg.model.width)
    require(cfg.model.depth >= 0, f"model.depth={cfg.model.depth} must be >= 0")
    check_choice("model.pool", cfg.model.pool, POOLS)
    check_choice("model.architecture", cfg.model.architecture, ARCHITECTURES)
    check_positive("model.n_experts", cfg.model.n_experts)
    require(
        cfg.model.architecture == "hard" or cfg.regime.name in ("single_task", "multi_task"),
        f"model.architecture={cfg.model.architecture} works with regime=multi_task or "
        f"single_task; regime={cfg.regime.name} hands one shared trunk between fits, so use "
        "model.architecture=hard",
    )
    require(cfg.model.fc_width >= 0, f"model.fc_width={cfg.model.fc_width} must be >= 0")
    check_positive("optim.lr", cfg.optim.lr)
    check_choice("optim.schedule", cfg.optim.schedule, SCHEDULES)
    require(
        cfg.optim.weight_decay >= 0, f"optim.weight_decay={cfg.optim.weight_decay} must be >= 0"
    )
    _check_weighting(cfg.mtl.weighting, list(data.tasks))
    require(
        cfg.mtl.weighting.name not in ("gradnorm", "pcgrad") or cfg.model.backbone != "linear",
        f"mtl.weighting={cfg.mtl.weighting.name} works on a shared trunk's gradients and "
        "model.backbone=linear has none; use model=mlp or model=cnn",
    )
    check_positive("trainer.max_steps", cfg.trainer.max_steps)
    check_positive("trainer.log_every_n_steps", cfg.trainer.log_every_n_steps)
    require(
        cfg.trainer.checkpoint_every_n_steps >= 0,
        f"trainer.checkpoint_every_n_steps={cfg.trainer.checkpoint_every_n_steps} must be >= 0 "
        "(0: no checkpoints)",
    )
    check_positive("trainer.devices", cfg.trainer.devices)
    check_positive("trainer.num_nodes", cfg.trainer.num_nodes)
    require(
        cfg.trainer.threads is None or cfg.trainer.threads >= 1,
        f"trainer.threads={cfg.trainer.threads} must be >= 1 (or null: torch's default)",
    )
    if cfg.trainer.resume_from:
        check_resume_from(cfg.trainer.resume_from)
    require(
        cfg.mtl.weighting.name not in ("gradnorm", "pcgrad") or not several_processes(cfg.trainer),
        f"mtl.weighting={cfg.mtl.weighting.name} takes per-task gradients outside DDP's "
        "all-reduce, so the processes would drift apart; run it on one device "
        "(trainer=default) or choose a loss-based weighting (static, uncertainty, dwa)",
    )
    check_choice("logger.wandb_mode", cfg.logger.wandb_mode, ("offline", "online", "disabled"))


def _check_at_least(field: str, value: float, low: float) -> None:
    require(value >= low, f"{field}={value} must be >= {low:g}")


def _check_bone_age(knobs: DictConfig) -> None:
    require(
        16 <= knobs.image_size <= 256,
        f"data.bone_age.image_size={knobs.image_size} is out of range; use 16 to 256",
    )
    require(
        0 <= knobs.age_min < knobs.age_max,
        f"data.bone_age.age_min={knobs.age_min}, age_max={knobs.age_max}: need 0 <= min < max",
    )
    for field in ("noise_std", "size_sd", "bone_sd", "plate_gap"):
        _check_at_least(f"data.bone_age.{field}", knobs[field], 0.0)
    require(
        knobs.plate_gap <= 0.1,
        f"data.bone_age.plate_gap={knobs.plate_gap} is too wide for the image; use 0 to 0.1",
    )
    check_positive("data.bone_age.plate_closure_age", knobs.plate_closure_age)


def _check_face_id(knobs: DictConfig) -> None:
    require(
        8 <= knobs.image_size <= 256,
        f"data.face_id.image_size={knobs.image_size} is out of range; use 8 to 256",
    )
    require(
        4 <= knobs.crop_size <= knobs.image_size,
        f"data.face_id.crop_size={knobs.crop_size} must be in [4, data.face_id.image_size]",
    )
    require(
        2 <= knobs.n_identities <= 1000,
        f"data.face_id.n_identities={knobs.n_identities} is out of range; use 2 to 1000",
    )
    require(
        0 < knobs.min_face <= knobs.max_face <= 0.9,
        "data.face_id.min_face/max_face must satisfy 0 < min <= max <= 0.9",
    )
    require(
        0 <= knobs.n_clutter <= 24,
        f"data.face_id.n_clutter={knobs.n_clutter} is out of range; use 0 to 24",
    )
    for field in ("noise_std", "identity_jitter"):
        _check_at_least(f"data.face_id.{field}", knobs[field], 0.0)
    require(
        0 <= knobs.body_cue <= 1,
        f"data.face_id.body_cue={knobs.body_cue} is out of range; use 0 (everyone dressed"
        " alike) to 1",
    )


def _check_weighting(weighting: DictConfig, tasks: list[str]) -> None:
    check_choice("mtl.weighting.name", weighting.name, WEIGHTINGS)
    check_positive("mtl.weighting.period", weighting.period)
    check_positive("mtl.weighting.temperature", weighting.temperature)
    require(weighting.alpha >= 0, f"mtl.weighting.alpha={weighting.alpha} must be >= 0")
    check_positive("mtl.weighting.lr_scale", weighting.lr_scale)
    if weighting.name != "static":
        return
    missing = [t for t in tasks if t not in weighting.weights]
    require(
        not missing,
        f"mtl.weighting.weights has no weight for {missing}; name every task of data.tasks, "
        "e.g. +mtl.weighting.weights={" + ", ".join(f"{t}: 1.0" for t in tasks) + "}",
    )
    for name, value in weighting.weights.items():
        require(value >= 0, f"mtl.weighting.weights.{name}={value} must be >= 0")


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
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            ok = isinstance(checkpoint, dict) and "state_dict" in checkpoint
        except Exception:  # any unreadable file: truncated, not a checkpoint, unsafe pickle
            ok = False
        if not ok:
            raise ConfigError(
                f"trainer.resume_from: {path} is not a readable checkpoint; remove it or give "
                "another run's folder"
            )
