"""Batches of a world's examples: rendered splits kept on the device, and the training streams
that draw them (every row of a subset, or a share of each batch from one task's rows).

Batches are dicts: ``x`` (B, ...), ``y`` (B, T) float with 0 where unknown, ``mask`` (B, T)
bool, columns in the order of the fit's tasks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from tasklab.data.counter_rng import hash_keys
from tasklab.data.world import World, as_model_input

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

    @property
    def rendered(self) -> bool:
        """Whether its examples are held (a batch is a slice), not rendered on demand."""
        return self._x is not None

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
        min_rows: int = 1,
    ) -> None:
        self.split, self.batch_size, self.shuffle, self.seed = split, batch_size, shuffle, seed
        self.total_batches, self.start, self.shard = total_batches, start, shard
        self.min_rows = min_rows  # a pass's last batch of fewer rows joins the one before it
        self.passes = 0

    def _render(self, rows: torch.Tensor) -> Batch:
        rank, processes = self.shard
        return self.split.batch(rows[rank::processes] if processes > 1 else rows)

    @property
    def batches_per_pass(self) -> int:
        n = len(self.split)
        batches = math.ceil(n / self.batch_size)
        return batches - 1 if batches > 1 and self._short_tail(n) else batches

    def _short_tail(self, n: int) -> bool:
        return 0 < n % self.batch_size < self.min_rows

    def __len__(self) -> int:
        if len(self.split) == 0:  # no labelled row (data.label_rate=0): nothing to train on
            return 0
        return self.total_batches or self.batches_per_pass

    def _one_pass(self, skip: int = 0) -> Iterator[torch.Tensor]:
        n = len(self.split)
        device = self.split.index.device
        if self.shuffle:
            generator = torch.Generator().manual_seed(int(hash_keys(self.seed, self.passes)))
            order = torch.randperm(n, generator=generator).to(device)
        else:
            order = torch.arange(n, device=device)
        self.passes += 1
        chunks = list(order.split(self.batch_size))
        if len(chunks) > 1 and self._short_tail(n):
            chunks[-2:] = [torch.cat(chunks[-2:])]
        yield from chunks[skip:]

    def row_batches(self) -> Iterator[torch.Tensor]:
        """The positions in the split of each batch, in order, without rendering any: what a
        DataLoader's workers render (``worker_loading``)."""
        if len(self.split) == 0:
            return
        if self.total_batches is None:
            yield from self._one_pass()
            return
        produced = min(self.start, self.total_batches)
        self.passes, skip = divmod(produced, self.batches_per_pass)
        while produced < self.total_batches:
            for rows in self._one_pass(skip):
                yield rows
                produced += 1
                if produced == self.total_batches:
                    return
            skip = 0

    def render_rows(self, rows: torch.Tensor) -> Batch:
        """The batch of positions ``rows`` (this process's share of it under DDP)."""
        return self._render(rows)

    def __iter__(self) -> Iterator[Batch]:
        for rows in self.row_batches():
            yield self._render(rows)


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

    def row_batches(self) -> Iterator[torch.Tensor]:
        n_other = self.batch_size - self.n_focus
        focus = self._cycle(self.focus_rows, 1, self.n_focus)
        other = self._cycle(self.other_rows, 2, n_other) if n_other else None
        for step in range(self.total_batches or 0):
            rows = next(focus) if other is None else torch.cat([next(focus), next(other)])
            if step >= self.start:  # the rows of skipped batches are drawn, not rendered
                yield rows


def batches_to_device(batch: Batch | list[Batch], device: torch.device) -> Batch | list[Batch]:
    """A batch (or a ``StepGroups`` list of them) on ``device``. Batches are flat dicts of
    tensors, usually rendered on the device already; a dict comprehension costs less per step
    than Lightning's generic collection walk."""
    if isinstance(batch, list):
        return [
            {key: value.to(device, non_blocking=True) for key, value in b.items()} for b in batch
        ]
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}


class StepGroups:
    """A training stream's batches in lists of ``size``: what one Lightning call trains on
    (``trainer.steps_per_call``); the last list may be shorter."""

    def __init__(self, stream: BatchStream, size: int) -> None:
        self.stream, self.size = stream, size

    def __len__(self) -> int:
        return math.ceil(len(self.stream) / self.size)

    def __iter__(self) -> Iterator[list[Batch]]:
        group: list[Batch] = []
        for batch in self.stream:
            group.append(batch)
            if len(group) == self.size:
                yield group
                group = []
        if group:
            yield group
