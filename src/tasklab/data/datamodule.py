"""Serves a world's tasks to Lightning: nested masked training sets, fixed validation and test.

Training examples are the indices [0, max n_train) of the world's training stream, keeping rows
with at least one known label among the selected tasks; validation and test come from their own
streams, fully labelled, and do not depend on any training size. Small training sets are
rendered once and kept on the device; larger ones are rendered batch by batch, so 1,000,000
examples cost no memory. Batches are dicts: ``x`` (B, ...), ``y`` (B, T) float with 0 where
unknown, ``mask`` (B, T) bool, columns in the order of ``tasks``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytorch_lightning as pl
import torch

from tasklab.data.batches import (
    Batch,
    BatchStream,
    EvalCache,
    MixedBatchStream,
    RenderedSplit,
    StepGroups,
    batches_to_device,
    render_stream,
)
from tasklab.data.label_masks import TaskBudget, label_mask
from tasklab.data.tasks import TaskSpec
from tasklab.data.worker_loading import WorkerBatches
from tasklab.data.world import TEST_STREAM, VAL_STREAM, World, train_stream


class WorldDataModule(pl.LightningDataModule):
    """The DataModule for every regime; which tasks and how many labels are its arguments."""

    def __init__(
        self,
        world: World,
        tasks: Sequence[TaskSpec],
        budgets: dict[str, TaskBudget],
        seed: int,
        batch_size: int = 128,
        n_val: int = 1000,
        n_test: int = 4000,
        materialise_max: int = 300_000,
        train_batches: int | None = None,
        eval_cache: EvalCache | None = None,
        focus: tuple[Sequence[str], float] | None = None,
        steps_per_batch: int = 1,
        min_batch_rows: int = 1,
    ) -> None:
        """``focus=(tasks, share)``: every training batch holds ``share`` rows labelled for
        one of ``tasks`` (``MixedBatchStream``); needs ``train_batches``.
        ``steps_per_batch`` > 1 hands Lightning lists of that many batches (``StepGroups``)."""
        super().__init__()
        self.steps_per_batch = steps_per_batch
        self.min_batch_rows = min_batch_rows  # a network that cannot train on fewer rows
        self.train_batches, self.focus = train_batches, focus
        # Validation and test do not depend on the tasks or sizes of a fit, so the fits of one
        # run (four in a single-task arm) can share one rendering through this cache.
        self.eval_cache: EvalCache = eval_cache if eval_cache is not None else {}
        self.world, self.tasks, self.budgets, self.seed = world, list(tasks), budgets, seed
        self.batch_size, self.n_val, self.n_test = batch_size, n_val, n_test
        self.materialise_max = materialise_max
        self.columns = torch.tensor([world.task_names.index(t.name) for t in self.tasks])
        self.splits: dict[str, RenderedSplit] = {}

    @property
    def device(self) -> torch.device:
        trainer = getattr(self, "trainer", None)
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    @property
    def _reads_disk(self) -> bool:
        """A world decoded from disk (images): its splits stay on the CPU, where DataLoader
        workers render them, and only as many rows as its cache holds are rendered ahead."""
        return getattr(self.world, "loader_workers", None) is not None

    def _cache_rows(self) -> int:
        return min(self.materialise_max, getattr(self.world, "cache_rows", self.materialise_max))

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        device = torch.device("cpu") if self._reads_disk else self.device
        n_max = max(self.budgets[t.name].n_train for t in self.tasks)
        index = torch.arange(n_max, device=device)
        mask = torch.stack(
            [
                label_mask(self.seed, index, int(c), self.budgets[t.name])
                for t, c in zip(self.tasks, self.columns, strict=True)
            ],
            dim=1,
        )
        stream = train_stream(self.seed)
        if getattr(self.world, "label_gaps", False):  # a file's own gaps: a row no fit task
            known = ~torch.isnan(self.world.labels(stream, index)[:, self.columns.to(device)])
            mask = mask & known  # labels is dropped, so it never dilutes a batch's loss
        keep = mask.any(dim=1)
        train_index, train_mask = index[keep], mask[keep]
        columns = self.columns.to(device)
        self.splits["train"] = RenderedSplit(
            self.world,
            stream,
            train_index,
            columns,
            train_mask,
            # an evaluation-only fit (train_batches=0) never draws a training batch
            materialise=len(train_index) <= self._cache_rows() and self.train_batches != 0,
        )
        for name, stream, n in (
            ("val", VAL_STREAM, self.n_val),
            ("test", TEST_STREAM, self.n_test),
        ):
            index = torch.arange(n, device=device)
            full = torch.ones(n, len(self.tasks), dtype=torch.bool, device=device)
            if self._reads_disk and n > self._cache_rows():  # decoded batch by batch
                self.splits[name] = RenderedSplit(self.world, stream, index, columns, full, False)
                continue
            key = (stream, n, str(device))
            if key not in self.eval_cache:
                self.eval_cache[key] = render_stream(self.world, stream, index)  # type: ignore[assignment]
            self.splits[name] = RenderedSplit(
                self.world, stream, index, columns, full, True, rendered=self.eval_cache[key]
            )

    def transfer_batch_to_device(
        self, batch: Batch | list[Batch], device: torch.device, dataloader_idx: int
    ) -> Batch | list[Batch]:
        return batches_to_device(batch, device)

    def labelled_counts(self) -> dict[str, int]:
        """Known training labels per task, as actually drawn (a streamed split of a procedural
        world cannot see labels it lacks until it renders them, so it counts them as
        budgeted; a file world tells its gaps without rendering)."""
        self.setup()
        counts = self.splits["train"].mask.sum(dim=0).tolist()
        return {t.name: int(c) for t, c in zip(self.tasks, counts, strict=True)}

    def train_digest(self) -> str:
        """A short hash of the training subset (stream, indices, label mask): two fits with the
        same digest trained on exactly the same examples and labels."""
        self.setup()
        split = self.splits["train"]
        digest = hashlib.sha256(str(split.stream).encode())
        digest.update(split.index.cpu().numpy().tobytes())
        digest.update(split.mask.cpu().numpy().tobytes())
        return digest.hexdigest()[:16]

    def _steps_done(self) -> int:
        """Optimiser steps already taken: non-zero when Lightning resumed from a checkpoint
        (it restores the step count before it asks for the training data)."""
        trainer = getattr(self, "trainer", None)
        return int(trainer.global_step) if trainer is not None else 0

    def _shard(self) -> tuple[int, int]:
        """This process's rank and the number of processes (DDP), else (0, 1)."""
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0, 1
        return int(trainer.global_rank), int(trainer.world_size)

    def train_dataloader(self) -> BatchStream | WorkerBatches | StepGroups:
        stream = self._loaded(self._train_stream())
        return StepGroups(stream, self.steps_per_batch) if self.steps_per_batch > 1 else stream

    def _loaded(self, stream: BatchStream) -> BatchStream | WorkerBatches:
        """A stream that decodes from disk, in the world's DataLoader workers; any other as
        it is (its batches are slices of memory, or rendered faster than workers start)."""
        workers = int(getattr(self.world, "loader_workers", 0) or 0)
        if not self._reads_disk or workers == 0 or stream.split.rendered:
            return stream
        return WorkerBatches(stream, workers, pin_memory=self.device.type == "cuda")

    def _train_stream(self) -> BatchStream:
        start, shard = self._steps_done(), self._shard()
        if self.focus is not None and self.train_batches:
            focus_tasks, share = self.focus
            names = [t.name for t in self.tasks]
            columns = [names.index(task) for task in focus_tasks]
            split = self.splits["train"]
            return MixedBatchStream(
                split,
                self.batch_size,
                self.seed,
                self.train_batches,
                split.mask[:, columns].any(dim=1),
                share,
                start,
                shard,
            )
        return BatchStream(
            self.splits["train"],
            self.batch_size,
            True,
            self.seed,
            total_batches=self.train_batches,
            start=start,
            shard=shard,
            min_rows=self.min_batch_rows,
        )

    def _eval_stream(self, split: str) -> BatchStream | WorkerBatches:
        size = max(self.batch_size, 512)
        stream = BatchStream(self.splits[split], size, False, self.seed, shard=self._shard())
        return self._loaded(stream)

    def val_dataloader(self) -> BatchStream | WorkerBatches:
        return self._eval_stream("val")

    def test_dataloader(self) -> BatchStream | WorkerBatches:
        return self._eval_stream("test")
