"""tasklab's sweeper composes each job once, still before any job runs."""

from __future__ import annotations

import json

from hydra._internal.config_loader_impl import ConfigLoaderImpl

from tasklab.runs.sweep_plan import sweep_plan
from tasklab.train import main as train_main

from .conftest import SMALL_RUN


def _count_compositions(monkeypatch) -> list[list[str]]:
    composed: list[list[str]] = []
    original = ConfigLoaderImpl.load_sweep_config

    def counting(self, master_config, sweep_overrides):
        composed.append(list(sweep_overrides))
        return original(self, master_config, sweep_overrides)

    monkeypatch.setattr(ConfigLoaderImpl, "load_sweep_config", counting)
    return composed


def test_each_job_is_composed_once(tmp_path, run_cli, monkeypatch):
    composed = _count_compositions(monkeypatch)
    sweep = tmp_path / "sweep"
    run = run_cli(train_main, "-m", *SMALL_RUN, "seed=0,1,2", f"hydra.sweep.dir={sweep}")
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(o[-1] for o in composed) == ["seed=0", "seed=1", "seed=2"]
    records = [json.loads(p.read_text()) for p in sweep.rglob("result.json")]
    assert sorted(r["seed"] for r in records) == [0, 1, 2]
    assert all(r["status"] == "ok" for r in records)
    plan = sweep_plan(sweep)  # the sweep's plan is read from its multirun.yaml as before
    assert plan is not None and len(plan) == 3


def test_a_job_that_cannot_be_composed_fails_the_sweep_before_any_runs(tmp_path, run_cli):
    sweep = tmp_path / "sweep"
    run = run_cli(
        train_main, "-m", *SMALL_RUN, "model=cnn,no_such_model", f"hydra.sweep.dir={sweep}"
    )
    assert run.returncode != 0
    assert "no_such_model" in run.stderr
    assert not list(sweep.rglob("result.json"))


def test_jobs_past_the_kept_number_are_composed_again_when_they_run(tmp_path, run_cli, monkeypatch):
    from hydra_plugins.tasklab_sweeper import compose_once

    monkeypatch.setattr(compose_once, "KEEP_AT_MOST", 2)  # memory: ~0.6 MB per kept config
    composed = _count_compositions(monkeypatch)
    sweep = tmp_path / "sweep"
    run = run_cli(train_main, "-m", *SMALL_RUN, "seed=0,1,2", f"hydra.sweep.dir={sweep}")
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(o[-1] for o in composed) == ["seed=0", "seed=1", "seed=2", "seed=2"]
    assert len(list(sweep.rglob("result.json"))) == 3
