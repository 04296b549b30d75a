"""Regimes: orchestration only. Each maps a run context to the fits it made."""

from __future__ import annotations

from collections.abc import Callable

from omegaconf import DictConfig

from tasklab.data.world import World
from tasklab.regimes import multi_task, pipeline, single_task, transfer
from tasklab.regimes.fitting import FitOutcome, RunContext

Regime = Callable[[RunContext], list[FitOutcome]]

REGIMES: dict[str, Regime] = {
    "single_task": single_task.run,
    "multi_task": multi_task.run,
    "transfer": transfer.run,
    "pipeline": pipeline.run,
}

# A regime's own settings, checked after the shared ones and before any training.
RegimeCheck = Callable[[DictConfig, World], None]
REGIME_CHECKS: dict[str, RegimeCheck] = {"transfer": transfer.check, "pipeline": pipeline.check}


def weighting_keys(cfg: DictConfig) -> list[str]:
    """Every setting of the loss weighting, read from the config itself (not a list kept by
    hand), so a new setting of any weighting defines arms as soon as it exists."""
    return [f"mtl.weighting.{key}" for key in cfg.mtl.weighting if key != "name"]


def describe_arm(cfg: DictConfig) -> tuple[str, list[str], list[str]]:
    """The run's arm in a comparison, the config keys that define arms in its regime (never
    cell axes), and the settings that define *this* arm: runs of one name that differ in any
    of these are different arms (``report.records.arm_names``)."""
    if cfg.regime.name == "transfer":
        return transfer.arm(cfg), transfer.ARM_AXES, transfer.arm_keys(cfg)
    if cfg.regime.name == "pipeline":
        return pipeline.arm(cfg), pipeline.ARM_AXES, list(pipeline.ARM_AXES)
    axes = ["regime", "mtl/weighting", "mtl.weighting.name", *weighting_keys(cfg)]
    weighting = cfg.mtl.weighting.name
    if cfg.regime.name == "multi_task":
        name = "multi_task" if weighting == "equal" else f"multi_task/{weighting}"
        return name, axes, weighting_keys(cfg)
    # a weighting applies only to fits of several tasks: single-task arms ignore it
    return cfg.regime.name, axes, []
