"""A run prints what it did and little else: no third-party notices that do not concern the
user (Lightning's advert and "no GPU" lines, W&B's deprecation notes), in a fresh process as
a user starts it, with W&B logging offline as by default."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import SMALL_RUN

# the small run's budget, with its default logging (W&B offline, CSV) left on
WITH_LOGS = [o for o in SMALL_RUN if o != "logger=none"]


@pytest.mark.slow
def test_a_run_with_default_logging_prints_its_line_and_nothing_else(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tasklab.train",
            *WITH_LOGS,
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("WANDB_")},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    for noise in ("anonymous", "litlogger", "GPU available", "TPU available", "wandb:"):
        assert not [line for line in lines if noise in line], (noise, lines)
    assert lines[-1].startswith("tasklab-train: ok in ") and str(tmp_path / "run") in lines[-1]
    assert len(lines) <= 3, lines  # the run's line (and at most a note or two)
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*"))  # W&B did log
