"""The Lightning ``Trainer`` of one fit, and the Lightning messages that do not concern a user.

Filters apply only while a fit runs (``quiet_lightning``), never on import, so importing
tasklab changes nothing in a user's own process.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.utils.deterministic
from omegaconf import DictConfig
from pytorch_lightning.callbacks import TQDMProgressBar

from tasklab.config_checks import several_processes
from tasklab.runs.checkpoints import checkpoint_writer, periodic_checkpoint

# (message pattern, why it does not concern a tasklab user)
_SILENCED_WARNINGS = (
    # The only modules in eval mode when a fit starts are frozen transfer blocks, on purpose
    # (fixed BatchNorm statistics).
    r".*module\(s\) in eval mode at the start",
    # A fit resumed mid-stream is exact without Lightning's dataloader state: the training
    # stream skips the batches of the steps already taken (``WorldDataModule``).
    r".*your dataloader is not resumable",
    # Under DDP the logged evaluation metrics are torchmetrics' values, already gathered.
    r".*when logging on epoch level in distributed setting",
    # With manual optimisation a step's checkpoint holds the weights after that step's update,
    # which is what a resumed fit continues from (resumes are bit-identical, tests/test_resume).
    r".*Using ModelCheckpoint with manual optimization",
    # A fit without any labelled row (data.label_rate=0) is reported by tasklab in one line.
    r".*Total length of `\w+` across ranks is zero",
    # Lightning's own use of a torch API that torch has deprecated; nothing a user can change.
    r".*isinstance\(treespec, LeafSpec\)",
)
# Lightning's per-fit lines that tell a tasklab user nothing: its advert, "no GPU, none used"
# (a GPU present but unused is still reported), a fit stopping where it was asked to, and a
# short fit validating at every step (trainer.validations_per_fit asked for it).
_NOISE = (
    re.compile(r"`Trainer\(val_check_interval=1\)` was configured"),
    re.compile(r".*litlogger"),
    re.compile(r"GPU available: False, used: False$"),
    re.compile(r"TPU available: False, using: 0 TPU cores$"),
    re.compile(r"`Trainer.fit` stopped: `max_steps=\d+` reached\.$"),
)


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(pattern.match(message) for pattern in _NOISE)


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Hide, for the duration of a fit, Lightning's warnings that tasklab has made moot and
    its lines that say nothing (``_NOISE``); every other warning is shown as usual."""
    rank_zero = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    noise = _DropNoise()
    rank_zero.addFilter(noise)
    try:
        with warnings.catch_warnings():
            for pattern in _SILENCED_WARNINGS:
                warnings.filterwarnings("ignore", message=pattern)
            yield
    finally:
        rank_zero.removeFilter(noise)


def validation_interval(max_steps: int, passes: int) -> int:
    """Steps between validations for ``passes`` passes over a fit, the last at its end (the
    fit's own closing validation then reuses it); ``max_steps + 1`` (none inside the fit) for
    ``passes=0``."""
    return max(1, max_steps // passes) if passes > 0 else max_steps + 1


# At most this many steps per call, and at most GROUP_BYTES of inputs held at once: a call's
# batches are drawn before its first step. 64 steps of a tiny MLP take Lightning's per-call
# cost (~0.4 ms on a CPU) down to a few us a step; a CNN's larger batches get fewer.
MAX_STEPS_PER_CALL = 64
GROUP_BYTES = 64 * 2**20


def fit_validation_interval(tc: DictConfig, max_steps: int) -> int:
    return tc.val_every_n_steps or validation_interval(max_steps, tc.validations_per_fit)


def steps_per_call(tc: DictConfig, max_steps: int, batch_bytes: int = 0) -> int:
    """Optimiser steps per Lightning training call (``trainer.steps_per_call``): the largest
    number up to the asked one (auto: ``MAX_STEPS_PER_CALL``, and no more than ``GROUP_BYTES``
    of ``batch_bytes`` batches) that divides every step at which Lightning acts between calls
    — logging, validation, checkpoints — so each still happens after the same step. One under
    DDP (one backward per forward) and when resuming another run's checkpoint (its step need
    not fall on a boundary of this fit)."""
    if several_processes(tc) or tc.resume_from or tc.steps_per_call == 1:
        return 1
    boundaries = [tc.log_every_n_steps]
    interval = fit_validation_interval(tc, max_steps)
    if interval <= max_steps:
        boundaries.append(interval)
    if tc.checkpoint_every_n_steps > 0:
        boundaries.append(tc.checkpoint_every_n_steps)
    common = math.gcd(*boundaries)
    auto = min(MAX_STEPS_PER_CALL, max(1, GROUP_BYTES // max(1, batch_bytes)))
    cap = min(tc.steps_per_call or auto, common)
    return max(d for d in range(1, cap + 1) if common % d == 0)


class TrainingLossBar(TQDMProgressBar):
    """Lightning's progress bar with the module's last logging window's training loss
    (``bar_loss``). Put there with ``self.log(..., prog_bar=True)`` it cost ~1 ms per window
    of Lightning's result bookkeeping, ~1% of a tiny MLP's fit."""

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        loss = getattr(pl_module, "bar_loss", None)
        if loss is not None:
            metrics["loss"] = f"{loss:.3g}"
        return metrics


def build_trainer(
    tc: DictConfig,
    loggers: list,
    output_dir: Path,
    max_steps: int,
    fit_name: str,
    steps_per_batch: int = 1,
) -> pl.Trainer:
    """A Lightning trainer for one fit of ``max_steps`` steps, from the ``trainer`` settings;
    each training batch it sees holds ``steps_per_batch`` steps (``steps_per_call``)."""
    callbacks: list[pl.Callback] = []
    if tc.progress_bar:
        callbacks.append(TrainingLossBar(refresh_rate=tc.progress_refresh_rate))
    if tc.checkpoint_every_n_steps > 0:
        callbacks.append(periodic_checkpoint(output_dir, fit_name, tc.checkpoint_every_n_steps))
    val_interval = fit_validation_interval(tc, max_steps)
    if val_interval <= max_steps:  # Lightning counts its interval in batches
        val_interval //= steps_per_batch
    trainer = pl.Trainer(
        max_steps=max_steps,
        max_epochs=-1,
        accelerator=tc.accelerator,
        devices=tc.devices,
        strategy=tc.strategy,
        num_nodes=tc.num_nodes,
        precision=tc.precision,
        deterministic=tc.deterministic,
        logger=loggers or False,
        log_every_n_steps=max(1, tc.log_every_n_steps // steps_per_batch),  # in batches
        check_val_every_n_epoch=None,
        val_check_interval=val_interval,
        num_sanity_val_steps=0,
        enable_checkpointing=tc.checkpoint_every_n_steps > 0,
        enable_progress_bar=tc.progress_bar,
        enable_model_summary=False,
        callbacks=callbacks,
        plugins=[checkpoint_writer()],
        default_root_dir=str(output_dir),
    )
    if tc.deterministic:
        # Lightning's deterministic mode also makes torch fill every new tensor's memory (a
        # check for reads of uninitialised memory, which no tasklab op makes): ~5-10% of a
        # small model's step on a CPU, measured, and no effect on any value computed.
        torch.utils.deterministic.fill_uninitialized_memory = False
    return trainer
