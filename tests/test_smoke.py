"""``trainer=smoke`` answers "does this config run?" quickly for every regime: every fit —
transfer's stage 1, a pipeline's stages, fine-tuning — takes at most ``trainer.max_steps``."""

from __future__ import annotations

import pytest

from tasklab.regimes import transfer
from tasklab.runner import train
from tasklab.stage_cache import cache_key

SMALL_EVAL = ["data.n_val=32", "data.n_test=32", "logger=none", "model.width=4"]


@pytest.mark.parametrize(
    "overrides",
    [
        ["regime=transfer"],  # stage 1 would be 782 steps over n_source=100,000
        ["data=bone_age", "regime=pipeline", "regime.arm=staged_finetune"],  # 2,000 + 2,000 + …
        ["data=bone_age", "regime=pipeline", "regime.arm=hybrid"],
    ],
    ids=["transfer", "staged_finetune", "hybrid"],
)
def test_smoke_bounds_every_fit_of_every_regime(make_cfg, tmp_path, overrides):
    cfg = make_cfg("trainer=smoke", *SMALL_EVAL, *overrides, f"regime.cache_dir={tmp_path}/c")
    result = train(cfg, output_dir=tmp_path / "run")
    assert result.status == "ok"
    steps = [fit["steps"] for fit in result.fits]
    stage1 = [f["stage1"]["steps"] for f in result.fits if "stage1" in f]
    assert steps and all(s <= 2 for s in [*steps, *stage1]), (steps, stage1)


def test_a_smoke_stage_is_cached_apart_from_the_real_one(make_cfg, tmp_path):
    real = make_cfg("trainer.max_steps=2", "regime=transfer", *SMALL_EVAL)
    smoke = make_cfg("trainer=smoke", "regime=transfer", *SMALL_EVAL)
    assert cache_key(transfer.stage1_fields(real)) != cache_key(transfer.stage1_fields(smoke))
