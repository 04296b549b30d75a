"""The scale-out paths are Hydra's own launchers and sweeper, run for real: joblib over the
local cores, submitit's local executor (the SLURM launcher's code path without a cluster), and
the Optuna sweeper."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tasklab.results import RESULT_FILE
from tasklab.runs.threads import usable_cores
from tasklab.train import main as train_main

from .conftest import SMALL_RUN

# two jobs at once, as many as the 2-core machine runs side by side (each starts torch anew)
GRID = ["seed=0", "regime=single_task,multi_task"]
ENV = {**os.environ, "WANDB_MODE": "disabled"}


def _multirun(sweep_dir, *overrides: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "tasklab.train", "-m", *overrides, f"hydra.sweep.dir={sweep_dir}"],
        capture_output=True,
        text=True,
        timeout=600,
        env=ENV,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _records(sweep_dir) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sweep_dir.glob(f"*/{RESULT_FILE}")}


@pytest.fixture(scope="module")
def joblib_records(tmp_path_factory) -> dict[str, dict]:
    sweep = tmp_path_factory.mktemp("joblib")
    _multirun(sweep, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *SMALL_RUN, *GRID)
    return _records(sweep)


@pytest.mark.slow
def test_joblib_runs_a_sweep_with_a_share_of_the_cores_per_job(joblib_records):
    assert len(joblib_records) == 2
    assert all(r["status"] == "ok" for r in joblib_records.values())
    assert {(r["regime"], r["seed"]) for r in joblib_records.values()} == {
        (regime, 0) for regime in ("single_task", "multi_task")
    }
    assert {r["threads"] for r in joblib_records.values()} == {max(1, usable_cores() // 2)}


@pytest.mark.slow
def test_submitit_local_runs_the_same_sweep_to_the_same_numbers(tmp_path, joblib_records):
    sweep = tmp_path / "submitit"
    threads = max(1, usable_cores() // 2)  # as many as each joblib job had
    _multirun(
        sweep,
        "hydra/launcher=submitit_local",
        f"hydra.launcher.cpus_per_task={threads}",
        "hydra.launcher.timeout_min=10",
        *SMALL_RUN,
        *GRID,
    )
    records = _records(sweep)
    assert (sweep / ".submitit").is_dir()  # the jobs went through submitit's executor
    assert all(r["status"] == "ok" and r["threads"] == threads for r in records.values())
    # a launcher is not part of a run's overrides: same folders, and (the same threads, CPU,
    # deterministic) the very same metrics as under joblib
    assert set(records) == set(joblib_records)
    for name, record in records.items():
        assert record["metrics"] == joblib_records[name]["metrics"]


@pytest.mark.slow
def test_the_optuna_sweeper_runs_4_trials_and_a_relaunch_skips_them(tmp_path, run_cli):
    sweep = tmp_path / "optuna"
    # the search chooses model.width, so the run's own width is left to it
    small = [o for o in SMALL_RUN if not o.startswith("model.width")]
    search = ["hparams_search=driving_lr_width", "hydra.sweeper.n_trials=4", *small]
    # a sweeper, not a launcher: its jobs run in this process, so the test does too
    first = run_cli(train_main, "-m", *search, f"hydra.sweep.dir={sweep}")
    assert first.returncode == 0, first.stderr[-3000:]
    records = _records(sweep)
    assert len(records) == 4 and all(r["status"] == "ok" for r in records.values())
    lrs = {r["config"]["optim"]["lr"] for r in records.values()}
    assert len(lrs) == 4 and all(0.0003 <= lr <= 0.03 for lr in lrs)
    assert {r["config"]["model"]["width"] for r in records.values()} <= {8, 16, 32}
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    objectives = [r["metrics"]["val/mean/auroc"] for r in records.values()]
    assert best["best_value"] == pytest.approx(max(objectives))
    assert "Best value" in first.stdout + first.stderr

    again = run_cli(train_main, "-m", *search, f"hydra.sweep.dir={sweep}")
    assert again.stdout.count("skipped (finished earlier)") == 4  # the seeded sampler asks again
    assert _records(sweep) == records


def test_the_tuned_equal_baseline_tunes_the_sum_apart_from_the_comparisons_runs(
    tmp_path, run_cli, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    search = [
        "experiment=driving_mtl_weighting",  # sweeps six weightings and five seeds itself
        "hparams_search=tuned_equal",
        "hydra.sweeper.n_trials=2",
        *SMALL_RUN,
    ]
    run = run_cli(train_main, "-m", *search)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not (tmp_path / "multirun" / "driving_mtl_weighting").exists()
    sweep = tmp_path / "multirun" / "driving_mtl_weighting_tuned_equal"
    records = _records(sweep)
    assert len(records) == 2
    configs = [r["config"] for r in records.values()]
    # the trials are the plain sum at seed 0; only the optimiser's settings vary
    assert {(c["regime"]["name"], c["mtl"]["weighting"]["name"], c["seed"]) for c in configs} == {
        ("multi_task", "equal", 0)
    }
    assert len({c["optim"]["lr"] for c in configs}) == 2
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) == {"optim.lr", "optim.weight_decay"}
