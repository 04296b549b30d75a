"""Splits of a user file and nested, seeded (optionally stratified) training subsets."""

from __future__ import annotations

import numpy as np
import pytest

from tasklab.data.building import build_world
from tasklab.data.file_splits import split_rows, training_order


def test_splits_are_disjoint_cover_every_row_and_are_seeded():
    parts = split_rows(1000, val=0.1, test=0.2, seed=3)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [700, 100, 200]
    together = np.concatenate(list(parts.values()))
    np.testing.assert_array_equal(np.sort(together), np.arange(1000))
    again = split_rows(1000, val=0.1, test=0.2, seed=3)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    assert not np.array_equal(parts["test"], split_rows(1000, 0.1, 0.2, seed=4)["test"])


@pytest.mark.parametrize(("val", "test"), [(-0.1, 0.2), (0.5, 0.5), (1.0, 0.0)])
def test_bad_split_fractions(val, test):
    with pytest.raises(ValueError, match="must be >= 0 and sum below 1"):
        split_rows(10, val, test, seed=0)


def test_training_order_is_a_seeded_permutation_of_the_rows():
    rows = np.arange(100, 400)
    order = training_order(rows, seed=1)
    np.testing.assert_array_equal(np.sort(order), rows)
    np.testing.assert_array_equal(order, training_order(rows, seed=1))
    assert not np.array_equal(order, training_order(rows, seed=2))


def test_stratified_prefixes_keep_the_class_proportions():
    rng = np.random.default_rng(0)
    labels = rng.choice([0.0, 1.0, 2.0], size=1000, p=[0.5, 0.3, 0.2])
    labels[rng.random(1000) < 0.1] = np.nan  # unlabelled rows: a stratum of their own
    rows = np.arange(1000)
    order = training_order(rows, seed=5, strata=labels)
    np.testing.assert_array_equal(np.sort(order), rows)
    share = {c: float((labels == c).mean()) for c in (0.0, 1.0, 2.0)}
    share[np.nan] = float(np.isnan(labels).mean())
    for m in (10, 37, 100, 333, 1000):
        prefix = labels[order[:m]]
        for c, p in share.items():
            found = int(np.isnan(prefix).sum() if c is np.nan else (prefix == c).sum())
            assert abs(found - p * m) <= 1.5, (m, c)
    plain = training_order(rows, seed=5)
    worst = max(abs(int((labels[plain[:m]] == 0.0).sum()) - share[0.0] * m) for m in range(10, 200))
    assert worst > 1.5  # an unstratified order drifts further from the proportions


def test_stratifying_never_changes_a_tasks_label_budget(tmp_path, make_cfg):
    """Regression: unlabelled rows of the stratifying task were placed last, so at
    data.n_train=100 it had 100 labels where its 30% gaps give about 70."""
    from tasklab.data.datamodule import WorldDataModule
    from tasklab.data.label_masks import TaskBudget
    from tasklab.examples.digits import digits_arrays, write_npz

    path = write_npz(tmp_path / "digits.npz", digits_arrays())
    cfg = make_cfg("data=files", f"data.files.train={path}", "data.files.stratify=digit")
    world = build_world(cfg.data, verbose=False)
    tasks = [world.task_specs[t] for t in ("digit", "parity", "gt4")]
    train = world.split_size("train")
    for n in (100, 300):
        counts = WorldDataModule(
            world,
            tasks,
            {t.name: TaskBudget(n) for t in tasks},
            seed=0,
            batch_size=16,
            n_val=8,
            n_test=8,
        ).labelled_counts()
        order = world._training_order(0)[:n].numpy()
        for column, task in enumerate(("digit", "parity", "gt4")):
            share = float((~np.isnan(world._y["train"][:, column].numpy())).mean())
            expected = int((~np.isnan(world._y["train"][order, column].numpy())).sum())
            assert counts[task] == expected  # what the rows hold, nothing else
            assert abs(counts[task] - share * n) <= (2 if task == "digit" else 0.2 * n), task
        assert counts["digit"] < n  # not every row: its 30% gaps are in the prefix too
    assert train > 300
