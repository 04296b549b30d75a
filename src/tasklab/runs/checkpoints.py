"""Periodic checkpoints that let a killed run continue where it stopped.

Each fit of a run keeps one checkpoint, ``<run dir>/checkpoints/<fit>/last.ckpt``, rewritten
every ``trainer.checkpoint_every_n_steps`` steps, written atomically in its own folder
(``AtomicCheckpointIO``: a kill mid-write leaves the previous one, whatever filesystem the run
folder and ``$TMPDIR`` are on). A damaged ``last.ckpt`` (cut short, disk full, bit rot) never
blocks its run: it is set aside as ``last.ckpt.damaged`` with one warning line, and the fit
starts from step 0. When a run starts and its
fit finds that file, it resumes from it: weights, optimiser and schedule state, the loss
weighting's state and the step count; the data stream skips the batches already trained on
(each batch is a function of the seed and its position), so on CPU with
``trainer.deterministic=true`` the resumed run ends bit-identical to an unbroken one.
Checkpoints are loaded with ``weights_only=True``. A run that ends ok deletes its checkpoints
unless ``trainer.keep_checkpoints=true``, and only once its ``result.json`` is on disk.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.plugins.io import AsyncCheckpointIO

from tasklab.results import (
    DiskFullError,
    disk_full,
    remove_temporaries,
    write_atomic,
    write_text_atomic,
)

CHECKPOINT_DIR = "checkpoints"
LAST = "last"
KEY_FILE = "config_key"
DAMAGED_SUFFIX = ".damaged"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, but atomic on any filesystem: ``torch.save`` into a
    temporary file beside the checkpoint, fsync, rename (Lightning's own goes through a
    temporary file in ``$TMPDIR``, and across filesystems its move truncates the checkpoint
    and then copies: a kill during the copy leaves an empty ``last.ckpt``)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        write_atomic(
            Path(path),
            lambda handle: torch.save(checkpoint, handle),
            size_hint=tensor_bytes(checkpoint),
        )


def tensor_bytes(state: Any) -> int:
    """About what a checkpoint takes on disk: its tensors' bytes (the rest is small)."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, dict):
        return sum(tensor_bytes(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(tensor_bytes(v) for v in state)
    return 0


class BackgroundCheckpointIO(AsyncCheckpointIO):
    """Lightning's ``AsyncCheckpointIO``, except that a failed write found at teardown never
    hides the error a fit is already failing with: Lightning tears down inside its ``except``
    block, and the plain class would raise the write's error in place of the fit's (a NaN
    loss reported as a full disk). The write's error is then one warning line instead."""

    def teardown(self) -> None:
        failing_with = sys.exc_info()[1]
        try:
            super().teardown()
        except Exception as write_error:
            if failing_with is None:
                raise
            if write_error is failing_with or (
                isinstance(write_error, DiskFullError) and disk_full(failing_with)
            ):
                return  # the error the fit fails with already: said once, where it is raised
            print(
                "tasklab-train: warning: a checkpoint write also failed "
                f"({type(write_error).__name__}: {write_error})",
                file=sys.stderr,
            )
        finally:
            self._error = None  # reported once; a reused writer starts clean


def checkpoint_writer() -> AsyncCheckpointIO:
    """``AtomicCheckpointIO`` in a background thread (Lightning's ``AsyncCheckpointIO``: the
    checkpoint's tensors are copied on the training thread, then serialised, fsynced and
    renamed while training goes on). For a small model on a CPU, a synchronous checkpoint
    every 100 steps cost ~4% of the fit (``scripts/bench_throughput.py``). Writes happen in
    order, one at a time; the fit waits for the last one before it returns, and a write's
    error is raised at the next checkpoint or at the end of the fit, unless the fit is
    already failing with its own (``BackgroundCheckpointIO``). A kill mid-write leaves the
    previous checkpoint, as before."""
    return BackgroundCheckpointIO(AtomicCheckpointIO())


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` cannot be resumed from (None: it can)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # cut short, empty, not a checkpoint, unsafe pickle
        text = str(error).strip().splitlines()
        return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        return "not a Lightning checkpoint"
    return None


def fit_checkpoint_dir(run_dir: Path, fit_name: str) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / fit_name


def periodic_checkpoint(run_dir: Path, fit_name: str, every_n_steps: int) -> ModelCheckpoint:
    """Keeps the latest state of the fit in ``last.ckpt``, every ``every_n_steps`` steps."""
    return ModelCheckpoint(
        dirpath=str(fit_checkpoint_dir(run_dir, fit_name)),
        filename=LAST,
        monitor=None,
        save_top_k=1,
        every_n_train_steps=every_n_steps,
        save_on_train_epoch_end=False,
        enable_version_counter=False,
    )


def resume_checkpoint(run_dir: Path, fit_name: str, own: bool = True) -> Path | None:
    """The fit's checkpoint to resume from. A run's ``own`` damaged checkpoint is set aside
    with one warning line and the fit starts from step 0 (another run's folder, named by
    ``trainer.resume_from``, is checked before anything runs and never touched)."""
    path = fit_checkpoint_dir(run_dir, fit_name) / f"{LAST}.ckpt"
    if not path.is_file():
        return None
    if not own:
        return path
    problem = checkpoint_problem(path)
    if problem is None:
        return path
    aside = path.with_name(path.name + DAMAGED_SUFFIX)
    path.replace(aside)
    print(
        f"tasklab-train: warning: {path} cannot be resumed from ({problem}); set aside as "
        f"{aside.name}, the fit starts from step 0",
        file=sys.stderr,
    )
    return None


def remove_checkpoints(run_dir: Path) -> None:
    shutil.rmtree(Path(run_dir) / CHECKPOINT_DIR, ignore_errors=True)


def claim_checkpoints(run_dir: Path, key: str) -> None:
    """Keep the folder's checkpoints only if a run of this very config (``key``) left them: a
    changed experiment file launched into the same folder must not resume another config.
    Temporary files of writes a kill cut short are removed (this run holds the folder)."""
    root = Path(run_dir) / CHECKPOINT_DIR
    key_file = root / KEY_FILE
    remove_temporaries(root, recursive=True)
    if root.exists():
        try:
            same = key_file.read_text().strip() == key
        except OSError:
            same = False
        if same:
            return
        remove_checkpoints(run_dir)
    write_text_atomic(key_file, key)
