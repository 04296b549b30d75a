"""Which metrics a report shows, and the one error type of the report commands.

Shared by ``tasklab-compare``, ``tasklab-summary`` and ``tasklab-results``, so that no
command imports another.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from tasklab.report.grouping import is_task_of

# a pipeline's stages (x_to_z, z_to_y) are reported beside the arm's own prediction of y
DEFAULT_METRICS = ["test/mean/*", "x_to_z/test/mean/*", "z_to_y/test/mean/*"]


class CompareError(Exception):
    """Bad input to the command: reported as one line, exit code 2."""


def selected_metrics(records: list[dict[str, Any]], patterns: list[str]) -> list[str]:
    available = sorted({key for record in records for key in record["metrics"]})
    selected = [key for key in available if any(fnmatch.fnmatchcase(key, p) for p in patterns)]
    if not selected:
        shown = ", ".join(available[:8]) + (" …" if len(available) > 8 else "")
        raise CompareError(
            f"--metric {' '.join(patterns)} matches no metric in the records; choose from: {shown}"
        )
    return selected


def task_metrics(records: list[dict[str, Any]], selected: list[str]) -> list[str]:
    """Per-task metrics behind each ``split/mean/name`` one (their comparisons and Δm)."""
    keys = {key for record in records for key in record["metrics"]}
    return sorted(key for key in keys if any(is_task_of(key, mean) for mean in selected))


def grouped_metrics(records: list[dict[str, Any]], selected: list[str]) -> list[str]:
    """The selected metrics and the per-task ones behind them: what the analysis groups."""
    return selected + [m for m in task_metrics(records, selected) if m not in selected]
