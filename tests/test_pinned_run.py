"""A seeded 2-step run pins its numbers: any change to data, init, loss or metrics shows here."""

import csv
import math

import pytest

from tasklab.runner import train

from .conftest import TINY


@pytest.fixture(scope="module")
def pinned(tmp_path_factory):
    from hydra import compose, initialize_config_dir

    from tasklab.conf import CONF_DIR

    overrides = [*TINY, "data.n_test=64", "logger.wandb=false", "seed=0"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    out = tmp_path_factory.mktemp("pinned")
    return train(cfg, output_dir=out), out


def test_training_losses_are_pinned(pinned):
    _, out = pinned
    rows = list(csv.DictReader(next(out.rglob("metrics.csv")).read_text().splitlines()))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert losses == pytest.approx([2.964962959289551, 2.824367046356201], rel=1e-4)
    # sanity: four untrained binary heads summed start near 4 * ln 2
    assert abs(losses[0] - 4 * math.log(2)) < 0.5


def test_metrics_are_pinned(pinned):
    result, _ = pinned
    assert result.metrics["test/mean/auroc"] == pytest.approx(0.6641025692224503, rel=1e-4)
    assert result.metrics["test/mean/accuracy"] == pytest.approx(0.46875, rel=1e-4)
    assert result.metrics["val/car/auroc"] == pytest.approx(0.7287449240684509, rel=1e-4)
    # convs 3->4->8->16 (3x3, no bias) + BatchNorm affine + four linear heads on 16 features
    convs, norms, heads = 3 * 4 * 9 + 4 * 8 * 9 + 8 * 16 * 9, 2 * (4 + 8 + 16), 4 * (16 + 1)
    assert result.params["total"] == convs + norms + heads == 1_672
    assert result.data["n_labelled"] == dict.fromkeys(
        ["pedestrian", "car", "stop_sign", "traffic_light"], 64
    )
