"""Trunks for every input kind: shapes, blocks that transfer can freeze, and a 1-D CNN that
learns what a signal's position-free pattern means."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tasklab.models.backbones import TrunkShape, build_backbone, trunk_blocks
from tasklab.runner import train

from .conftest import TINY


@pytest.mark.parametrize(
    ("input_shape", "pool", "features"),
    [((100,), "avg", 64), ((3, 100), "avg", 64), ((3, 100), "grid", 256), ((1, 8), "avg", 64)],
)
def test_cnn1d_maps_signals_to_features(input_shape, pool, features):
    trunk, dim = build_backbone("cnn1d", input_shape, TrunkShape(width=16, depth=3, pool=pool))
    out = trunk(torch.randn(5, *input_shape))
    assert out.shape == (5, features) and dim == features
    assert len(trunk_blocks(trunk)) == 3  # the channel-adding Unflatten holds no weights


def test_cnn1d_refuses_images_and_the_cnn_refuses_signals():
    with pytest.raises(ValueError, match=r"cnn1d needs signals \(L,\) or \(C, L\)"):
        build_backbone("cnn1d", (1, 8, 8), TrunkShape())
    with pytest.raises(ValueError, match="cnn needs image inputs"):
        build_backbone("cnn", (3, 100), TrunkShape())


def _pulses(path, n: int, length: int = 96) -> None:
    """Noise with a narrow pulse somewhere; the class is the pulse's sign. The pulse's place
    varies, so the task needs a pattern detector, not one weight per position."""
    rng = np.random.default_rng(0)
    x = 0.5 * rng.normal(size=(n, length))
    centre = rng.integers(8, length - 8, size=n)
    sign = rng.integers(0, 2, size=n)
    t = np.arange(length)
    x += (2 * sign - 1)[:, None] * 2.0 * np.exp(-0.5 * ((t[None] - centre[:, None]) / 1.5) ** 2)
    np.savez(path, x=x.astype(np.float32), y_sign=sign)


def test_a_1d_cnn_learns_a_signal_task_from_a_file(make_cfg, tmp_path):
    path = tmp_path / "pulses.npz"
    _pulses(path, 1500)
    cfg = make_cfg(
        *TINY,
        "data=files",
        f"data.files.train={path}",
        "model=cnn1d",
        "model.width=8",
        "logger=none",
        "data.n_train=-1",
        "data.n_val=-1",
        "data.n_test=-1",
        "data.batch_size=64",
        "trainer.max_steps=150",
    )
    result = train(cfg, output_dir=tmp_path / "run")
    assert result.metrics["test/sign/auroc"] > 0.95
