"""Standard networks as trunks (model=torchvision, model=timm) in every regime, on images on
disk, and their published checkpoints loaded into tasklab's trunk. Needs the vision extra."""

from __future__ import annotations

import csv
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tasklab.models.backbones import TrunkShape, build_backbone, trunk_blocks
from tasklab.models.checkpoint_weights import CheckpointError
from tasklab.runner import train
from tasklab.settings import ConfigError

from .conftest import TINY, require_vision

pytestmark = pytest.mark.vision


@pytest.fixture(autouse=True)
def _vision() -> None:
    require_vision()


def test_a_torchvision_network_loses_its_classifier_and_reads_grey_images():
    trunk, features = build_backbone("torchvision", (1, 32, 32), TrunkShape(arch="resnet18"))
    assert features == 512
    assert trunk(torch.rand(2, 1, 32, 32)).shape == (2, 512)
    names = [type(b).__name__ for b in trunk_blocks(trunk)]
    assert names == ["Conv2d", "BatchNorm2d", *["BasicBlock"] * 8]  # layer1..4, block by block
    small, features = build_backbone("torchvision", (3, 32, 32),
                                     TrunkShape(arch="mobilenet_v3_small"))  # fmt: skip
    assert features == 1024 and len(trunk_blocks(small)) > 10  # its features split by stage


def test_a_timm_network_is_a_feature_extractor():
    trunk, features = build_backbone("timm", (3, 32, 32), TrunkShape(arch="resnet18"))
    assert features == 512 and trunk(torch.rand(2, 3, 32, 32)).shape == (2, 512)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        (TrunkShape(arch="resnet_nonexistent"), r"is not a torchvision classification model"),
        (TrunkShape(arch="vit_b_16"), r"vit_b_16 cannot read images of shape \(3, 32, 32\)"),
        (TrunkShape(), r"model.backbone=torchvision needs model.arch"),
    ],
)
def test_a_network_that_cannot_be_built_says_why_in_one_line(shape, expected):
    with pytest.raises(ConfigError, match=expected) as info:
        build_backbone("torchvision", (3, 32, 32), shape)
    assert "\n" not in str(info.value)


def test_a_plain_torchvision_checkpoint_loads_into_the_trunk(tmp_path, capsys):
    from safetensors.torch import save_file
    from torchvision.models import resnet18

    torch.manual_seed(3)
    published = resnet18().state_dict()  # a network's own keys, its classifier included
    path = tmp_path / "resnet18.safetensors"
    save_file({k: v.contiguous() for k, v in published.items()}, str(path))
    trunk, _ = build_backbone("torchvision", (3, 32, 32),
                              TrunkShape(arch="resnet18", weights=str(path)))  # fmt: skip
    for key, value in trunk.state_dict().items():
        torch.testing.assert_close(value, published[key.removeprefix("model.")])
    said = capsys.readouterr().err
    assert "its keys the trunk lacks (ignored): model.fc.bias, model.fc.weight" in said


def test_published_weights_offline_fail_in_one_line(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(CheckpointError, match=r"torchvision:DEFAULT: torchvision could not") as e:
        build_backbone("torchvision", (3, 32, 32),
                       TrunkShape(arch="resnet18", weights="torchvision:DEFAULT"))  # fmt: skip
    assert "\n" not in str(e.value) and "network access" in str(e.value)


@pytest.fixture(scope="module")
def blobs(tmp_path_factory) -> Path:
    """40 images of a disc whose radius z decides y (z above its median): a staged problem."""
    folder = tmp_path_factory.mktemp("blobs")
    rng = np.random.default_rng(0)
    rows = []
    yy, xx = np.mgrid[0:24, 0:24]
    for i in range(40):
        radius = rng.uniform(2, 10)
        pixels = ((np.hypot(xx - 12, yy - 12) < radius) * 200 + 20).astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(folder / f"{i}.png")
        rows.append([f"{i}.png", f"{radius:.3f}", int(radius > 6), "" if i % 5 == 0 else "1"])
    with (folder / "manifest.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["path", "radius", "big", "other"], *rows])
    return folder / "manifest.csv"


BASE = [*TINY, "logger=none", "data=images", "data.images.size=24", "model=torchvision",
        "data.n_train=-1", "data.n_val=-1", "data.n_test=-1"]  # fmt: skip
REGIMES = {
    "multi_task": ["regime=multi_task", "data.tasks=[big,other]"],
    "single_task": ["regime=single_task", "data.tasks=[big,other]"],
    "mmoe": ["regime=multi_task", "data.tasks=[big,other]", "model.architecture=mmoe",
             "model.n_experts=2"],
    "cross_stitch": ["regime=multi_task", "data.tasks=[big,other]",
                     "model.architecture=cross_stitch"],
    "pipeline": ["regime=pipeline", "data.tasks=[big]", "data.images.intermediates=[radius]",
                 "regime.stage2_model.backbone=mlp", "regime.n_stage1=20", "regime.n_stage2=20"],
    "transfer": ["regime=transfer", "data.tasks=[big]", "regime.source_tasks=[other]",
                 "regime.n_source=20", "regime.source_min_steps=2"],
}  # fmt: skip


@pytest.mark.parametrize("regime", sorted(REGIMES))
def test_every_regime_trains_a_torchvision_network_on_images(make_cfg, blobs, tmp_path, regime):
    cfg = make_cfg(
        *BASE,
        f"data.images.manifest={blobs}",
        *REGIMES[regime],
        f"regime.cache_dir={tmp_path / 'cache'}" if regime == "transfer" else "seed=0",
    )
    result = train(cfg, output_dir=tmp_path / regime)
    assert result.status == "ok", result.error
    aurocs = [v for k, v in result.metrics.items() if k.startswith("test/big/")]
    assert aurocs and all(np.isfinite(aurocs))
