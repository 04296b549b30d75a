"""A user's data as a world: the same streams every regime reads, served from loaded arrays.

Regimes address data as (stream, index): the validation and test streams are the file's val
and test rows in file order; run seed s reads its training stream, the training rows in the
seeded order of ``file_splits.training_order``, so ``data.n_train=n`` takes the first n rows of
that order and a sweep's subsets are nested for a seed. Inputs and labels are tensors once,
at construction; a batch is an indexing, never a read from disk.
"""

from __future__ import annotations

import numpy as np
import torch

from tasklab.data.file_arrays import ArrayTable
from tasklab.data.file_splits import training_order
from tasklab.data.tasks import TaskSpec
from tasklab.data.world import TEST_STREAM, VAL_STREAM, train_stream
from tasklab.data.z_encoding import z_width


class LabelledRows:
    """The rows of a user's data without their inputs: labels, split sizes and the seeded
    training order every stream reads. A file world adds inputs held as arrays, an image world
    inputs decoded from disk. ``labels``: per split, a name → labels column (NaN unknown);
    ``stratify``: a class task whose proportions every training prefix keeps."""

    # a file may lack any label of any row: training subsets drop rows the fit cannot use
    label_gaps = True

    def __init__(
        self,
        labels: dict[str, dict[str, np.ndarray]],
        task_specs: dict[str, TaskSpec],
        intermediate_names: tuple[str, ...] = (),
        stratify: str | None = None,
    ) -> None:
        self._specs = dict(task_specs)
        # what a reader of the results should know about the data (classes never trained on)
        self.warnings: list[str] = []
        self.names = tuple(task_specs)
        self.intermediate_names = tuple(intermediate_names)
        self._sizes = {k: len(next(iter(cols.values()))) for k, cols in labels.items()}
        self._y = {
            k: torch.from_numpy(np.stack([cols[n] for n in self.names], axis=1).astype(np.float32))
            for k, cols in labels.items()
        }
        self._strata = None if stratify is None else labels["train"][stratify]
        self._orders: dict[int, torch.Tensor] = {}

    @property
    def task_names(self) -> tuple[str, ...]:
        return self.names

    @property
    def task_specs(self) -> dict[str, TaskSpec]:
        return dict(self._specs)

    def split_size(self, split: str) -> int:
        return self._sizes[split]

    def stream_size(self, stream: int) -> int:
        """Rows of the split that ``stream`` reads."""
        return self.split_size(self._rows(stream)[0])

    def _training_order(self, seed: int) -> torch.Tensor:
        if seed not in self._orders:
            rows = np.arange(self.split_size("train"))
            order = training_order(rows, seed, self._strata)
            self._orders[seed] = torch.from_numpy(order)
        return self._orders[seed]

    def _rows(self, stream: int) -> tuple[str, torch.Tensor | None]:
        if stream == VAL_STREAM:
            return "val", None
        if stream == TEST_STREAM:
            return "test", None
        seed = stream - train_stream(0)
        if seed < 0:
            raise ValueError(f"stream {stream} is neither validation, test nor training")
        return "train", self._training_order(seed)

    def split_rows(self, stream: int, index: torch.Tensor) -> tuple[str, torch.Tensor]:
        """The split ``stream`` reads and its rows at positions ``index`` (on the CPU)."""
        split, order = self._rows(stream)
        size = self.split_size(split)
        if len(index) and int(index.max()) >= size:
            raise IndexError(f"the {split} split has {size} rows; asked for row {int(index.max())}")
        return split, index.cpu() if order is None else order[index.cpu()]

    def labels(self, stream: int, index: torch.Tensor) -> torch.Tensor:
        """The labels of ``render`` without reading inputs: a split too large to render in
        advance still knows which of its labels the file lacks."""
        split, order = self._rows(stream)
        rows = index.cpu() if order is None else order[index.cpu()]
        return self._y[split][rows].to(index.device)


class FileWorld(LabelledRows):
    """A user's files as a world (data=files). ``splits``: "train", "val" and "test" tables with
    the same tasks and input shape.
    ``stratify``: a class task whose proportions every training prefix keeps."""

    def __init__(
        self,
        splits: dict[str, ArrayTable],
        task_specs: dict[str, TaskSpec],
        stratify: str | None = None,
    ) -> None:
        columns = {k: {**t.targets, **t.intermediates} for k, t in splits.items()}
        super().__init__(columns, task_specs, tuple(splits["train"].intermediates), stratify)
        # splits of one file share its x (one tensor, mapped or in memory) through x_rows
        self._x = {k: torch.from_numpy(t.x) for k, t in splits.items()}
        self._x_rows = {
            k: None if t.x_rows is None else torch.from_numpy(t.x_rows) for k, t in splits.items()
        }
        self._tables = list(splits.values())

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self._x["train"].shape[1:])

    @property
    def in_memory(self) -> bool:
        """Whether batches are cheap slices of memory (not reads from a mapped file)."""
        return not any(isinstance(t.x, np.memmap) for t in self._tables)

    def render(self, stream: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and labels (NaN where unknown) of positions ``index`` of the stream."""
        split, rows = self.split_rows(stream, index)
        y = self._y[split][rows]
        if self._x_rows[split] is not None:
            rows = self._x_rows[split][rows]  # type: ignore[index]
        x = self._x[split][rows]
        if x.dtype not in (torch.uint8, torch.float32):  # a mapped file of another dtype
            x = x.to(torch.float32)
        return x.to(index.device), y.to(index.device)


class StagedRows:
    """What a user's data with intermediate targets z adds to its world (a file's ``z_<name>``
    arrays or columns, a manifest's z columns): a pipeline learns x → z, then z → ``target``
    from z itself, as with measurements."""

    _specs: dict[str, TaskSpec]

    def set_stages(self, intermediates: tuple[str, ...], target: str) -> None:
        self._intermediates, self._target = intermediates, target

    @property
    def intermediate_tasks(self) -> tuple[str, ...]:
        return self._intermediates

    @property
    def target_task(self) -> str:
        return self._target

    @property
    def stage2_input_shape(self) -> tuple[int, ...]:
        return (z_width([self._specs[name] for name in self._intermediates]),)

    def stage2_input(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """z as ``z_encoding`` gives it, a regression z standardised by its typical value and
        spread (``TaskSpec.loc``, ``scale``): in its own units (heart widths of 12–17 cm) the
        first steps of stage 2 fit the class prior through the slope of z and learn the
        relation backwards. The same map reads stage 1's predictions when composed."""
        del x
        columns, start = [], 0
        for name in self._intermediates:
            spec = self._specs[name]
            width = spec.num_classes if spec.kind == "multiclass" else 1
            part = z[:, start : start + width]
            if spec.kind == "regression":
                part = (part - spec.loc) / spec.scale
            columns.append(part)
            start += width
        return torch.cat(columns, dim=1)


class StagedFileWorld(StagedRows, FileWorld):
    """A user's file with intermediate targets z (``z_<name>`` arrays or columns)."""

    def __init__(
        self,
        splits: dict[str, ArrayTable],
        task_specs: dict[str, TaskSpec],
        intermediates: tuple[str, ...],
        target: str,
        stratify: str | None = None,
    ) -> None:
        FileWorld.__init__(self, splits, task_specs, stratify)
        self.set_stages(intermediates, target)
