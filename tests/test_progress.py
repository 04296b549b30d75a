"""The end-of-run line: the run's numbers, its folder, and in a sweep how far it is."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tasklab.runs import progress
from tasklab.runs.progress import end_of_run_line, headline, sweep_progress


def _record(folder: Path, status: str, mtime: float) -> None:
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({"status": status}))
    os.utime(folder / "result.json", (mtime, mtime))


def _plan(sweep: Path, jobs: int, began: float, monkeypatch) -> None:
    """A sweep of ``jobs`` jobs launched at ``began`` (its plan as ``sweep_plan`` reads it
    from multirun.yaml; test_sweep_cli runs a real one)."""
    sweep.mkdir(parents=True, exist_ok=True)
    (sweep / "multirun.yaml").write_text("launched\n")
    os.utime(sweep / "multirun.yaml", (began, began))
    plan = {f"job{k}": [f"seed={k}"] for k in range(jobs)}
    monkeypatch.setattr(progress, "sweep_plan", lambda folder: plan)


def test_the_time_left_extrapolates_this_launchs_finished_runs(tmp_path, monkeypatch):
    _plan(tmp_path, jobs=6, began=1000.0, monkeypatch=monkeypatch)
    _record(tmp_path / "job0", "ok", 900.0)  # finished in an earlier launch: done, not timed
    _record(tmp_path / "job1", "ok", 1010.0)
    _record(tmp_path / "job2", "failed", 1020.0)
    # two runs finished in the 20 s since the launch; three are left: about 30 s
    assert sweep_progress(tmp_path, now=1020.0) == "2 done, 1 failed, 3 left, about 30 s left"


def test_on_a_terminal_a_bar_leads_the_sweeps_line(tmp_path, monkeypatch):
    _plan(tmp_path, jobs=4, began=1000.0, monkeypatch=monkeypatch)
    _record(tmp_path / "job0", "ok", 1010.0)
    assert progress.progress_bar(1, 4, width=8) == "[##------] 1/4"
    assert progress.progress_bar(0, 0, width=4) == "[####] 0/0"
    line = end_of_run_line("ok", 3.0, {}, tmp_path / "job0", tmp_path, bar=True)
    assert "| [#####---------------] 1/4 1 done, 0 failed, 3 left, about " in line
    # a log file (standard output not a terminal, as under pytest) gets no bar
    assert "[#" not in end_of_run_line("ok", 3.0, {}, tmp_path / "job0", tmp_path)


def test_runs_of_an_earlier_grid_in_the_folder_do_not_count(tmp_path, monkeypatch):
    # the folder holds five runs of an earlier launch over other sizes; this launch asks for
    # four jobs, one of them done: three are left (not "0 left" from nine records)
    _plan(tmp_path, jobs=4, began=1000.0, monkeypatch=monkeypatch)
    for k in range(5):
        _record(tmp_path / f"earlier{k}", "ok", 500.0)
    _record(tmp_path / "job0", "ok", 1010.0)
    assert sweep_progress(tmp_path, now=1020.0) == "1 done, 0 failed, 3 left, about 60 s left"


def test_a_single_run_says_what_it_measured_and_where():
    metrics = {"test/mean/auroc": 0.8512, "test/car/auroc": 0.9, "test/mean/f1": 0.5}
    assert headline(metrics) == "auroc 0.851, f1 0.500"
    line = end_of_run_line("ok", 12.4, metrics, Path("outputs/x/1"), None)
    assert line == "tasklab-train: ok in 12 s: auroc 0.851, f1 0.500 → outputs/x/1"


def test_a_single_task_fit_logs_its_tasks_names_not_a_mean(make_cfg, tmp_path):
    from tasklab.runner import train

    from .conftest import TINY

    cfg = make_cfg(*TINY, "regime=single_task", "data.tasks=[car,stop_sign]", "logger.wandb=false")
    result = train(cfg, output_dir=tmp_path)
    headers = {
        path.parent.name: path.read_text().splitlines()[0].split(",")
        for path in (tmp_path / "csv").rglob("metrics.csv")
    }
    assert len(headers) == 2  # one logged run per task, each named by its task
    for version, header in headers.items():
        task = "car" if "-car-" in version else "stop_sign"
        assert f"test/{task}/auroc" in header
        assert not [name for name in header if "/mean/" in name]
    assert "test/mean/auroc" in result.metrics  # the record's mean is over both tasks
