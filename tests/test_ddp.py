"""``trainer=ddp``: one run over two CPU processes on the gloo backend, each process on its
share of every batch, equal to the one-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from tasklab.data.batches import BatchStream
from tasklab.data.label_masks import TaskBudget
from tasklab.data.tasks import TaskSpec
from tasklab.runner import train
from tasklab.train import main

from .test_datamodule import _dm

TASKS = [TaskSpec(n) for n in ("pedestrian", "car", "stop_sign", "traffic_light")]
# An MLP (no BatchNorm, whose statistics would be per process) on the masked multi-task loss, which
# divides by the batch size: the average of the processes' gradients is the whole batch's.
RUN = [
    "data=vectors",
    "model=mlp",
    "trainer.max_steps=30",
    "trainer.progress_bar=false",
    "data.n_train=256",
    "data.n_val=64",
    "data.n_test=128",
    "data.batch_size=32",
    "logger=none",
]


@pytest.mark.parametrize("shuffle", [True, False])
def test_the_shards_of_a_batch_are_a_partition_of_it(shuffle):
    split = _dm({t.name: TaskBudget(300, 0.5) for t in TASKS}).splits["train"]

    def stream(shard):
        return [b["x"] for b in BatchStream(split, 50, shuffle, 4, total_batches=9, shard=shard)]

    whole, first, second = stream((0, 1)), stream((0, 2)), stream((1, 2))
    for batch, a, b in zip(whole, first, second, strict=True):
        assert len(a) == (len(batch) + 1) // 2 and len(b) == len(batch) // 2
        assert torch.equal(batch[0::2], a) and torch.equal(batch[1::2], b)


@pytest.mark.slow
def test_ddp_over_two_cpu_processes_matches_one_process(tmp_path, make_cfg):
    run_dir = tmp_path / "ddp"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tasklab.train",
            "trainer=ddp",
            "trainer.accelerator=cpu",
            *RUN,
            f"hydra.run.dir={run_dir}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "WANDB_MODE": "disabled"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert "distributed_backend=gloo" in output
    assert "Starting with 2 processes" in output
    record = json.loads((run_dir / "result.json").read_text())
    assert record["status"] == "ok" and record["fits"][0]["steps"] == 30
    assert record["config"]["trainer"]["strategy"] == "ddp"
    assert not (run_dir / "running.json").exists()

    alone = train(make_cfg(*RUN), output_dir=tmp_path / "alone")
    assert record["metrics"].keys() == alone.metrics.keys()
    for key, value in alone.metrics.items():
        assert record["metrics"][key] == pytest.approx(value, abs=1e-5), key


def test_ddp_inside_an_in_process_sweep_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    # Lightning would start the second process by re-running the command line: the sweep
    sweep = tmp_path / "sweep"
    argv = ["tasklab-train", "-m", "trainer=ddp", "trainer.accelerator=cpu", *RUN]
    monkeypatch.setattr(sys, "argv", [*argv, f"hydra.sweep.dir={sweep}"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "tasklab-train: error: trainer.strategy=ddp with trainer.devices=2 starts its" in err
    (record,) = [json.loads(p.read_text()) for p in sweep.glob("*/result.json")]
    assert record["status"] == "failed" and "launch it as a single run" in record["error"]
