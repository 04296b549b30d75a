"""Regimes: orchestration only. Each maps a run context to the fits it made.

A regime is one module of this package registered with ``@REGIMES.register(name, ...)``:
``settings`` (its ``regime.*`` schema, a ``RegimeSettings`` subclass; fields declared
``arm=True`` define its arms), ``check(cfg, world)`` for what its settings' declarations
cannot say, ``arm(cfg)`` the arm's name in a comparison, and optionally ``arm_keys(cfg)`` /
``arm_axes(cfg)`` where they depend on the settings, and ``one_trunk=True`` where one trunk
is handed from fit to fit.
"""

from __future__ import annotations

from omegaconf import DictConfig

from tasklab.registry import REGIMES
from tasklab.settings import arm_fields, size_fields


def describe_arm(cfg: DictConfig) -> tuple[str, list[str], list[str]]:
    """The run's arm in a comparison, the config keys that define arms in its regime (never
    cell axes), and the settings that define *this* arm: runs of one name that differ in any
    of these are different arms (``report.records.arm_names``). All derive from the regime's
    declaration."""
    regime = REGIMES.get(cfg.regime.name)
    declared = [f"regime.{name}" for name in arm_fields(regime.settings)] if regime.settings else []
    name = regime.info["arm"](cfg) if "arm" in regime.info else cfg.regime.name
    axes = regime.info["arm_axes"](cfg) if "arm_axes" in regime.info else declared
    keys = regime.info["arm_keys"](cfg) if "arm_keys" in regime.info else declared
    return name, list(axes), list(keys)


def describe_sizes(cfg: DictConfig) -> list[str]:
    """The config keys of this run that are data sizes, as declared on the settings
    (``setting(..., size=True)``) of the shared schema, the worlds and the run's regime: a
    report draws learning curves against these and treats every other swept key as a
    category."""
    from tasklab.config import train_schema  # the schema is built from the registries

    regime = REGIMES.get(cfg.regime.name)
    keys = size_fields(train_schema(), "")
    if regime.settings is not None:
        keys += size_fields(regime.settings, "regime")
    return sorted(set(keys))
