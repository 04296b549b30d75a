"""Torch threads per job, so parallel jobs share the machine's cores instead of each taking
all of them (measured on 2 cores: two jobs of 2 threads each ran at half the speed of two
jobs of 1 thread)."""

from __future__ import annotations

import os
from typing import Any

_JOBLIB = "JoblibLauncher"
_SUBMITIT = "hydra_submitit_launcher"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def job_threads(configured: int | None, launcher: Any) -> int | None:
    """``trainer.threads`` when set; else the launcher's share of the cores: the usable cores
    split among joblib's ``n_jobs`` workers, or submitit's ``cpus_per_task``; else None
    (torch's own default, for a job that has the machine to itself)."""
    if configured is not None:
        return configured
    target = str(getattr(launcher, "_target_", "") or "")
    if target.endswith(_JOBLIB):
        n_jobs = int(launcher.get("n_jobs", -1) or -1)
        cores = usable_cores()
        workers = cores if n_jobs < 0 else min(n_jobs, cores)
        return max(1, cores // max(workers, 1))
    if _SUBMITIT in target and launcher.get("cpus_per_task"):
        return int(launcher.cpus_per_task)
    return None
