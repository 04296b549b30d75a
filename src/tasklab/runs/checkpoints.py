"""Periodic checkpoints that let a killed run continue where it stopped.

Each fit of a run keeps one checkpoint, ``<run dir>/checkpoints/<fit>/last.ckpt``, rewritten
every ``trainer.checkpoint_every_n_steps`` steps (Lightning writes it to a temporary file and
moves it into place, so a kill mid-write leaves the previous one). When a run starts and its
fit finds that file, it resumes from it: weights, optimiser and schedule state, the loss
weighting's state and the step count; the data stream skips the batches already trained on
(each batch is a function of the seed and its position), so on CPU with
``trainer.deterministic=true`` the resumed run ends bit-identical to an unbroken one.
Checkpoints are loaded with ``weights_only=True``. A run that ends ok deletes its checkpoints
unless ``trainer.keep_checkpoints=true``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pytorch_lightning.callbacks import ModelCheckpoint

from tasklab.results import write_text_atomic

CHECKPOINT_DIR = "checkpoints"
LAST = "last"
KEY_FILE = "config_key"


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


def resume_checkpoint(run_dir: Path, fit_name: str) -> Path | None:
    path = fit_checkpoint_dir(run_dir, fit_name) / f"{LAST}.ckpt"
    return path if path.is_file() else None


def remove_checkpoints(run_dir: Path) -> None:
    shutil.rmtree(Path(run_dir) / CHECKPOINT_DIR, ignore_errors=True)


def claim_checkpoints(run_dir: Path, key: str) -> None:
    """Keep the folder's checkpoints only if a run of this very config (``key``) left them: a
    changed experiment file launched into the same folder must not resume another config."""
    root = Path(run_dir) / CHECKPOINT_DIR
    key_file = root / KEY_FILE
    if root.exists():
        try:
            same = key_file.read_text().strip() == key
        except OSError:
            same = False
        if same:
            return
        remove_checkpoints(run_dir)
    write_text_atomic(key_file, key)
