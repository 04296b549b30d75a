"""The line a run prints when it ends: what it measured and where it wrote it, and in a sweep
how far the sweep is and about how long the rest will take."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from tasklab.results import RESULT_FILE
from tasklab.runs.markers import read_json
from tasklab.runs.sweep_plan import sweep_plan

HEADLINE_PREFIX = "test/mean/"

_SWEEP_DIR: list[Path] = []  # the sweep this process launched or runs a job of


def note_sweep_dir(sweep_dir: Path) -> None:
    """Remember the sweep this process is part of (for the line an interrupted sweep prints)."""
    _SWEEP_DIR[:] = [Path(sweep_dir)]


def current_sweep_dir() -> Path | None:
    return _SWEEP_DIR[0] if _SWEEP_DIR else None


def headline(metrics: dict[str, float], most: int = 3) -> str:
    """The run's test means over its tasks (auroc, accuracy, …), the numbers a reader wants."""
    shown = [
        (k[len(HEADLINE_PREFIX) :], v) for k, v in metrics.items() if k.startswith(HEADLINE_PREFIX)
    ]
    return (
        ", ".join(f"{name} {value:.3f}" for name, value in sorted(shown)[:most]) or "no test metric"
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def progress_bar(finished: int, total: int, width: int = 20) -> str:
    """``[#######-------------] 5/14``: the sweep's share finished, for a terminal's reader."""
    filled = round(width * finished / total) if total else width
    return f"[{'#' * filled}{'-' * (width - filled)}] {finished}/{total}"


def sweep_progress(
    sweep_dir: Path, now: float | None = None, bar: bool = False, estimate: bool = True
) -> str:
    """``5 done, 1 failed, 2 left, about 3 min left`` from the sweep's records and plan; the
    time left extrapolates the runs finished since this launch of the sweep began. With
    ``bar`` (a terminal is attached) a progress bar leads the line."""
    now = time.time() if now is None else now
    plan = sweep_plan(Path(sweep_dir))
    records: list[tuple[dict[str, Any], float]] = []
    for path in Path(sweep_dir).glob(f"*/{RESULT_FILE}"):
        # a folder can also hold runs of an earlier launch with another grid: only this
        # launch's jobs count towards its progress
        if plan is not None and path.parent.name not in plan:
            continue
        record = read_json(path)
        if record is not None:
            records.append((record, path.stat().st_mtime))
    done = sum(1 for r, _ in records if r.get("status") == "ok")
    interrupted = sum(1 for r, _ in records if r.get("status") == "interrupted")
    failed = len(records) - done - interrupted
    stopped = f", {interrupted} interrupted" if interrupted else ""
    if plan is None:  # a search sweeper draws its jobs as it goes
        return f"{done} done, {failed} failed{stopped}"
    left = max(len(plan) - len(records), 0)
    text = f"{done} done, {failed} failed{stopped}, {left} left"
    if bar:
        text = f"{progress_bar(len(records), len(records) + left)} {text}"
    launched = Path(sweep_dir) / "multirun.yaml"
    if estimate and left and launched.exists():
        began = launched.stat().st_mtime
        finished_now = sum(1 for _, mtime in records if mtime >= began)
        if finished_now:
            text += f", about {_duration((now - began) / finished_now * left)} left"
    return text


def end_of_run_line(
    status: str,
    wall_s: float,
    metrics: dict[str, float],
    run_dir: Path,
    sweep_dir: Path | None,
    bar: bool | None = None,
) -> str:
    """The run's line; in a sweep followed by the sweep's progress (with a bar when ``bar``,
    by default when standard output is a terminal: a log file gets no bar characters)."""
    line = f"tasklab-train: {status} in {_duration(wall_s)}: {headline(metrics)} → {run_dir}"
    if sweep_dir is None:
        return line
    bar = sys.stdout.isatty() if bar is None else bar
    return f"{line} | {sweep_progress(sweep_dir, bar=bar)}"
