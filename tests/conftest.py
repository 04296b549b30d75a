"""Shared fixtures: compose the real ``conf/train.yaml`` with the overrides a user would type."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from tasklab.conf import CONF_DIR
from tasklab.config import register_configs

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

# Shrinks any config to a budget that runs in a second or two.
TINY = [
    "trainer=smoke",
    "trainer.max_steps=2",  # an experiment file's own trainer.max_steps would override smoke
    "data.n_train=64",
    "data.n_val=32",
    "data.n_test=32",
    "data.batch_size=16",
    "model.width=4",
]

# The same budget as command-line overrides of a whole run (sweeps, launchers, the CLI): a
# 2-step run of a width-4 network that writes no logs.
SMALL_RUN = [
    "trainer=smoke",
    "data.n_train=32",
    "data.n_val=16",
    "data.n_test=16",
    "data.batch_size=16",
    "model.width=4",
    "logger=none",
]

register_configs()


@pytest.fixture
def make_cfg() -> Callable[..., DictConfig]:
    def _make(*overrides: str) -> DictConfig:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="train", overrides=list(overrides))

    return _make


@pytest.fixture(autouse=True)
def _isolated_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
