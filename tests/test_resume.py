"""A run killed with SIGKILL and launched again continues from its last checkpoint and ends
bit-identical to an unbroken run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tasklab.data.batches import BatchStream, MixedBatchStream
from tasklab.data.label_masks import TaskBudget
from tasklab.data.tasks import TaskSpec
from tasklab.runner import train
from tasklab.runs.checkpoints import CHECKPOINT_DIR, claim_checkpoints

from .conftest import TINY
from .test_datamodule import _dm

TASKS = [TaskSpec(n) for n in ("pedestrian", "car", "stop_sign", "traffic_light")]


def _rows(stream) -> list[torch.Tensor]:
    return [batch["x"].flatten(1)[:, :4] for batch in stream]


@pytest.mark.parametrize("start", [0, 3, 7, 8, 13, 20])
def test_a_stream_started_at_k_yields_the_unbroken_streams_batches_from_k(start):
    dm = _dm({t.name: TaskBudget(400, 0.5) for t in TASKS})  # 8 batches of 50 per pass
    split = dm.splits["train"]
    whole = _rows(BatchStream(split, 50, True, 4, total_batches=20))
    resumed = _rows(BatchStream(split, 50, True, 4, total_batches=20, start=start))
    assert len(resumed) == 20 - start
    assert all(torch.equal(a, b) for a, b in zip(whole[start:], resumed, strict=True))


@pytest.mark.parametrize("start", [0, 5, 19])
def test_a_mixed_stream_started_at_k_yields_the_rest(start):
    dm = _dm({t.name: TaskBudget(400, 0.5) for t in TASKS})
    split = dm.splits["train"]

    def stream(begin: int) -> MixedBatchStream:
        return MixedBatchStream(split, 50, 4, 20, split.mask[:, 1], 0.5, begin)

    whole, resumed = _rows(stream(0)), _rows(stream(start))
    assert all(torch.equal(a, b) for a, b in zip(whole[start:], resumed, strict=True))


def test_checkpoints_of_another_config_are_dropped(tmp_path):
    claim_checkpoints(tmp_path, "key-a")
    (tmp_path / CHECKPOINT_DIR / "all").mkdir()
    (tmp_path / CHECKPOINT_DIR / "all" / "last.ckpt").write_bytes(b"from config a")
    claim_checkpoints(tmp_path, "key-a")
    assert (tmp_path / CHECKPOINT_DIR / "all" / "last.ckpt").exists()
    claim_checkpoints(tmp_path, "key-b")
    assert not (tmp_path / CHECKPOINT_DIR / "all").exists()
    assert (tmp_path / CHECKPOINT_DIR / "config_key").read_text() == "key-b"


# Slow enough (a few seconds of steps) that the kill lands between the first checkpoint and
# the end; every source of randomness follows from the seed.
RESUME_RUN = [
    "trainer.max_steps=150",
    "trainer.checkpoint_every_n_steps=30",
    "trainer.log_every_n_steps=10",
    "trainer.progress_bar=false",
    "trainer.deterministic=true",
    "data.n_train=400",
    "data.n_val=64",
    "data.n_test=64",
    "data.batch_size=32",
    "model.width=8",
    "logger=none",
    "seed=3",
]


def _launch(run_dir):
    return subprocess.Popen(
        [sys.executable, "-m", "tasklab.train", *RESUME_RUN, f"hydra.run.dir={run_dir}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "WANDB_MODE": "disabled"},
    )


def test_a_sigkilled_run_resumes_to_the_same_metrics_bit_for_bit(tmp_path, make_cfg):
    killed_dir = tmp_path / "killed"
    ckpt = killed_dir / CHECKPOINT_DIR / "all" / "last.ckpt"
    proc = _launch(killed_dir)
    deadline = time.monotonic() + 240
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (killed_dir / "result.json").exists()  # killed mid-training, before its record
    step = torch.load(ckpt, weights_only=True)["global_step"]
    assert 30 <= step < 150

    again = _launch(killed_dir)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out[-3000:]
    assert f"Restored all states from the checkpoint at {ckpt}" in out
    resumed = json.loads((killed_dir / "result.json").read_text())
    assert resumed["status"] == "ok" and resumed["fits"][0]["steps"] == 150
    assert not (killed_dir / CHECKPOINT_DIR).exists()  # an ok run drops its checkpoints

    unbroken = train(make_cfg(*RESUME_RUN), output_dir=tmp_path / "unbroken")
    assert resumed["metrics"] and resumed["metrics"] == unbroken.metrics


def test_resume_from_another_run_trains_it_further_as_if_unbroken(make_cfg, tmp_path):
    base = [*TINY, "logger=none", "trainer.checkpoint_every_n_steps=4", "optim.schedule=constant"]
    short = train(
        make_cfg(*base, "trainer.max_steps=4", "trainer.keep_checkpoints=true"),
        output_dir=tmp_path / "short",
    )
    assert short.fits[0]["steps"] == 4 and (tmp_path / "short" / CHECKPOINT_DIR).is_dir()
    extended = train(
        make_cfg(*base, "trainer.max_steps=8", f"trainer.resume_from={tmp_path / 'short'}"),
        output_dir=tmp_path / "extended",
    )
    unbroken = train(make_cfg(*base, "trainer.max_steps=8"), output_dir=tmp_path / "unbroken")
    assert extended.fits[0]["steps"] == 8
    assert extended.metrics == unbroken.metrics != short.metrics
