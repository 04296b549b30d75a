"""Shared fixtures: compose the real ``conf/train.yaml`` with the overrides a user would type."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytorch_lightning as pl
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from tasklab.conf import CONF_DIR
from tasklab.config import register_configs
from tasklab.runs.ids import register_run_id_resolver

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

# Shrinks any config to a budget that runs in a second or two.
TINY = [
    "trainer=smoke",
    "trainer.max_steps=2",  # an experiment file's own trainer.max_steps would override smoke
    "trainer.smoke=false",  # stages keep the steps a test sets (test_smoke.py tests the bound)
    "data.n_train=64",
    "data.n_val=32",
    "data.n_test=32",
    "data.batch_size=16",
    "model.width=4",
]


# The same budget as command-line overrides of a whole run (sweeps, launchers, the CLI): a
# 2-step run of a width-4 network that writes no logs.
def bare_trainer(max_steps: int, **settings) -> pl.Trainer:
    """A Lightning Trainer on the CPU with nothing beside the fit (no logger, bar, checkpoints
    or summary), for tests that drive a module directly; ``settings`` add to or replace these."""
    return pl.Trainer(
        **{
            "max_steps": max_steps,
            "logger": False,
            "enable_progress_bar": False,
            "enable_checkpointing": False,
            "enable_model_summary": False,
            "accelerator": "cpu",
            **settings,
        }
    )


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
register_run_id_resolver()  # the resolvers configs use (train.py registers them too)


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


@dataclass
class CliRun:
    """What a command run in this process left: its exit status and its output."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliRun]:
    """Run an entry point's ``main`` in this process with ``argv``: the code path of the
    command without a second interpreter start (torch and Lightning import in ~6 s)."""

    def _run(main: Callable[..., object], *argv: str, prog: str = "tasklab-train") -> CliRun:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", [prog, *argv])
        try:
            code = main()
        except SystemExit as exit_info:
            code = exit_info.code
        out, err = capsys.readouterr()
        return CliRun(int(code or 0) if not isinstance(code, str) else 1, out, err)

    return _run


def require_vision() -> None:
    """Skip a test of standard networks where torchvision is not importable, except where
    ``TASKLAB_REQUIRE_VISION`` is set (make test-all's vision pass), where that fails it."""
    try:
        import safetensors  # noqa: F401
        import timm  # noqa: F401
        import torchvision  # noqa: F401
    except (ImportError, RuntimeError) as error:
        if os.environ.get("TASKLAB_REQUIRE_VISION"):
            pytest.fail(f"the vision extra is required here but does not import: {error}")
        pytest.skip(
            f"the vision extra is not importable here ({type(error).__name__}); make test-all "
            "runs it in .venv-vision"
        )
