"""Validation passes during a fit (``trainer.validations_per_fit``) draw the report's
validation curves and change no result: a run's identity ignores them, so that must hold."""

from __future__ import annotations

import pytest

from tasklab.fit.lightning_trainer import validation_interval
from tasklab.report.compare import main
from tasklab.report.training_curves import run_validation_curve
from tasklab.runner import train

SMALL = [
    "trainer=smoke",
    "trainer.max_steps=6",
    "data.n_train=64",
    "data.n_val=32",
    "data.n_test=32",
    "data.batch_size=16",
    "model.width=4",
    "logger.wandb=false",
]


def test_the_passes_are_spread_over_the_fit_the_last_at_its_end():
    assert validation_interval(300, 5) == 60  # steps 60, 120, …, 300
    assert validation_interval(6, 3) == 2
    assert validation_interval(2, 5) == 1  # fewer steps than passes: one per step
    assert validation_interval(300, 0) == 301  # none inside the fit: once, after it


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        ["regime=multi_task"],
        ["regime=single_task", "data.tasks=[car,stop_sign]"],
        ["regime=transfer", "regime.cache_dir={cache}"],
        [
            "data=bone_age",
            "regime=pipeline",
            "regime.arm=staged_finetune",
            "regime.cache_dir={cache}",
        ],
    ],
    ids=["multi_task", "single_task", "transfer", "staged_finetune"],
)
def test_validating_during_a_fit_changes_no_result(make_cfg, tmp_path, overrides):
    results = {}
    for passes in (0, 3):
        cache = tmp_path / f"cache{passes}"  # every stage trained in both, none reused
        extra = [o.format(cache=cache) for o in overrides]
        cfg = make_cfg(*SMALL, *extra, f"trainer.validations_per_fit={passes}")
        results[passes] = train(cfg, output_dir=tmp_path / f"p{passes}")
        assert results[passes].status == "ok"
    assert results[0].metrics == results[3].metrics
    assert results[0].config_key == results[3].config_key  # the same run: a rerun would skip it


def test_each_pass_is_logged_once_and_read_back_as_a_curve(make_cfg, tmp_path):
    for regime in ("multi_task", "single_task"):
        cfg = make_cfg(
            *SMALL,
            f"regime={regime}",
            "data.tasks=[car,stop_sign]",
            "trainer.validations_per_fit=3",
        )
        train(cfg, output_dir=tmp_path / "sweep" / regime)
        curve = run_validation_curve(tmp_path / "sweep" / regime, "auroc")
        # passes after steps 2, 4 and 6 (logged at steps 1, 3, 5); the closing validation
        # reuses the last pass instead of repeating it
        assert [step for step, _ in curve] == [1, 3, 5]
        assert all(0.0 <= value <= 1.0 for _, value in curve)
    out = tmp_path / "out"
    assert main([str(tmp_path / "sweep"), "--out", str(out), "--wandb", "off"]) == 0
    assert (out / "default__validation_auroc.png").read_bytes()[:4] == b"\x89PNG"
    assert "validation auroc over training steps" in (out / "report.html").read_text()
