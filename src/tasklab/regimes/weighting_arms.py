"""Arm identity in sweeps over loss weightings, shared by the multi- and single-task regimes.

A weighting changes what a multi-task fit learns, so its name and its settings declared
``arm=True`` tell multi-task arms apart; single-task fits ignore the weighting, but a sweep
over weightings must still treat those keys as arm keys (never cell axes) for both regimes.
"""

from __future__ import annotations

from omegaconf import DictConfig

from tasklab.registry import WEIGHTINGS
from tasklab.settings import arm_fields


def weighting_keys(cfg: DictConfig) -> list[str]:
    """The settings of the chosen loss weighting that its declaration marks as arm-defining."""
    component = WEIGHTINGS.get(cfg.mtl.weighting.name)
    fields = arm_fields(component.settings) if component.settings else []
    return [f"mtl.weighting.{name}" for name in fields]


def arm_axes(cfg: DictConfig) -> list[str]:
    """Keys that tell arms apart in a sweep over weightings (never cell axes)."""
    return ["regime", "mtl/weighting", "mtl.weighting.name", *weighting_keys(cfg)]
