"""A user's images on disk as a world: labels in memory, pixels decoded when a batch needs them.

Streams and nested subsets are those of a user's files (``file_world.LabelledRows``): run seed
s reads the training rows in one seeded order, so ``data.n_train=n`` takes its first n rows
and 1k ⊂ 10k ⊂ all for a seed. Only paths and labels are held; an image is read from disk when
a batch that holds it is rendered. A training set whose decoded images fit in
``cache_rows`` is rendered once and kept (``WorldDataModule``); a larger one is decoded batch
by batch, in DataLoader worker processes (``loader_workers``), so a data set larger than
memory trains without ever holding it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tasklab.data.file_world import LabelledRows, StagedRows
from tasklab.data.image_decoding import decode_batch
from tasklab.data.tasks import TaskSpec


class ImageWorld(LabelledRows):
    """``paths`` and ``labels`` per split ("train", "val", "test"); images are resized to
    ``size`` × ``size`` with ``channels`` (1 grey, 3 RGB) and decoded by ``threads`` threads."""

    def __init__(
        self,
        paths: dict[str, list[Path]],
        labels: dict[str, dict[str, np.ndarray]],
        task_specs: dict[str, TaskSpec],
        size: int,
        channels: int = 3,
        intermediate_names: tuple[str, ...] = (),
        stratify: str | None = None,
        threads: int = 2,
        loader_workers: int = 2,
        cache_mb: float = 1024.0,
    ) -> None:
        super().__init__(labels, task_specs, intermediate_names, stratify)
        self._paths = {split: list(p) for split, p in paths.items()}
        self.size, self.channels, self.threads = size, channels, threads
        self.loader_workers = loader_workers
        # rows whose decoded images fit the cache: more are decoded batch by batch
        self.cache_rows = int(cache_mb * 2**20 // (channels * size * size))
        # unreadable images left out under data.images.on_error=skip (kept in the record)
        self.skipped: list[str] = []

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.channels, self.size, self.size)

    def image_paths(self, stream: int, index: torch.Tensor) -> list[Path]:
        """The files of positions ``index`` of the stream."""
        split, rows = self.split_rows(stream, index)
        return [self._paths[split][int(r)] for r in rows]

    def render(self, stream: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, C, H, W) uint8 decoded from disk, and labels (NaN where unknown)."""
        split, rows = self.split_rows(stream, index)
        pixels = decode_batch(
            [self._paths[split][int(r)] for r in rows], self.size, self.channels, self.threads
        )
        y = self._y[split][rows]
        return torch.from_numpy(pixels).to(index.device), y.to(index.device)


class StagedImageWorld(StagedRows, ImageWorld):
    """Images with intermediate targets z in their manifest: a pipeline learns image → z,
    then z → ``target``."""

    def __init__(
        self, *args: object, intermediates: tuple[str, ...], target: str, **kwargs: object
    ) -> None:
        ImageWorld.__init__(self, *args, **kwargs)  # type: ignore[arg-type]
        self.set_stages(intermediates, target)
