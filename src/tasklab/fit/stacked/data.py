"""The members' data side by side: each member's own training stream, one evaluation stream.

Every member keeps the ``WorldDataModule`` its seed gives (subset, label masks, order,
resume skipping); a training batch stacks the members' batches of the same step. Members
whose training sets differ in size can reach a pass's short last batch at different steps:
their batches are padded with unlabelled zero rows, which add no loss and no gradient (a
network with batch statistics runs such steps in groups of equal size on the real rows only:
``StackedNet``).
Validation and test do not depend on the seed, so one stream serves every member.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytorch_lightning as pl
import torch

from tasklab.data.batches import Batch, BatchStream, StepGroups, batches_to_device
from tasklab.data.datamodule import WorldDataModule


def _pad(batch: Batch, size: int) -> Batch:
    missing = size - batch["x"].shape[0]
    if missing == 0:
        return batch
    padded = {}
    for key, value in batch.items():
        filler = value.new_zeros((missing, *value.shape[1:]))
        padded[key] = torch.cat([value, filler])
    return padded


class StackedBatches:
    """Zips the members' training streams into batches of (K, B, ...) plus ``rows`` (K,)."""

    def __init__(self, streams: Sequence[BatchStream]) -> None:
        self.streams = list(streams)

    def __len__(self) -> int:
        return min(len(s) for s in self.streams)

    def __iter__(self) -> Iterator[Batch]:
        for batches in zip(*self.streams, strict=True):
            size = max(b["x"].shape[0] for b in batches)
            rows = torch.tensor([b["x"].shape[0] for b in batches])
            padded = [_pad(b, size) for b in batches]
            stacked = {key: torch.stack([b[key] for b in padded]) for key in ("x", "y", "mask")}
            stacked["rows"] = rows.to(stacked["x"].device)
            yield stacked


class StackedDataModule(pl.LightningDataModule):
    def __init__(self, members: Sequence[WorldDataModule], steps_per_batch: int = 1) -> None:
        """``steps_per_batch`` > 1 hands Lightning lists of that many stacked batches."""
        super().__init__()
        self.members = list(members)
        self.steps_per_batch = steps_per_batch

    def setup(self, stage: str | None = None) -> None:
        for member in self.members:
            # a member asks the trainer for its device and, on resume, the steps already taken
            member.trainer = self.trainer
            if member.splits and member.splits["train"].index.device != member.device:
                member.splits.clear()  # sized on the CPU before the fit: render on its device
            member.setup(stage)

    def train_sizes(self) -> list[int]:
        """Each member's number of training rows."""
        for member in self.members:
            member.setup()
        return [len(member.splits["train"]) for member in self.members]

    def transfer_batch_to_device(
        self, batch: Batch | list[Batch], device: torch.device, dataloader_idx: int
    ) -> Batch | list[Batch]:
        return batches_to_device(batch, device)

    def train_dataloader(self) -> StackedBatches | StepGroups:
        stacked = StackedBatches([member.train_dataloader() for member in self.members])
        if self.steps_per_batch > 1:
            return StepGroups(stacked, self.steps_per_batch)  # type: ignore[arg-type]
        return stacked

    def val_dataloader(self) -> BatchStream:
        return self.members[0].val_dataloader()

    def test_dataloader(self) -> BatchStream:
        return self.members[0].test_dataloader()
