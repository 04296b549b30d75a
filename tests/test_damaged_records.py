"""Damaged records in a finished sweep are named and set aside, never crash a report and never
shift its numbers: predictions that are another run's, predictions cut short, records cut
short. A sweep with no usable record exits non-zero in every command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tasklab.predictions import PREDICTIONS_FILE
from tasklab.report.compare import main as compare_main
from tasklab.report.records import load_records
from tasklab.report.summary import main as summary_main
from tasklab.results import RESULT_FILE
from tasklab.runs.status import main as status_main
from tasklab.train import main as train_main

from .conftest import SMALL_RUN

METRIC = "test/mean/auroc"


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """Three seeds of two arms, trained once for every test here (each copies it)."""
    sweep = tmp_path_factory.mktemp("finished") / "sweep"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tasklab.train",
            "-m",
            *SMALL_RUN,
            "trainer.max_steps=4",
            "regime=multi_task,single_task",
            "seed=0,1,2",
            f"hydra.sweep.dir={sweep}",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "WANDB_MODE": "disabled"},
        timeout=600,
    )
    return sweep


@pytest.fixture
def sweep(finished_sweep, tmp_path):
    copy = tmp_path / "sweep"
    shutil.copytree(finished_sweep, copy)
    return copy


def _by_seed(sweep, regime: str) -> dict[int, object]:
    runs = {}
    for path in sweep.glob(f"*/{RESULT_FILE}"):
        record = json.loads(path.read_text())
        if record["regime"] == regime:
            runs[record["seed"]] = path.parent
    return runs


@pytest.mark.slow
def test_another_seeds_predictions_set_the_run_aside_by_name(sweep, capsys):
    runs = _by_seed(sweep, "multi_task")
    shutil.copy(runs[1] / PREDICTIONS_FILE, runs[0] / PREDICTIONS_FILE)
    records = load_records([sweep])
    ((path, reason),) = records.problems
    assert path.parent == runs[0]
    assert reason.startswith(f"damaged: {PREDICTIONS_FILE} does not give the recorded")
    assert len(records.ok) == 5

    assert summary_main([str(sweep), "--metric", METRIC]) == 0
    out = capsys.readouterr().out
    assert f"skipped {runs[0] / RESULT_FILE}: damaged" in out
    assert compare_main([str(sweep), "--out", str(sweep.parent / "report"), "--no-curves"]) == 0
    assert f"skipped {runs[0] / RESULT_FILE}: damaged" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_predictions_cut_short_or_gone_set_the_run_aside_by_name(sweep, damage):
    run = _by_seed(sweep, "single_task")[2]
    stored = run / PREDICTIONS_FILE
    if damage == "truncated":
        stored.write_bytes(stored.read_bytes()[: stored.stat().st_size // 2])
    else:
        stored.unlink()
    ((path, reason),) = load_records([sweep]).problems
    assert path.parent == run and reason.startswith("damaged:")
    assert ("unreadable" if damage == "truncated" else "missing") in reason


def test_a_sweep_of_unreadable_records_fails_every_command(sweep, capsys):
    for path in sweep.glob(f"*/{RESULT_FILE}"):
        path.write_text(path.read_text()[:40])
    assert summary_main([str(sweep)]) == 1
    assert "no usable record" in capsys.readouterr().err
    assert compare_main([str(sweep), "--out", str(sweep.parent / "report")]) == 1
    capsys.readouterr()
    assert status_main([str(sweep)]) == 1
    out = capsys.readouterr().out
    assert "6 damaged" in out


@pytest.mark.slow
def test_a_relaunch_reruns_a_damaged_record(sweep, run_cli):
    run = _by_seed(sweep, "multi_task")[0]
    (run / RESULT_FILE).write_text("{")
    again = run_cli(
        train_main,
        "-m",
        *SMALL_RUN,
        "trainer.max_steps=4",
        "regime=multi_task,single_task",
        "seed=0,1,2",
        f"hydra.sweep.dir={sweep}",
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((run / RESULT_FILE).read_text())["status"] == "ok"
    assert again.stdout.count("skipped (finished earlier)") == 5
    # a skipped run prints its one line, never an "ok in …" it did not earn
    assert again.stdout.count("tasklab-train: ok in") == 1  # the damaged one, re-run
