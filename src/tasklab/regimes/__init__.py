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


def describe_arm(cfg: DictConfig) -> tuple[str, list[str]]:
    """The run's arm in a comparison and the config keys that define arms."""
    if cfg.regime.name == "transfer":
        return transfer.arm(cfg), transfer.ARM_AXES
    if cfg.regime.name == "pipeline":
        return pipeline.arm(cfg), pipeline.ARM_AXES
    weighting = cfg.mtl.weighting.name
    if cfg.regime.name == "multi_task" and weighting != "equal":
        return f"multi_task/{weighting}", ["regime", *WEIGHTING_AXES]
    return cfg.regime.name, ["regime", *WEIGHTING_AXES]


# the keys that choose a weighting: part of the arm, not a swept axis of its own
WEIGHTING_AXES: list[str] = [
    "mtl/weighting",
    "mtl.weighting.name",
    "mtl.weighting.weights",
    "mtl.weighting.period",
    "mtl.weighting.temperature",
    "mtl.weighting.alpha",
]
