"""A batch stream rendered by DataLoader worker processes, for worlds that read from disk.

The stream still decides every batch's rows (its seeded order, its resumption, its DDP shard),
so a fit sees exactly the batches it would see rendered in the main process; the workers only
render them — decode the images — ahead of the step that needs them, in parallel with it.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from tasklab.data.batches import Batch, BatchStream


class _Rows(Sampler[torch.Tensor]):
    """The stream's batches as row positions: what the DataLoader hands its workers."""

    def __init__(self, stream: BatchStream) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self.stream.row_batches()

    def __len__(self) -> int:
        return len(self.stream)


class _Renderer(Dataset[Batch]):
    def __init__(self, stream: BatchStream) -> None:
        self.stream = stream

    def __getitem__(self, rows: torch.Tensor) -> Batch:  # type: ignore[override]
        return self.stream.render_rows(rows)

    def __len__(self) -> int:
        return len(self.stream)


class WorkerBatches:
    """Iterates ``stream``'s batches, rendered by ``workers`` processes (pinned in memory
    when ``pin_memory``, for a fast copy to a GPU)."""

    def __init__(self, stream: BatchStream, workers: int, pin_memory: bool = False) -> None:
        self.stream, self.workers, self.pin_memory = stream, workers, pin_memory

    def __len__(self) -> int:
        return len(self.stream)

    def __iter__(self) -> Iterator[Batch]:
        loader = DataLoader(
            _Renderer(self.stream),
            sampler=_Rows(self.stream),
            batch_size=None,  # each sampled item is already a whole batch's rows
            num_workers=self.workers,
            prefetch_factor=4,
            pin_memory=self.pin_memory,
        )
        yield from loader
