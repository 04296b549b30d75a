"""Experiment loggers: Weights & Biases (offline by default) and CSV, one set per fit."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger


def build_loggers(
    logger_cfg: DictConfig,
    save_dir: Path,
    run_name: str,
    group: str,
    job_type: str,
    config: dict[str, Any],
) -> list[Logger]:
    """The runs of one comparison share ``group``; the arm (regime) is the ``job_type``."""
    loggers: list[Logger] = []
    if logger_cfg.csv:
        loggers.append(CSVLogger(save_dir=str(save_dir), name="csv", version=run_name))
    if logger_cfg.wandb and logger_cfg.wandb_mode != "disabled":
        import wandb

        # W&B prints ~35 lines a run (its history, how to sync); tasklab's own end-of-run line
        # says where the run is. WANDB_SILENT=false brings W&B's lines back.
        silent = os.environ.get("WANDB_SILENT", "true").lower() not in ("false", "0")
        wandb_logger = WandbLogger(
            project=logger_cfg.project,
            group=group,
            job_type=job_type,
            name=run_name,
            save_dir=str(save_dir),
            mode=logger_cfg.wandb_mode,
            config=config,
            # W&B lists every installed package at each run's start (a cost per run in a
            # sweep); the run's result.json records the versions that matter instead
            settings=wandb.Settings(silent=silent, x_save_requirements=False),
        )
        # Lightning always passes ``anonymous`` (None when unset), and W&B now warns in every
        # run that the setting "has no effect": leaving it out changes nothing else.
        wandb_logger._wandb_init.pop("anonymous", None)
        loggers.append(wandb_logger)
    return loggers


def finish_wandb() -> None:
    """Close the active W&B run, if any; without this, later runs of a multirun hang. A
    process that never imported wandb has no run (and need not pay wandb's import)."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()
