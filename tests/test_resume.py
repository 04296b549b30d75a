"""A run killed with SIGKILL and launched again continues from its last checkpoint and ends
bit-identical to an unbroken run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def other_filesystem_tmpdir(tmp_path: Path) -> Path:
    """A ``$TMPDIR`` on another filesystem than ``tmp_path`` where the machine has one (a
    cluster's layout: local /tmp, runs on shared storage), else beside it."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != tmp_path.stat().st_dev:
        folder = Path(tempfile.mkdtemp(dir=shm))
    else:
        folder = tmp_path / "tmpdir"
        folder.mkdir()
    return folder


def _launch(run_dir, tmpdir):
    return subprocess.Popen(
        [sys.executable, "-m", "tasklab.train", *RESUME_RUN, f"hydra.run.dir={run_dir}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "WANDB_MODE": "disabled", "TMPDIR": str(tmpdir)},
    )


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_stopped_run_resumes_to_the_same_metrics_bit_for_bit(tmp_path, make_cfg, stop):
    killed_dir = tmp_path / "killed"
    ckpt = killed_dir / CHECKPOINT_DIR / "all" / "last.ckpt"
    tmpdir = other_filesystem_tmpdir(tmp_path)
    proc = _launch(killed_dir, tmpdir)
    deadline = time.monotonic() + 240
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(stop)
    out, _ = proc.communicate(timeout=60)
    if stop == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        assert not (killed_dir / "result.json").exists()  # killed mid-training, before its record
    else:  # pre-emption (SIGTERM) or Ctrl-C: recorded as interrupted, exit 128 + signal
        assert proc.returncode == 128 + stop, out[-3000:]
        record = json.loads((killed_dir / "result.json").read_text())
        name = signal.Signals(stop).name
        assert record["status"] == "interrupted" and record["error"] == f"interrupted by {name}"
        assert f"tasklab-train: interrupted by {name} (exit {128 + stop})" in out
        assert not (killed_dir / "running.json").exists()
    step = torch.load(ckpt, weights_only=True)["global_step"]
    assert 30 <= step < 150

    again = _launch(killed_dir, tmpdir)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out[-3000:]
    assert f"Restored all states from the checkpoint at {ckpt}" in out
    resumed = json.loads((killed_dir / "result.json").read_text())
    assert resumed["status"] == "ok" and resumed["fits"][0]["steps"] == 150
    assert not (killed_dir / CHECKPOINT_DIR).exists()  # an ok run drops its checkpoints

    unbroken = train(make_cfg(*RESUME_RUN), output_dir=tmp_path / "unbroken")
    assert resumed["metrics"] and resumed["metrics"] == unbroken.metrics
    assert not list(tmpdir.glob("*ckpt*"))  # checkpoints were never written through $TMPDIR


def test_every_fit_writes_its_checkpoints_atomically_in_place(make_cfg, tmp_path):
    from pytorch_lightning.plugins.io import AsyncCheckpointIO

    from tasklab.fit.lightning_trainer import build_trainer
    from tasklab.runs.checkpoints import AtomicCheckpointIO

    trainer = build_trainer(make_cfg(*TINY).trainer, [], tmp_path, 2, "all")
    writer = trainer.strategy.checkpoint_io
    assert isinstance(writer, AsyncCheckpointIO)  # in the background, ...
    assert isinstance(writer.checkpoint_io, AtomicCheckpointIO)  # ... atomically in place


def test_a_background_checkpoint_is_the_state_at_its_step(tmp_path):
    """Training goes on while a checkpoint is written: what is written is the state when it
    was taken (its tensors copied first), and the fit's end waits for the write."""
    from tasklab.runs.checkpoints import checkpoint_writer

    weights = torch.arange(4.0)
    writer = checkpoint_writer()
    path = tmp_path / "ckpt" / "last.ckpt"
    writer.save_checkpoint({"state_dict": {"w": weights}, "global_step": 7}, path)
    weights.add_(100.0)  # the next optimiser step, in place
    writer.teardown()  # what the end of a fit does
    saved = torch.load(path, map_location="cpu", weights_only=True)
    assert saved["global_step"] == 7
    assert saved["state_dict"]["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary left


@pytest.mark.slow
@pytest.mark.parametrize(
    "weighting", ["equal", "famo", "rlw", "graddrop", "pcgrad", "dwa"]
)  # each with state of its own: learned logits, a step count behind its random draws, …
def test_resume_from_another_run_trains_it_further_as_if_unbroken(make_cfg, tmp_path, weighting):
    base = [
        *TINY,
        "logger=none",
        "trainer.checkpoint_every_n_steps=4",
        "optim.schedule=constant",
        f"mtl/weighting={weighting}",
        *(["mtl.weighting.period=2"] if weighting == "dwa" else []),
    ]
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


# A checkpoint write that a kill interrupts: the state is pickled before any byte reaches the
# file, and this object makes the pickling wait, so the kill lands inside the write.
_KILLED_WRITER = """
import sys, time, torch
from pathlib import Path
from tasklab.runs.checkpoints import AtomicCheckpointIO

class SlowToPickle:
    def __reduce__(self):
        print("writing", flush=True)
        time.sleep(60)
        return (int, (0,))

io, path = AtomicCheckpointIO(), Path(sys.argv[1])
io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "global_step": 1}, path)
io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}, "slow": SlowToPickle()}, path)
"""


@pytest.mark.slow
def test_a_kill_during_a_checkpoint_write_leaves_the_previous_one_on_any_filesystem(tmp_path):
    path = tmp_path / "run" / CHECKPOINT_DIR / "all" / "last.ckpt"
    tmpdir = other_filesystem_tmpdir(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmpdir)},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    checkpoint = torch.load(path, weights_only=True)  # whole, and the first one
    assert checkpoint["global_step"] == 1 and torch.equal(
        checkpoint["state_dict"]["w"], torch.ones(3)
    )
    assert not list(tmpdir.iterdir())  # nothing went through $TMPDIR
    (leftover,) = path.parent.glob(".last.ckpt.*.tmp")  # the cut-short write, in place
    claim_checkpoints(tmp_path / "run", "key")  # the next run of the folder removes it
    assert not leftover.exists()


def _key_of(make_cfg, *overrides):
    from tasklab.runs.ids import config_key

    return config_key(make_cfg(*overrides))


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_a_damaged_checkpoint_is_set_aside_and_the_run_restarts_from_step_0(
    make_cfg, tmp_path, capsys, damage
):
    run = [*TINY, "logger=none", "trainer.max_steps=6", "trainer.checkpoint_every_n_steps=3"]
    kept = train(make_cfg(*run, "trainer.keep_checkpoints=true"), output_dir=tmp_path / "kept")
    good = (tmp_path / "kept" / CHECKPOINT_DIR / "all" / "last.ckpt").read_bytes()
    damaged = {"empty": b"", "truncated": good[: len(good) // 2], "garbage": b"\x80\x04 cut"}
    folder = tmp_path / "killed"
    claim_checkpoints(folder, _key_of(make_cfg, *run))  # a killed run of this very config
    ckpt = folder / CHECKPOINT_DIR / "all" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(damaged[damage])
    capsys.readouterr()
    result = train(make_cfg(*run), output_dir=folder)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and warnings[0].startswith(f"tasklab-train: warning: {ckpt}")
    assert "set aside as last.ckpt.damaged, the fit starts from step 0" in warnings[0]
    assert result.status == "ok" and result.fits[0]["steps"] == 6
    assert result.metrics == kept.metrics  # from step 0: the unbroken run's numbers


def test_checkpoints_outlive_a_result_that_could_not_be_written(make_cfg, tmp_path, monkeypatch):
    import tasklab.runner

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tasklab.runner, "write_result", disk_full)
    run = [*TINY, "logger=none", "trainer.max_steps=4", "trainer.checkpoint_every_n_steps=2"]
    with pytest.raises(OSError, match="No space left"):
        train(make_cfg(*run), output_dir=tmp_path)
    assert (tmp_path / CHECKPOINT_DIR / "all" / "last.ckpt").is_file()  # the training is kept


# A run killed after its ok record is written: while it deletes its checkpoints, or as it
# removes its marker.
_KILLED_AFTER_RECORD = """
import os, shutil, signal, sys
from pathlib import Path
import tasklab.runner as runner
from tasklab.train import main

def killed(run_dir, *args, **kwargs):
    shutil.rmtree(Path(run_dir) / "checkpoints" / "all", ignore_errors=True)  # a part of it
    os.kill(os.getpid(), signal.SIGKILL)

setattr(runner, sys.argv[1], killed)
sys.argv = ["tasklab-train", *sys.argv[2:]]
main()
"""


@pytest.mark.slow
@pytest.mark.parametrize("step", ["remove_checkpoints", "clear_running"])
def test_a_kill_after_the_record_leaves_a_finished_run_that_a_relaunch_tidies(
    tmp_path, make_cfg, step
):
    from tasklab.runs.markers import RUNNING_FILE
    from tasklab.runs.status import run_state

    run = [*TINY, "logger=none", "trainer.max_steps=4", "trainer.checkpoint_every_n_steps=2"]
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_AFTER_RECORD, step, *run, f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        env={**os.environ, "WANDB_MODE": "disabled"},
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    record = json.loads((tmp_path / "result.json").read_text())
    assert record["status"] == "ok" and (tmp_path / RUNNING_FILE).exists()
    if step == "remove_checkpoints":
        assert (tmp_path / CHECKPOINT_DIR / "config_key").exists()  # the cleanup was cut short
    assert run_state(tmp_path).state == "done"  # not "interrupted" forever

    again = train(make_cfg(*run), output_dir=tmp_path)  # the relaunch skips it and tidies
    assert again.metrics == record["metrics"]
    assert not (tmp_path / RUNNING_FILE).exists()
    assert not (tmp_path / CHECKPOINT_DIR).exists()


def _sweep_command(sweep: Path, *overrides: str) -> list[str]:
    """``tasklab-train -m`` with ``overrides`` into ``sweep``, as a new interpreter."""
    return [sys.executable, "-m", "tasklab.train", "-m", *overrides, f"hydra.sweep.dir={sweep}"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("launcher", "stop"),
    [("basic", "term"), ("joblib", "term"), ("joblib", "ctrl-c")],
)
def test_a_stopped_sweep_says_what_stopped_exits_128_plus_signal_and_a_relaunch_finishes_it(
    tmp_path, launcher, stop
):
    """SIGTERM to the launching process (a scheduler), or SIGINT to the whole process group
    (Ctrl-C at a terminal reaches the workers too)."""
    sweep = tmp_path / "sweep"
    command = _sweep_command(sweep, *RESUME_RUN[:-1], "trainer.threads=1", "seed=1,2,3")
    if launcher == "joblib":
        command += ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal's job has
    )
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        done = list(sweep.glob("*/result.json"))
        # a run mid-training: a checkpoint and no record yet (a finished run's checkpoint
        # lives on for a moment after its record, while it cleans up)
        started = [
            p
            for p in sweep.glob(f"*/{CHECKPOINT_DIR}/all/last.ckpt")
            if not (p.parents[2] / "result.json").exists()
        ]
        if (launcher == "joblib" or done) and started:
            break
        time.sleep(0.01)
    signum = signal.SIGTERM if stop == "term" else signal.SIGINT
    if stop == "term":
        proc.send_signal(signum)
    else:
        os.killpg(proc.pid, signum)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, out[-3000:]
    assert "Traceback" not in out
    (line,) = [x for x in out.splitlines() if x.startswith("tasklab-train: interrupted by")]
    assert f"sweep {sweep}:" in line
    # Ctrl-C reaches every worker at once: one between runs exits without a run to record, so
    # on a busy machine none may be caught mid-run; SIGTERM to the launcher always catches one
    counted = r"\d+ done, 0 failed, [12] interrupted, \d+ left"
    if stop == "ctrl-c":
        counted = r"\d+ done, 0 failed(, [12] interrupted)?, \d+ left"
    assert re.search(counted, line), line
    statuses = [json.loads(p.read_text())["status"] for p in sweep.glob("*/result.json")]
    assert "failed" not in statuses

    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    statuses = [json.loads(p.read_text())["status"] for p in sweep.glob("*/result.json")]
    assert statuses == ["ok"] * 3
    assert not list(sweep.glob("*/running.json"))


@pytest.mark.slow
def test_a_sigtermed_submitit_job_is_recorded_and_resumes_bit_for_bit(tmp_path, make_cfg):
    """SLURM's pre-emption through submitit's launcher, with submitit's local executor."""
    sweep = tmp_path / "sweep"
    command = _sweep_command(sweep, *RESUME_RUN, "hydra/launcher=submitit_local")
    env = {**os.environ, "WANDB_MODE": "disabled"}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if list(sweep.glob(f"*/{CHECKPOINT_DIR}/all/last.ckpt")):
            break
        time.sleep(0.01)
    (marker,) = sweep.glob("*/running.json")
    os.kill(json.loads(marker.read_text())["pid"], signal.SIGTERM)  # the job, as SLURM would
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, out[-3000:]
    assert "tasklab-train: interrupted by SIGTERM (exit 143)" in out
    record = json.loads((marker.parent / "result.json").read_text())
    assert record["status"] == "interrupted"

    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    resumed = json.loads((marker.parent / "result.json").read_text())
    assert resumed["status"] == "ok" and resumed["fits"][0]["steps"] == 150
    logs = "".join(p.read_text() for p in sweep.glob(".submitit/*/*_log.*"))
    assert logs.count("Restored all states from the checkpoint") == 1  # the relaunched job
    unbroken = train(make_cfg(*RESUME_RUN), output_dir=tmp_path / "unbroken")
    assert resumed["metrics"] == unbroken.metrics


def test_a_second_signal_during_the_unwinding_raises_nothing(tmp_path):
    """Ctrl-C reaches a joblib worker twice (from the terminal and from its launcher), and
    Lightning's teardown puts the handler back after the first: the second must not raise
    inside the code that records the first (it left a record "failed" with no error)."""
    from tasklab.runs.interrupts import RunInterrupted, interruptible

    recorded = []
    with pytest.raises(RunInterrupted), interruptible():
        handler = signal.getsignal(signal.SIGINT)
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the signal is handled before this returns
        except RunInterrupted:
            signal.signal(signal.SIGINT, handler)  # what Lightning's teardown does
            os.kill(os.getpid(), signal.SIGINT)  # the launcher's copy of the signal
            time.sleep(0.2)
            recorded.append("interrupted")
            raise
    assert recorded == ["interrupted"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
