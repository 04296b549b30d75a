"""A user's arrays served as a world: streams, nested seeded subsets and missing labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tasklab.data.datamodule import WorldDataModule
from tasklab.data.file_arrays import ArrayTable
from tasklab.data.file_world import FileWorld
from tasklab.data.label_masks import TaskBudget
from tasklab.data.tasks import TaskSpec
from tasklab.data.world import TEST_STREAM, VAL_STREAM, train_stream

SPECS = {
    "digit": TaskSpec("digit", "multiclass", num_classes=3),
    "size": TaskSpec("size", "regression"),
}


def _table(n: int, offset: int) -> ArrayTable:
    rows = np.arange(offset, offset + n)
    digit = (rows % 3).astype(np.float64)
    digit[rows % 5 == 0] = np.nan  # one row in five unlabelled
    return ArrayTable(
        "mem",
        np.stack([rows, -rows], axis=1).astype(np.float32),
        {"digit": digit, "size": rows / 10.0},
        {},
    )


def _world(stratify=None) -> FileWorld:
    splits = {"train": _table(60, 0), "val": _table(10, 100), "test": _table(15, 200)}
    return FileWorld(splits, SPECS, stratify=stratify)


def test_val_and_test_are_the_files_rows_in_order():
    world = _world()
    x, y = world.render(TEST_STREAM, torch.arange(15))
    np.testing.assert_array_equal(x[:, 0].numpy(), np.arange(200, 215))
    assert world.input_shape == (2,) and world.task_names == ("digit", "size")
    assert torch.isnan(y[:, 0]).sum() == 3 and not torch.isnan(y[:, 1]).any()
    vx, _ = world.render(VAL_STREAM, torch.arange(3))
    np.testing.assert_array_equal(vx[:, 0].numpy(), [100, 101, 102])


def test_training_subsets_are_nested_per_seed_and_differ_between_seeds():
    world = _world()
    small, _ = world.render(train_stream(0), torch.arange(10))
    large, _ = world.render(train_stream(0), torch.arange(40))
    torch.testing.assert_close(large[:10], small)
    other, _ = world.render(train_stream(1), torch.arange(40))
    assert not torch.equal(other, large)
    everything, _ = world.render(train_stream(1), torch.arange(60))
    np.testing.assert_array_equal(np.sort(everything[:, 0].numpy()), np.arange(60))
    with pytest.raises(IndexError, match="the train split has 60 rows; asked for row 60"):
        world.render(train_stream(0), torch.arange(61))


def test_stratified_training_prefixes_hold_every_class():
    _, y = _world(stratify="digit").render(train_stream(0), torch.arange(10))
    digit = y[:, 0]
    known = ~torch.isnan(digit)
    assert int((~known).sum()) == 2  # one row in five unlabelled, in the prefix too
    counts = torch.bincount(digit[known].long(), minlength=3)
    assert sorted(counts.tolist()) == [2, 3, 3]  # 8 labelled rows: the classes interleaved


def test_datamodule_on_a_file_world_trains_only_on_known_labels():
    budgets = {"digit": TaskBudget(40, 1.0), "size": TaskBudget(40, 1.0)}
    dm = WorldDataModule(_world(), list(SPECS.values()), budgets, seed=0, n_val=10, n_test=15)
    counts = dm.labelled_counts()
    _, y = _world().render(train_stream(0), torch.arange(40))
    assert counts == {"digit": int((~torch.isnan(y[:, 0])).sum()), "size": 40}
    assert counts["digit"] < 40


def test_a_single_task_fit_drops_rows_without_its_label_and_averages_over_the_rest():
    """Regression: a single-task fit on a file kept the rows its task lacks, so the loss was
    divided by a batch that included them (against the loss's docstring)."""
    from torch.nn import functional as F

    from tasklab.fit.losses import masked_multitask_loss

    spec = SPECS["digit"]
    dm = WorldDataModule(
        _world(),
        [spec],
        {"digit": TaskBudget(60, 1.0)},
        seed=0,
        batch_size=16,
        n_val=10,
        n_test=15,
    )
    dm.setup()
    train = dm.splits["train"]
    assert len(train) == 48 and bool(train.mask.all())  # 60 rows, one in five unlabelled
    batch = next(iter(dm.train_dataloader()))
    logits = torch.randn(len(batch["y"]), 3, generator=torch.Generator().manual_seed(0))
    loss, _, _ = masked_multitask_loss([spec], {"digit": logits}, batch["y"], batch["mask"])
    expected = F.cross_entropy(logits, batch["y"][:, 0].long(), reduction="mean")
    torch.testing.assert_close(loss, expected)
