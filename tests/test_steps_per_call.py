"""Several optimiser steps per Lightning call (``trainer.steps_per_call``): the same steps,
logs, validations and checkpoints as one step per call, at a fraction of Lightning's cost."""

from __future__ import annotations

import csv

import pytest
from omegaconf import OmegaConf

from tasklab.config import TrainerConfig
from tasklab.fit.lightning_trainer import steps_per_call
from tasklab.runner import train

from .conftest import TINY


def _tc(**changes):
    tc = OmegaConf.structured(TrainerConfig)
    for key, value in changes.items():
        tc[key] = value
    return tc


@pytest.mark.parametrize(
    ("changes", "max_steps", "expected"),
    [
        ({}, 300, 10),  # logging 50, validation every 60, checkpoints every 100: gcd 10
        ({"validations_per_fit": 0, "checkpoint_every_n_steps": 0}, 300, 50),  # 50 ≤ 64
        ({"log_every_n_steps": 64, "validations_per_fit": 0}, 300, 4),  # gcd(64, 100)
        ({"steps_per_call": 4}, 300, 2),  # asked 4: the largest divisor of 10 up to 4
        ({"steps_per_call": 1}, 300, 1),
        ({"log_every_n_steps": 7}, 300, 1),
        ({"strategy": "ddp", "devices": 2}, 300, 1),  # one backward per forward under DDP
        ({"resume_from": "elsewhere"}, 300, 1),  # another run's step need not be a boundary
    ],
)
def test_steps_per_call_keeps_every_boundary(changes, max_steps, expected):
    assert steps_per_call(_tc(**changes), max_steps) == expected


def test_steps_per_call_holds_a_bounded_amount_of_input():
    """A call's batches are drawn before its first step: large batches get fewer per call."""
    tc = _tc(validations_per_fit=0, checkpoint_every_n_steps=0)  # boundaries every 50 steps
    assert steps_per_call(tc, 300, batch_bytes=32 * 2**10) == 50  # a tiny MLP's batch
    assert steps_per_call(tc, 300, batch_bytes=6 * 2**20) == 10  # ≤ 64 MiB: 10, divides 50
    assert steps_per_call(tc, 300, batch_bytes=100 * 2**20) == 1
    assert steps_per_call(_tc(steps_per_call=25, validations_per_fit=0), 300, 2**30) == 25


def _rows(run_dir):
    (path,) = run_dir.glob("csv/*/metrics.csv")
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
@pytest.mark.parametrize("weighting", ["equal", "dwa", "rlw"])  # state of their own per step
def test_grouped_steps_train_log_and_validate_as_single_steps(make_cfg, tmp_path, weighting):
    base = [
        *TINY,
        "data.n_train=256",
        "trainer.max_steps=48",
        "trainer.log_every_n_steps=8",
        "trainer.validations_per_fit=3",
        "trainer.checkpoint_every_n_steps=16",
        "logger.wandb=false",
        f"mtl/weighting={weighting}",
        *(["mtl.weighting.period=4"] if weighting == "dwa" else []),
    ]
    assert steps_per_call(make_cfg(*base).trainer, 48) == 8
    one = train(make_cfg(*base, "trainer.steps_per_call=1"), output_dir=tmp_path / "one")
    grouped = train(make_cfg(*base), output_dir=tmp_path / "grouped")
    assert one.metrics and grouped.metrics == one.metrics
    assert grouped.fits[0]["steps"] == one.fits[0]["steps"] == 48
    assert _rows(tmp_path / "grouped") == _rows(tmp_path / "one")  # every logged value, step
