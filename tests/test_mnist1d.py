"""MNIST-1D as a world: the paper's signals exactly, a fixed position shuffle, derived tasks,
and the paper's networks at their published sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tasklab.data.building import build_world
from tasklab.data.world import TEST_STREAM, VAL_STREAM, train_stream
from tasklab.models.backbones import TrunkShape, build_backbone

pytest.importorskip("mnist1d")  # a dev dependency: make setup installs it


def _world(make_cfg, *extra):
    return build_world(make_cfg("data=mnist1d", *extra).data)


def test_the_train_and_test_signals_are_the_papers(make_cfg):
    from mnist1d.data import get_dataset_args, make_dataset

    paper = make_dataset(get_dataset_args())  # 4,000 + 1,000 signals, seed 42
    world = _world(make_cfg)
    assert world.split_size("train") == 4000 and world.split_size("test") == 1000
    x, y = world.render(TEST_STREAM, torch.arange(1000))
    np.testing.assert_allclose(x.numpy(), paper["x_test"], rtol=1e-6)
    np.testing.assert_array_equal(y[:, 0].numpy(), paper["y_test"])
    rows = torch.arange(4000)
    x, y = world.render(train_stream(0), rows)
    _, file_rows = world.split_rows(train_stream(0), rows)  # the seed's order of the rows
    np.testing.assert_allclose(x.numpy()[np.argsort(file_rows.numpy())], paper["x"], rtol=1e-6)
    odd, gt4 = (y[:, 1].numpy(), y[:, 2].numpy())
    np.testing.assert_array_equal(odd, y[:, 0].numpy() % 2)
    np.testing.assert_array_equal(gt4, (y[:, 0].numpy() > 4).astype(np.float32))
    assert world.split_size("val") == 1000  # a further draw, not carved from training


def test_shuffle_is_one_fixed_permutation_of_positions(make_cfg):
    plain = _world(make_cfg)
    shuffled = _world(make_cfg, "data.mnist1d.shuffle=true")
    x, _ = plain.render(VAL_STREAM, torch.arange(50))
    xs, _ = shuffled.render(VAL_STREAM, torch.arange(50))
    order = np.random.default_rng(0).permutation(40)
    np.testing.assert_array_equal(xs.numpy(), x.numpy()[:, order])
    assert not np.array_equal(order, np.arange(40))


def test_the_papers_networks_have_their_published_sizes():
    mlp, features = build_backbone("mnist1d_mlp", (40,), TrunkShape())
    assert (
        features == 100
        and sum(p.numel() for p in mlp.parameters()) == 40 * 100 + 100 + 100 * 100 + 100
    )
    cnn, features = build_backbone("mnist1d_cnn", (40,), TrunkShape())
    assert features == 125  # 25 channels x 5 positions, as the paper's linear_in
    assert cnn(torch.zeros(3, 40)).shape == (3, 125)
