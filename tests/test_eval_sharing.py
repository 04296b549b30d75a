"""Runs of one world in one process render their validation and test rows once."""

from __future__ import annotations

import pytest

from tasklab.data import eval_sharing
from tasklab.data.driving import DrivingWorld
from tasklab.data.world import TEST_STREAM, VAL_STREAM
from tasklab.runner import train

from .conftest import TINY


@pytest.fixture
def eval_renders(monkeypatch):
    """The number of rows of evaluation streams rendered since the fixture started."""
    counted = {"rows": 0}
    render = DrivingWorld.render

    def counting(self, stream, index):
        if stream in (VAL_STREAM, TEST_STREAM):
            counted["rows"] += len(index)
        return render(self, stream, index)

    monkeypatch.setattr(DrivingWorld, "render", counting)
    monkeypatch.setattr(eval_sharing, "_last", None)
    return counted


def test_the_next_run_of_the_same_world_reuses_the_evaluation_rows(
    make_cfg, tmp_path, eval_renders
):
    base = [*TINY, "logger=none", "regime=multi_task"]
    train(make_cfg(*base, "seed=0"), output_dir=tmp_path / "a")
    first = eval_renders["rows"]
    assert first == 32 + 32  # data.n_val + data.n_test of TINY
    # another seed, size and regime: the same world, nothing rendered again
    shared = train(
        make_cfg(*base, "seed=1", "data.n_train=32", "regime=single_task"),
        output_dir=tmp_path / "b",
    )
    assert eval_renders["rows"] == first
    # another world: rendered afresh
    train(make_cfg(*base, "data.world_seed=7"), output_dir=tmp_path / "c")
    assert eval_renders["rows"] == 2 * first
    # and what was shared is what a fresh rendering gives
    eval_sharing._last = None
    fresh = train(
        make_cfg(*base, "seed=1", "data.n_train=32", "regime=single_task"),
        output_dir=tmp_path / "d",
    )
    assert shared.metrics and shared.metrics == fresh.metrics
