"""The driving labels are learnable but not trivial: a small CNN clearly beats a linear model."""

import pytest

from tasklab.runner import train

BUDGET = [
    "data.n_train=2000",
    "data.n_val=200",
    "data.n_test=1000",
    "trainer.max_steps=150",
    "trainer.progress_bar=false",
    "logger=none",
]


@pytest.fixture(scope="module")
def scores(tmp_path_factory):
    from hydra import compose, initialize_config_dir

    from tasklab.conf import CONF_DIR

    results = {}
    for model in ("cnn", "linear"):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="train", overrides=[*BUDGET, f"model={model}"])
        result = train(cfg, output_dir=tmp_path_factory.mktemp(model))
        results[model] = result.metrics
    return results


@pytest.mark.slow
def test_cnn_clearly_beats_linear(scores):
    cnn, linear = scores["cnn"]["test/mean/auroc"], scores["linear"]["test/mean/auroc"]
    assert cnn > 0.85, cnn
    assert cnn - linear > 0.15, (cnn, linear)


def test_linear_is_above_chance_but_far_from_ceiling(scores):
    assert 0.5 < scores["linear"]["test/mean/auroc"] < 0.8
