"""How a metric's key names its split and task: ``split/task/name``, the split perhaps behind a
stage's prefix (``source/test/car/auroc``, ``x_to_z/test/mean/mae``).

Kept free of torch so the report's grouping reads keys without loading it.
"""

from __future__ import annotations

SPLITS = ("val", "test")  # the evaluated splits, whose predictions a run keeps


def split_task_metric(key: str) -> tuple[str, str, str] | None:
    """``(split, task, name)`` of a per-split metric key, None for any other key. The split
    may carry a stage's prefix: ``source/test/car/auroc`` is task ``car`` on split
    ``source/test`` (a transfer run's stage 1), ``x_to_z/test/mean/mae`` the mean over a
    pipeline's first stage."""
    parts = key.split("/")
    if len(parts) < 3 or parts[-3] not in SPLITS:
        return None
    return "/".join(parts[:-2]), parts[-2], parts[-1]


def task_name(key: str) -> str:
    """The task of a per-split metric key (``car`` of ``source/test/car/auroc``)."""
    parsed = split_task_metric(key)
    if parsed is None:
        raise ValueError(f"{key!r} is not a split/task/metric key")
    return parsed[1]
