"""Defaults live in one place, the settings classes: a packaged YAML that restates one fails.

A group's YAML (``data/driving.yaml``) is compared with its schema's defaults; an experiment,
a delta on top of the groups it selects, is compared with what those groups already give.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from tasklab.conf import CONF_DIR
from tasklab.config import LoggerConfig, ModelConfig, TrainerConfig, data_schema

GROUP_SCHEMAS = {"data": data_schema(), "model": ModelConfig, "trainer": TrainerConfig}
GROUP_SCHEMAS["logger"] = LoggerConfig


def _leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out |= _leaves(value, f"{prefix}{key}.")
        return out
    return {prefix.rstrip("."): node}


def _body(path: Path) -> dict[str, Any]:
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    assert isinstance(raw, dict)
    return {k: v for k, v in raw.items() if k not in ("defaults", "hydra")}


GROUP_FILES = [p for group in GROUP_SCHEMAS for p in sorted((CONF_DIR / group).glob("*.yaml"))]
EXPERIMENT_FILES = sorted((CONF_DIR / "experiment").glob("*.yaml"))


def test_the_checks_below_see_every_packaged_yaml():
    assert len(GROUP_FILES) >= 12 and len(EXPERIMENT_FILES) >= 8


@pytest.mark.parametrize("path", GROUP_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_group_yaml_sets_only_what_differs_from_its_schema(path):
    defaults = OmegaConf.to_container(OmegaConf.structured(GROUP_SCHEMAS[path.parent.name]))
    restated = {
        key: value
        for key, value in _leaves(_body(path)).items()
        if OmegaConf.select(OmegaConf.create(defaults), key, default=object()) == value
    }
    assert not restated, f"{path.relative_to(CONF_DIR)} restates schema defaults: {restated}"


def _group_choices(path: Path) -> list[str]:
    raw = OmegaConf.load(path)
    choices = []
    for entry in raw.get("defaults", []):
        if isinstance(entry, str):
            continue
        for key, value in entry.items():
            group = str(key).replace("override ", "").strip().lstrip("/")
            if value is not None and "experiment" not in group:
                choices.append(f"{group}={value}")
    return choices


@pytest.mark.slow
@pytest.mark.parametrize("path", EXPERIMENT_FILES, ids=lambda p: p.stem)
def test_an_experiment_sets_only_what_its_groups_do_not_already_give(path):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        base = compose(config_name="train", overrides=_group_choices(path))
    restated = {
        key: value
        for key, value in _leaves(_body(path)).items()
        if OmegaConf.select(base, key, default=object()) == value
    }
    assert not restated, f"{path.name} restates what its groups give: {restated}"
