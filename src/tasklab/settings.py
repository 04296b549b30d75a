"""Settings declared once, beside the component they configure.

A component's settings are a dataclass: its fields are the config schema Hydra validates
types against, their defaults are the only defaults, and each field's metadata declares the
rest — the range or allowed values ``check_settings`` enforces, whether the setting makes an
arm different (``arm``), whether it belongs to a run's identity at all (``identity``:
a progress bar or a log interval changes nothing a run learns), and whether it is a data
size (``size``: a count of examples, pairs or source examples that a learning curve may be
drawn against; every other swept setting is a category, never a curve's axis), and whether
it names a file the run reads (``reads``: its content joins the run's identity).

    @dataclass
    class DwaSettings(WeightingSettings):
        period: int = setting(50, above=0, arm=True, doc="steps per window")
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

S = TypeVar("S")


# ``reads=`` of a folder: a glob after this prefix fingerprints each file by size and
# modification time, not content (a folder of many images; ``runs/fingerprints.py``)
STAT_LISTING = "stat:"


class ConfigError(ValueError):
    """A config value is out of range or unknown; the message names the field and the fix."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def setting(
    default: Any = dataclasses.MISSING,
    *,
    factory: Callable[[], Any] | None = None,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    choices: Sequence[str] | None = None,
    arm: bool = False,
    identity: bool = True,
    size: bool = False,
    reads: bool | str = False,
    doc: str = "",
) -> Any:
    """A dataclass field with its checks: ``low``/``high`` inclusive bounds, ``above`` an
    exclusive lower bound, ``choices`` the allowed values; ``arm`` marks a setting that makes
    one arm of a comparison differ from another; ``identity=False`` one that never changes
    what a run learns (display, logging, where files go); ``size`` a data size, a count of
    examples (learning curves, crossovers and data-unit answers are drawn against it; a
    dict-valued size holds one count per key, as per-task budgets do); ``reads`` a path the
    run reads (a data file; for a folder, a glob of the files read under it): its content's
    fingerprint joins the run's identity, so a changed file re-runs the runs that read it."""
    metadata = {
        "low": low,
        "high": high,
        "above": above,
        "choices": tuple(choices) if choices is not None else None,
        "arm": arm,
        "identity": identity,
        "size": size,
        "reads": reads,
        "doc": doc,
    }
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) and abs(value) >= 10_000 else f"{value:g}"


def check_field(path: str, value: Any, meta: Mapping[str, Any]) -> None:
    """One field's declared checks; the message names ``path`` and what to use instead."""
    choices = meta.get("choices")
    if choices is not None:
        require(value in choices, f"{path}={value!r} is unknown; allowed: {', '.join(choices)}")
        return
    if value is None or isinstance(value, (bool, str)) or not isinstance(value, (int, float)):
        return
    require(math.isfinite(value), f"{path}={value} is not a finite number; give one")
    low, high, above = meta.get("low"), meta.get("high"), meta.get("above")
    doc = f" ({meta['doc']})" if meta.get("doc") else ""
    if low is not None and high is not None:
        require(
            low <= value <= high,
            f"{path}={value} is out of range; use {_number(low)} to {_number(high)}{doc}",
        )
    elif low is not None:
        require(value >= low, f"{path}={value} must be >= {_number(low)}{doc}")
    elif high is not None:
        require(value <= high, f"{path}={value} must be <= {_number(high)}{doc}")
    if above is not None:
        require(value > above, f"{path}={value} must be > {_number(above)}{doc}")


def check_settings(path: str, settings: object) -> None:
    """Every declared check of a settings instance (nested settings too), then its own
    ``check(path)`` for what relates two fields (a minimum below its maximum)."""
    for spec in dataclasses.fields(settings):  # type: ignore[arg-type]
        value = getattr(settings, spec.name)
        if dataclasses.is_dataclass(value):
            check_settings(f"{path}.{spec.name}", value)
        else:
            check_field(f"{path}.{spec.name}", value, spec.metadata)
    own = getattr(settings, "check", None)
    if callable(own):
        own(path)


def as_settings(cls: type[S], node: DictConfig | Mapping[str, Any]) -> S:
    """The typed settings a component is built from: the config node merged onto the class's
    defaults (so a plain YAML without a schema is validated too), interpolations resolved —
    against the whole config first, so ``${data.vectors.n_tasks}`` in a world's settings
    means what it means where it is written."""
    if isinstance(node, DictConfig):
        resolved = OmegaConf.to_container(node, resolve=True)
        typed = OmegaConf.get_type(node)  # kept: a later schema's subclass merges as before
        if typed is not None and dataclasses.is_dataclass(typed):
            node = OmegaConf.merge(OmegaConf.structured(typed), resolved)
        else:
            node = resolved  # type: ignore[assignment]
    merged = OmegaConf.merge(OmegaConf.structured(cls), node)
    return OmegaConf.to_object(merged)  # type: ignore[return-value]


def kwargs(settings: object, skip: Sequence[str] = ("name",)) -> dict[str, Any]:
    """A settings instance as the keyword arguments of its component's constructor."""
    return {
        spec.name: getattr(settings, spec.name)
        for spec in dataclasses.fields(settings)  # type: ignore[arg-type]
        if spec.name not in skip
    }


def arm_fields(cls: type) -> list[str]:
    """The names of the settings declared ``arm=True``."""
    return [spec.name for spec in dataclasses.fields(cls) if spec.metadata.get("arm")]


def size_fields(cls: type, prefix: str) -> list[str]:
    """The config keys under ``prefix`` of the settings declared ``size=True``, nested
    settings included (``data.n_train``, ``regime.n_source``)."""
    keys = []
    for spec in dataclasses.fields(cls):
        key = f"{prefix}.{spec.name}" if prefix else spec.name
        if spec.metadata.get("size"):
            keys.append(key)
        elif spec.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            # nested settings (their types are strings under postponed annotations)
            default = spec.default_factory()  # type: ignore[misc]
            if dataclasses.is_dataclass(default):
                keys += size_fields(type(default), key)
    return keys
