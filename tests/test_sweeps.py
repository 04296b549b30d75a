"""Sweeps that survive faults: a failing run is recorded and the others go on; a re-launch
skips finished runs and re-runs the rest; tasklab-status tells which is which."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field, make_dataclass

import pytest
from omegaconf import OmegaConf

from tasklab.command_names import runnable
from tasklab.config import ModelConfig, TrainerConfig, train_schema
from tasklab.registry import REGIMES, WEIGHTINGS
from tasklab.report.compare import main as compare_main
from tasklab.results import RESULT_FILE
from tasklab.runner import train
from tasklab.runs.ids import config_key, display_keys, identity, run_id
from tasklab.runs.markers import (
    RUNNING_FILE,
    RunInProgressError,
    claim_running,
    mark_running,
    process_start,
)
from tasklab.runs.status import main as status_main
from tasklab.runs.status import sweep_states
from tasklab.train import main as train_main

from .conftest import SMALL_RUN, TINY

SMALL = [*SMALL_RUN, "trainer.max_steps=3"]
ENV = {**os.environ, "WANDB_MODE": "disabled"}


def _sweep(run_cli, sweep_dir, *overrides: str):
    """The sweep through ``tasklab-train -m``, run in this process."""
    return run_cli(train_main, "-m", *SMALL, *overrides, f"hydra.sweep.dir={sweep_dir}")


def _records(sweep_dir) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sweep_dir.glob(f"*/{RESULT_FILE}")}


def _status(sweep_dir, capsys) -> list[str]:
    assert status_main([str(sweep_dir)]) == 0
    return capsys.readouterr().out.splitlines()


@pytest.mark.slow
def test_a_failing_run_is_recorded_and_a_relaunch_reruns_only_what_is_not_done(
    tmp_path, capsys, run_cli
):
    sweep = tmp_path / "sweep"
    lrs = "optim.lr=0.001,0.002,0.003,1e30"  # the last one's loss becomes NaN
    first = _sweep(run_cli, sweep, lrs)
    assert first.returncode == 1, first.stderr[-3000:]
    assert "Traceback" not in first.stderr
    assert "tasklab-train: error: training loss became nan by step" in first.stderr
    # the command as it runs here: its bare name, or its path where the venv is not active
    assert f"1 run(s) failed; `{runnable('tasklab-status')} {sweep}`" in first.stderr
    records = _records(sweep)
    assert sorted(r["status"] for r in records.values()) == ["failed", "ok", "ok", "ok"]
    (failed,) = [name for name, r in records.items() if r["status"] == "failed"]
    assert records[failed]["error"].startswith("NonFiniteLossError: training loss became nan")
    # each folder is the hash of its job's sorted overrides, display-only settings left out
    for name, record in records.items():
        named = [o for o in record["overrides"] if o.split("=")[0] not in display_keys()]
        assert name == run_id(",".join(sorted(named)))
    assert not list(sweep.glob(f"*/{RUNNING_FILE}"))

    lines = _status(sweep, capsys)
    assert lines[0] == f"{sweep}: 3 done, 1 failed, 0 running, 0 interrupted, 0 damaged, 0 missing"
    assert lines[1].split()[:2] == ["failed", failed] and "optim.lr=1e+30" in lines[1]

    # the comparison report lists the failure beside the ok runs
    assert compare_main([str(sweep), "--wandb", "off"]) == 0
    capsys.readouterr()
    assert "NonFiniteLossError" in (sweep / "compare" / "report.html").read_text()

    # one finished run lost: the plan in multirun.yaml tells it is missing
    (done_gone, *kept) = sorted(n for n, r in records.items() if r["status"] == "ok")
    gone_overrides = records[done_gone]["overrides"]
    shutil.rmtree(sweep / done_gone)
    lines = _status(sweep, capsys)
    assert lines[0] == f"{sweep}: 2 done, 1 failed, 0 running, 0 interrupted, 0 damaged, 1 missing"
    assert any(
        line.split()[:2] == ["missing", done_gone] and " ".join(gone_overrides) in line
        for line in lines
    )

    before = {name: (sweep / name / RESULT_FILE).stat().st_mtime_ns for name in kept}
    second = _sweep(run_cli, sweep, lrs)
    assert second.returncode == 1  # the NaN run fails again, and says so
    assert second.stdout.count("skipped (finished earlier)") == 2
    assert {name: (sweep / name / RESULT_FILE).stat().st_mtime_ns for name in kept} == before
    again = _records(sweep)
    assert again[done_gone]["status"] == "ok"
    assert again[done_gone]["metrics"] == records[done_gone]["metrics"]  # same seed, same run
    assert _status(sweep, capsys)[0].startswith(f"{sweep}: 3 done, 1 failed, 0 running")


def test_an_ok_run_is_skipped_only_for_the_same_config(make_cfg, tmp_path):
    cfg = make_cfg(*TINY, "logger=none")
    first = train(cfg, output_dir=tmp_path)
    stamp = (tmp_path / RESULT_FILE).stat().st_mtime_ns
    again = train(cfg, output_dir=tmp_path)
    assert again.metrics == first.metrics and again.config_key == first.config_key
    assert (tmp_path / RESULT_FILE).stat().st_mtime_ns == stamp
    changed = train(make_cfg(*TINY, "logger=none", "optim.lr=0.002"), output_dir=tmp_path)
    assert changed.config_key != first.config_key
    assert json.loads((tmp_path / RESULT_FILE).read_text())["config_key"] == changed.config_key


def test_status_tells_running_from_interrupted(tmp_path):
    running, interrupted = tmp_path / "a", tmp_path / "b"
    mark_running(running)  # this very process
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    interrupted.mkdir()
    (interrupted / RUNNING_FILE).write_text(
        json.dumps({"host": socket.gethostname(), "pid": gone.pid, "started": 0})
    )
    states = {s.folder: s.state for s in sweep_states(tmp_path)}
    assert states == {"a": "running", "b": "interrupted"}


def test_a_run_that_a_live_process_is_running_is_not_started_twice(make_cfg, tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / RUNNING_FILE).write_text(
            json.dumps({"host": socket.gethostname(), "pid": other.pid, "started": 0})
        )
        with pytest.raises(RunInProgressError, match=f"being run by process {other.pid}"):
            train(make_cfg(*TINY, "logger=none"), output_dir=tmp_path)
        assert not (tmp_path / RESULT_FILE).exists()
    finally:
        other.kill()
        other.wait()
    assert train(make_cfg(*TINY, "logger=none"), output_dir=tmp_path).status == "ok"
    assert not (tmp_path / RUNNING_FILE).exists()


@dataclass
class _TrainerWithANewSetting(TrainerConfig):
    """What a later tasklab might add: a new setting whose default trains as before."""

    new_setting: int = 7


def _with_new_setting(cfg, value: int | None = None):
    """``cfg`` composed against a later schema whose trainer has one more setting."""
    grown_schema = make_dataclass(
        "GrownTrainConfig",
        [("trainer", _TrainerWithANewSetting, field(default_factory=_TrainerWithANewSetting))],
        bases=(train_schema(),),
    )
    grown = OmegaConf.merge(OmegaConf.structured(grown_schema), OmegaConf.to_container(cfg))
    if value is not None:
        grown.trainer.new_setting = value
    return grown


def test_a_new_defaulted_setting_keeps_finished_runs_and_a_changed_value_reruns(make_cfg, tmp_path):
    cfg = make_cfg(*TINY, "logger=none")
    first = train(cfg, output_dir=tmp_path)
    stamp = (tmp_path / RESULT_FILE).stat().st_mtime_ns
    grown = _with_new_setting(cfg)
    assert config_key(grown) == first.config_key
    train(grown, output_dir=tmp_path)
    assert (tmp_path / RESULT_FILE).stat().st_mtime_ns == stamp  # skipped, not retrained
    changed = _with_new_setting(cfg, value=8)
    assert config_key(changed) != first.config_key
    assert train(changed, output_dir=tmp_path).config_key == config_key(changed)
    assert (tmp_path / RESULT_FILE).stat().st_mtime_ns != stamp


@pytest.mark.parametrize(
    "display", ["trainer.progress_bar=false", "trainer.log_every_n_steps=7", "logger=none"]
)
def test_display_only_settings_are_not_part_of_a_runs_identity(make_cfg, display):
    base = make_cfg(*TINY, "logger=default")
    assert config_key(make_cfg(*TINY, "logger=default", display)) == config_key(base)
    assert config_key(make_cfg(*TINY, "logger=default", "seed=1")) != config_key(base)


@dataclass
class _ModelWithANewSetting(ModelConfig):
    new_setting: float = 0.5


def test_a_stage_cache_key_keeps_a_new_defaulted_setting_out_and_a_changed_one_in(make_cfg):
    cfg = make_cfg(*TINY, "model.width=8")
    grown = OmegaConf.merge(
        OmegaConf.structured(_ModelWithANewSetting), OmegaConf.to_container(cfg.model)
    )
    assert identity(grown) == identity(cfg.model) == {"width": 8}
    grown.new_setting = 0.25
    assert identity(grown) == {"width": 8, "new_setting": 0.25}


@pytest.mark.slow
def test_every_registered_regime_and_weighting_is_a_run_of_its_own(make_cfg):
    """Settings at their defaults are left out of a run's identity, but never *which*
    component runs: each weighting's and regime's defaults are its own."""
    keys = {config_key(make_cfg(*TINY, f"mtl/weighting={name}")) for name in WEIGHTINGS.names()}
    assert len(keys) == len(WEIGHTINGS.names())
    keys = {config_key(make_cfg(*TINY, f"regime={name}")) for name in REGIMES.names()}
    assert len(keys) == len(REGIMES.names())


def test_a_marker_whose_process_id_was_reused_does_not_block_the_run(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = process_start(other.pid)
        marker = {"host": socket.gethostname(), "pid": other.pid, "process_start": start}
        (tmp_path / RUNNING_FILE).write_text(json.dumps(marker))
        with pytest.raises(RunInProgressError):  # that very process still runs
            claim_running(tmp_path)
        if start is not None:  # where /proc tells start times: an id now used by another
            marker["process_start"] = start - 1
            (tmp_path / RUNNING_FILE).write_text(json.dumps(marker))
            claim_running(tmp_path)
            assert json.loads((tmp_path / RUNNING_FILE).read_text())["pid"] == os.getpid()
    finally:
        other.kill()
        other.wait()


def test_temporaries_of_a_killed_write_are_gone_once_the_folder_runs_again(make_cfg, tmp_path):
    (tmp_path / ".result.json.abc123.tmp").write_text('{"half": ')
    train(make_cfg(*TINY, "logger=none"), output_dir=tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.slow
def test_changing_a_display_setting_on_a_finished_sweep_skips_every_run(tmp_path, run_cli):
    sweep = tmp_path / "sweep"
    first = run_cli(train_main, "-m", *SMALL, "seed=0,1", f"hydra.sweep.dir={sweep}")
    assert first.returncode == 0, first.stderr[-2000:]
    folders = sorted(p.name for p in sweep.glob("*/result.json"))
    again = run_cli(
        train_main,
        "-m",
        *SMALL,
        "seed=0,1",
        "trainer.progress_bar=true",
        "trainer.log_every_n_steps=7",
        f"hydra.sweep.dir={sweep}",
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("skipped (finished earlier)") == 2
    assert sorted(p.name for p in sweep.glob("*/result.json")) == folders
