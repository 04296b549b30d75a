"""What a run folder says about its run: finished (``result.json``), or in flight.

A run claims its folder by writing ``running.json`` (its host, process id and the process's
start time) under a file lock, so two launches of one run cannot both claim it; it removes the
marker when it ends, whatever the outcome. A marker whose process no longer exists on this host
— or whose process id now belongs to another process, started later — was left by a run that
was killed: re-launching resumes it from its last checkpoint.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from filelock import FileLock

from tasklab.results import RESULT_FILE, write_json_atomic

RUNNING_FILE = "running.json"
LOCK_FILE = ".running.lock"


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; None when it is absent, unreadable or not an object."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def finished_ok(run_dir: Path, key: str) -> dict[str, Any] | None:
    """The record in ``run_dir`` when it says ok and was made from the config with ``key``."""
    record = read_json(Path(run_dir) / RESULT_FILE)
    if record is None or record.get("status") != "ok" or record.get("config_key") != key:
        return None
    return record


class RunInProgressError(RuntimeError):
    """Another live process on this host is running this very run."""


def check_not_running(run_dir: Path) -> None:
    """Refuse to start a run that a live process here is running already (the same sweep
    launched twice at once would otherwise train it twice into one folder)."""
    marker = read_json(Path(run_dir) / RUNNING_FILE)
    if marker is None or marker.get("pid") == os.getpid() or process_alive(marker) is not True:
        return
    raise RunInProgressError(
        f"{run_dir} is being run by process {marker.get('pid')} on this host; "
        "wait for it, or stop that process and launch again"
    )


def mark_running(run_dir: Path) -> None:
    write_json_atomic(
        Path(run_dir) / RUNNING_FILE,
        {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "process_start": process_start(os.getpid()),
            "started": time.time(),
        },
    )


def claim_running(run_dir: Path) -> None:
    """Check and write the marker as one step: under a lock in the folder, so of two launches
    of one run exactly one proceeds and the other gets ``RunInProgressError``."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    with FileLock(str(Path(run_dir) / LOCK_FILE)):
        check_not_running(run_dir)
        mark_running(run_dir)


def runs_held_by(sweep_dir: Path, pids: list[int]) -> list[Path]:
    """The run folders of ``sweep_dir`` whose marker names one of ``pids`` on this host."""
    host, wanted = socket.gethostname(), set(pids)
    held = []
    for path in Path(sweep_dir).glob(f"*/{RUNNING_FILE}"):
        marker = read_json(path)
        if marker is not None and marker.get("host") == host and marker.get("pid") in wanted:
            held.append(path.parent)
    return held


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, from /proc); None where unknown.
    A process id is reused once its process ends: the start time tells them apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def clear_running(run_dir: Path) -> None:
    (Path(run_dir) / RUNNING_FILE).unlink(missing_ok=True)


def clear_stale_marker(run_dir: Path) -> bool:
    """Remove a marker whose process is gone (on this host), under the folder's lock: a run
    killed after its record was written, while it deleted its checkpoints, leaves one beside
    an ok record. True when the folder holds no live marker afterwards."""
    marker_path = Path(run_dir) / RUNNING_FILE
    if not marker_path.exists():
        return True
    with FileLock(str(Path(run_dir) / LOCK_FILE)):
        marker = read_json(marker_path)
        foreign = marker is not None and marker.get("pid") != os.getpid()
        if foreign and process_alive(marker) is not False:
            return False  # alive here, or on another host: not ours to judge
        clear_running(run_dir)
    return True


def process_alive(marker: dict[str, Any]) -> bool | None:
    """Whether the marker's process still runs; None when it ran on another host."""
    if marker.get("host") != socket.gethostname():
        return None
    try:
        pid = int(marker["pid"])
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        pass
    except (KeyError, TypeError, ValueError):
        return False
    recorded, now = marker.get("process_start"), process_start(pid)
    # a process with this id runs, but started after the marker's did: the id was reused
    return recorded is None or now is None or recorded == now
