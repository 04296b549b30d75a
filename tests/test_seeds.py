"""``seed=0`` is a seed like any other: init, data order, data subset and label masks all
follow from the run's seed, which the record keeps."""

from __future__ import annotations

import torch

from tasklab.data.batches import BatchStream
from tasklab.data.label_masks import TaskBudget, label_mask
from tasklab.data.tasks import TaskSpec
from tasklab.runner import train

from .conftest import TINY
from .test_datamodule import _dm

TASKS = [TaskSpec(n) for n in ("pedestrian", "car", "stop_sign", "traffic_light")]


def _weights(run_dir) -> dict[str, torch.Tensor]:
    (path,) = run_dir.glob("checkpoints/*/last.ckpt")
    return torch.load(path, weights_only=True)["state_dict"]


def test_every_source_of_randomness_follows_the_seed_and_zero_is_a_seed(make_cfg, tmp_path):
    def run(seed: int, name: str):
        overrides = [*TINY, "logger=none", f"seed={seed}", "trainer.max_steps=1"]
        keep = ["trainer.checkpoint_every_n_steps=1", "trainer.keep_checkpoints=true"]
        return train(make_cfg(*overrides, *keep), output_dir=tmp_path / name)

    zero, zero_again, one = run(0, "a"), run(0, "b"), run(1, "c")
    assert zero.seed == 0 and one.seed == 1 and zero.config["seed"] == 0
    # the same seed: the same subset and labels, the same weights, the same numbers
    assert zero.fits[0]["train_digest"] == zero_again.fits[0]["train_digest"]
    assert zero.metrics == zero_again.metrics
    a, b, c = _weights(tmp_path / "a"), _weights(tmp_path / "b"), _weights(tmp_path / "c")
    assert all(torch.equal(a[k], b[k]) for k in a if isinstance(a[k], torch.Tensor))
    # another seed: another subset or label mask, other weights
    assert zero.fits[0]["train_digest"] != one.fits[0]["train_digest"]
    assert any(not torch.equal(a[k], c[k]) for k in a if k.endswith("weight"))


def test_label_masks_and_data_order_follow_the_seed():
    index = torch.arange(2000)
    masks = {s: label_mask(s, index, 0, TaskBudget(2000, 0.5)) for s in (0, 1)}
    assert 900 < int(masks[0].sum()) < 1100  # seed 0 draws a mask like any other
    assert not torch.equal(masks[0], masks[1])
    split = _dm({t.name: TaskBudget(400, 1.0) for t in TASKS}).splits["train"]
    first = {s: next(iter(BatchStream(split, 50, True, s)))["x"] for s in (0, 1)}
    assert not torch.equal(first[0], first[1])
    assert torch.equal(first[0], next(iter(BatchStream(split, 50, True, 0)))["x"])
