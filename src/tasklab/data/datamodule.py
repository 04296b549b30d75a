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
import math
from collections.abc import Iterator, Sequence

import pytorch_lightning as pl
import torch

from tasklab.data.counter_rng import hash_keys
from tasklab.data.label_masks import TaskBudget, label_mask
from tasklab.data.tasks import TaskSpec
from tasklab.data.world import TEST_STREAM, VAL_STREAM, World, as_model_input, train_stream

Batch = dict[str, torch.Tensor]
_RENDER_CHUNK = 4096


EvalCache = dict[tuple[int, int, str], tuple[torch.Tensor, torch.Tensor]]


def render_stream(
    world: World, stream: int, index: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """All inputs and all labels of ``index`` in ``stream``, rendered in chunks (None if empty)."""
    parts = [world.render(stream, chunk) for chunk in index.split(_RENDER_CHUNK)]
    if not parts:
        return None
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


class RenderedSplit:
    """Examples of one stream: rendered in advance (or handed over rendered), or on demand."""

    def __init__(
        self,
        world: World,
        stream: int,
        index: torch.Tensor,
        columns: torch.Tensor,
        mask: torch.Tensor,
        materialise: bool,
        rendered: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> None:
        self.world, self.stream, self.columns = world, stream, columns
        self.index, self.mask = index, mask
        self._x: torch.Tensor | None = None
        self._y: torch.Tensor | None = None
        if rendered is None and materialise:
            rendered = render_stream(world, stream, index)
        if rendered is not None:
            self._x, self._y = rendered[0], rendered[1][:, columns]
            self.mask = mask & ~torch.isnan(self._y)  # a label the data lack is never "known"
        elif hasattr(world, "labels"):  # a world that can tell its gaps without rendering
            self.mask = mask & ~torch.isnan(world.labels(stream, index)[:, columns])

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def batch(self, rows: torch.Tensor) -> Batch:
        """The examples at positions ``rows`` of this split, as model-ready tensors."""
        if self._x is not None and self._y is not None:
            x, y = self._x[rows], self._y[rows]
        else:
            x, y = self.world.render(self.stream, self.index[rows])
            y = y[:, self.columns]
        mask = self.mask[rows] & ~torch.isnan(y)
        return {
            "x": as_model_input(x),
            "y": torch.where(mask, y, torch.zeros_like(y)),
            "mask": mask,
            "index": self.index[rows],  # the examples' indices in the split's stream
        }


class BatchStream:
    """Batches over a split; each pass over the data is reshuffled from (seed, pass) alone.

    With ``total_batches`` one iteration runs that many batches across as many passes as it
    takes. Training is budgeted in steps, so one long iteration spares Lightning's per-epoch
    work, which otherwise dominates when a small data set gives epochs of a few tiny steps.
    ``start`` skips that many batches without rendering them: a fit resumed at step k sees
    exactly the batches an unbroken fit would have seen from step k on. ``shard=(rank,
    processes)`` keeps every ``processes``-th row of each batch from ``rank`` on: under DDP
    the processes share each batch, so the global batch and the data order are those of one
    process.
    """

    def __init__(
        self,
        split: RenderedSplit,
        batch_size: int,
        shuffle: bool,
        seed: int,
        total_batches: int | None = None,
        start: int = 0,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        self.split, self.batch_size, self.shuffle, self.seed = split, batch_size, shuffle, seed
        self.total_batches, self.start, self.shard = total_batches, start, shard
        self.passes = 0

    def _render(self, rows: torch.Tensor) -> Batch:
        rank, processes = self.shard
        return self.split.batch(rows[rank::processes] if processes > 1 else rows)

    @property
    def batches_per_pass(self) -> int:
        return math.ceil(len(self.split) / self.batch_size)

    def __len__(self) -> int:
        return self.total_batches or self.batches_per_pass

    def _one_pass(self, skip: int = 0) -> Iterator[Batch]:
        n = len(self.split)
        device = self.split.index.device
        if self.shuffle:
            generator = torch.Generator().manual_seed(int(hash_keys(self.seed, self.passes)))
            order = torch.randperm(n, generator=generator).to(device)
        else:
            order = torch.arange(n, device=device)
        self.passes += 1
        for rows in order.split(self.batch_size)[skip:]:
            yield self._render(rows)

    def __iter__(self) -> Iterator[Batch]:
        if self.total_batches is None:
            yield from self._one_pass()
            return
        produced = min(self.start, self.total_batches)
        self.passes, skip = divmod(produced, self.batches_per_pass)
        while produced < self.total_batches:
            for batch in self._one_pass(skip):
                yield batch
                produced += 1
                if produced == self.total_batches:
                    return
            skip = 0


class MixedBatchStream(BatchStream):
    """Batches that hold a fixed share of "focus" rows (those labelled for one task) and fill
    the rest from the other rows, each part reshuffled pass by pass on its own.

    A few hundred (x, y) pairs among tens of thousands of inputs labelled only with an
    auxiliary target would otherwise appear less than once per batch and be seen a handful of
    times in a whole fit; with a fixed share they are trained on as often as end to end.
    """

    def __init__(
        self,
        split: RenderedSplit,
        batch_size: int,
        seed: int,
        total_batches: int,
        focus: torch.Tensor,
        share: float,
        start: int = 0,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        super().__init__(split, batch_size, True, seed, total_batches, start, shard)
        device = split.index.device
        self.focus_rows = torch.nonzero(focus, as_tuple=True)[0].to(device)
        self.other_rows = torch.nonzero(~focus, as_tuple=True)[0].to(device)
        n_focus = round(share * batch_size) if len(self.other_rows) else batch_size
        self.n_focus = min(max(n_focus, 1), batch_size)

    def _cycle(self, rows: torch.Tensor, tag: int, per_batch: int) -> Iterator[torch.Tensor]:
        """Endless chunks of ``per_batch`` rows, each pass over ``rows`` freshly shuffled."""
        passes, buffer = 0, rows[:0]
        while True:
            while len(buffer) < per_batch:
                generator = torch.Generator().manual_seed(int(hash_keys(self.seed, tag, passes)))
                order = torch.randperm(len(rows), generator=generator).to(rows.device)
                buffer, passes = torch.cat([buffer, rows[order]]), passes + 1
            yield buffer[:per_batch]
            buffer = buffer[per_batch:]

    def __iter__(self) -> Iterator[Batch]:
        n_other = self.batch_size - self.n_focus
        focus = self._cycle(self.focus_rows, 1, self.n_focus)
        other = self._cycle(self.other_rows, 2, n_other) if n_other else None
        for step in range(self.total_batches or 0):
            rows = next(focus) if other is None else torch.cat([next(focus), next(other)])
            if step >= self.start:  # the rows of skipped batches are drawn, not rendered
                yield self._render(rows)


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
        focus: tuple[str, float] | None = None,
    ) -> None:
        """``focus=(task, share)``: every training batch holds ``share`` rows labelled for
        ``task`` (``MixedBatchStream``); needs ``train_batches``."""
        super().__init__()
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

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        device = self.device
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
            materialise=len(train_index) <= self.materialise_max and self.train_batches != 0,
        )
        for name, stream, n in (
            ("val", VAL_STREAM, self.n_val),
            ("test", TEST_STREAM, self.n_test),
        ):
            index = torch.arange(n, device=device)
            key = (stream, n, str(device))
            if key not in self.eval_cache:
                self.eval_cache[key] = render_stream(self.world, stream, index)  # type: ignore[assignment]
            full = torch.ones(n, len(self.tasks), dtype=torch.bool, device=device)
            self.splits[name] = RenderedSplit(
                self.world, stream, index, columns, full, True, rendered=self.eval_cache[key]
            )

    def transfer_batch_to_device(
        self, batch: Batch, device: torch.device, dataloader_idx: int
    ) -> Batch:
        """Batches are flat dicts of tensors, usually rendered on the device already; a dict
        comprehension costs less per step than Lightning's generic collection walk."""
        return {key: value.to(device, non_blocking=True) for key, value in batch.items()}

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

    def train_dataloader(self) -> BatchStream:
        start, shard = self._steps_done(), self._shard()
        if self.focus is not None and self.train_batches:
            task, share = self.focus
            column = [t.name for t in self.tasks].index(task)
            split = self.splits["train"]
            return MixedBatchStream(
                split,
                self.batch_size,
                self.seed,
                self.train_batches,
                split.mask[:, column],
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
        )

    def _eval_stream(self, split: str) -> BatchStream:
        size = max(self.batch_size, 512)
        return BatchStream(self.splits[split], size, False, self.seed, shard=self._shard())

    def val_dataloader(self) -> BatchStream:
        return self._eval_stream("val")

    def test_dataloader(self) -> BatchStream:
        return self._eval_stream("test")
