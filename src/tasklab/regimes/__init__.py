"""Regimes: orchestration only. Each maps a run context to the fits it made.

A regime is one module of this package registered with ``@REGIMES.register(name, ...)``:
``settings`` (its ``regime.*`` schema, a ``RegimeSettings`` subclass; fields declared
``arm=True`` define its arms) and the fields of ``tasklab.registry.RegimeSpec`` it needs.
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
    spec = regime.spec
    name = spec.arm(cfg) if spec.arm is not None else cfg.regime.name
    axes = spec.arm_axes(cfg) if spec.arm_axes is not None else declared
    keys = spec.arm_keys(cfg) if spec.arm_keys is not None else declared
    return name, list(axes), list(keys)


def describe_reference(cfg: DictConfig) -> tuple[str, str]:
    """The arm this run's regime measures the others against, and the effect a report adds
    (``RegimeSpec.reference``/``reference_effect``; empty where it declares none)."""
    spec = REGIMES.get(cfg.regime.name).spec
    return spec.reference or "", spec.reference_effect or ""


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
