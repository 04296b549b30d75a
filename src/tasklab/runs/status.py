"""``tasklab-status DIR``: which runs of a sweep are done, failed, running, interrupted or
missing, so a re-launch (which skips the done ones) can be planned and checked.

A run is *interrupted* when its folder says it started but its process is gone (killed, or
the machine went down): launching the sweep again resumes it from its last checkpoint.
*Missing* runs are the grid's jobs that have no folder yet.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tasklab.results import RESULT_FILE
from tasklab.runs.markers import RUNNING_FILE, process_alive, read_json
from tasklab.runs.sweep_plan import MULTIRUN_FILE, sweep_plan

STATES = ("done", "failed", "running", "interrupted", "damaged", "missing")


@dataclass
class RunState:
    folder: str
    state: str
    overrides: list[str]
    detail: str = ""


def run_state(run_dir: Path) -> RunState:
    record = read_json(run_dir / RESULT_FILE)
    marker = read_json(run_dir / RUNNING_FILE)
    if record is None and (run_dir / RESULT_FILE).exists() and marker is None:
        return RunState(run_dir.name, "damaged", [], f"{RESULT_FILE} is not readable JSON")
    record = record or {}
    overrides = list(record.get("overrides") or [])
    if marker is not None:
        alive = process_alive(marker)
        if alive is False and record.get("status") == "ok":
            # killed while cleaning up after its record: finished (a relaunch removes the marker)
            return RunState(run_dir.name, "done", overrides, "a stale marker is left")
        if alive is False:
            return RunState(run_dir.name, "interrupted", overrides, "its process is gone")
        where = f"pid {marker.get('pid')} on {marker.get('host')}"
        return RunState(run_dir.name, "running", overrides, where)
    status = record.get("status")
    if status == "ok":
        return RunState(run_dir.name, "done", overrides)
    if status == "interrupted":  # a signal stopped it; a relaunch resumes it
        return RunState(run_dir.name, "interrupted", overrides, str(record.get("error")))
    if status is not None:
        return RunState(run_dir.name, "failed", overrides, str(record.get("error")))
    return RunState(run_dir.name, "interrupted", overrides, f"no {RESULT_FILE}")


def _is_run_folder(path: Path) -> bool:
    return path.is_dir() and any(
        (path / name).exists() for name in (RESULT_FILE, RUNNING_FILE, ".hydra")
    )


def sweep_states(sweep_dir: Path) -> list[RunState]:
    if _is_run_folder(sweep_dir) and not (sweep_dir / MULTIRUN_FILE).is_file():
        return [run_state(sweep_dir)]  # a single run's folder
    states = {p.name: run_state(p) for p in sorted(sweep_dir.iterdir()) if _is_run_folder(p)}
    for folder, overrides in (sweep_plan(sweep_dir) or {}).items():
        if folder not in states:
            states[folder] = RunState(folder, "missing", overrides)
        elif not states[folder].overrides:
            states[folder].overrides = overrides
    return list(states.values())


def sweep_dirs(root: Path) -> list[Path]:
    """``root`` if it is a sweep (or a folder of runs), else every sweep below it."""
    if (root / MULTIRUN_FILE).is_file():
        return [root]
    below = sorted(p.parent for p in root.rglob(MULTIRUN_FILE))
    return below or [root]


def report_lines(sweep_dir: Path, states: list[RunState]) -> list[str]:
    counts = Counter(s.state for s in states)
    lines = [f"{sweep_dir}: " + ", ".join(f"{counts[s]} {s}" for s in STATES)]
    for state in states:
        if state.state != "done":
            what = " ".join(state.overrides) or "-"
            detail = f"  ({state.detail})" if state.detail else ""
            lines.append(f"  {state.state:<11} {state.folder:<12}  {what}{detail}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tasklab-status",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="sweep directories (or their parent)")
    args = parser.parse_args(argv)
    for root in args.dirs:
        if not root.is_dir():
            print(f"tasklab-status: error: {root} is not a directory", file=sys.stderr)
            return 2
    damaged = 0
    for root in args.dirs:
        for sweep_dir in sweep_dirs(root):
            states = sweep_states(sweep_dir)
            damaged += sum(s.state == "damaged" for s in states)
            print("\n".join(report_lines(sweep_dir, states)))
    if damaged:
        print(
            f"tasklab-status: error: {damaged} record(s) damaged (not readable); launching "
            "the sweep again re-runs them",
            file=sys.stderr,
        )
        return 1
    return 0


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
