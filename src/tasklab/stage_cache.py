"""A cache of trained stages: train once per determining setting, reuse many times.

Transfer caches its pre-trained trunk (stage 1); a pipeline caches its x → z and z → y stages.
An entry is a directory named by a hash of every field that determines the stage's weights
(world, tasks, sizes, model, optimiser, schedule, seed: the settings that differ from their
defaults, and tasklab's ``TRAINING_VERSION``; see ``runs/ids.py``). It holds
``trunk.pt`` (weights only, loaded with ``weights_only=True``), ``config.json`` (those
fields plus the stage-1 record) and ``predictions.npz`` (the stage's per-example predictions on
its evaluation splits, so every run that reuses the stage can resample its metrics by example;
entries of earlier versions have none and their stage metrics stay seed-only). It is built
in a private temporary directory and renamed into place, so a reader sees a complete entry or
none; a file lock per key makes concurrent runs of a parallel sweep wait for the one that is
pre-training instead of training the same trunk twice.
An entry that cannot be read (damaged on disk) is set aside with one warning and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock

from tasklab.predictions import PREDICTIONS_FILE, RunPredictions, load_predictions, save_predictions
from tasklab.results import DiskFullError, disk_full, write_json_atomic
from tasklab.runs.checkpoints import tensor_bytes

TRUNK_FILE, CONFIG_FILE = "trunk.pt", "config.json"
State = dict[str, torch.Tensor]


class CacheEntryError(RuntimeError):
    """A cache entry exists but cannot be read."""


def cache_key(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


@dataclass
class CachedTrunk:
    state: State
    record: dict[str, Any]
    key: str
    path: Path
    hit: bool
    predictions: RunPredictions = field(default_factory=dict)


def _read(entry: Path, key: str) -> CachedTrunk:
    try:
        state = torch.load(entry / TRUNK_FILE, map_location="cpu", weights_only=True)
        record = json.loads((entry / CONFIG_FILE).read_text())
        stored = entry / PREDICTIONS_FILE
        predictions = load_predictions(stored) if stored.exists() else {}
    except Exception as error:
        raise CacheEntryError(
            f"stage cache entry {entry} is unreadable ({type(error).__name__}: "
            f"{str(error).strip().splitlines()[0] if str(error).strip() else ''})"
        ) from error
    return CachedTrunk(state, record.get("stage1", {}), key, entry, True, predictions)


def load_or_build(
    cache_dir: Path,
    fields: dict[str, Any],
    build: Callable[[], tuple[State, dict[str, Any], RunPredictions]],
    resolved_config: dict[str, Any] | None = None,
) -> CachedTrunk:
    """The trunk for ``fields``: read from ``cache_dir`` or, on a miss, ``build()`` and store it.

    ``build`` returns the trunk's state dict, a JSON-able record of the stage-1 fit and its
    per-example predictions;
    ``resolved_config``, the full config of the run that built it, is kept beside the weights.
    """
    key = cache_key(fields)
    entry = Path(cache_dir) / key
    if entry.is_dir():
        try:
            return _read(entry, key)
        except CacheEntryError:
            pass  # set aside and rebuilt below, under the lock
    entry.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(entry.parent / f"{key}.lock")):
        if entry.is_dir():  # another process built it while this one waited, or it is damaged
            try:
                return _read(entry, key)
            except CacheEntryError as error:
                aside = entry.parent / f".{key}.damaged.{uuid.uuid4().hex[:8]}"
                os.rename(entry, aside)
                print(
                    f"tasklab-train: warning: {error}; set aside as {aside}, rebuilding it",
                    file=sys.stderr,
                )
        # staging folders of builds a kill cut short (no one else builds this key: the lock)
        for stale in entry.parent.glob(f".{key}.*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        state, record, predictions = build()
        staging = entry.parent / f".{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        staging.mkdir()
        try:
            with open(staging / TRUNK_FILE, "wb") as handle:
                torch.save(state, handle)
                handle.flush()
                os.fsync(handle.fileno())
            save_predictions(staging, predictions)
            write_json_atomic(
                staging / CONFIG_FILE,
                {
                    "key": key,
                    "fields": fields,
                    "stage1": record,
                    "resolved_config": resolved_config,
                },
            )
            os.rename(staging, entry)
        except BaseException as error:
            shutil.rmtree(staging, ignore_errors=True)
            if disk_full(error) and not isinstance(error, DiskFullError):
                raise DiskFullError(entry.parent / TRUNK_FILE, tensor_bytes(state)) from error
            raise
    return CachedTrunk(state, record, key, entry, False, predictions)
