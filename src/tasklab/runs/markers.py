"""What a run folder says about its run: finished (``result.json``), or in flight.

A run writes ``running.json`` (its host and process) when it starts and removes it when it
ends, whatever the outcome. A marker whose process no longer exists on this host was left by a
run that was killed: re-launching resumes it from its last checkpoint.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from tasklab.results import RESULT_FILE, write_json_atomic

RUNNING_FILE = "running.json"


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
        {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()},
    )


def clear_running(run_dir: Path) -> None:
    (Path(run_dir) / RUNNING_FILE).unlink(missing_ok=True)


def process_alive(marker: dict[str, Any]) -> bool | None:
    """Whether the marker's process still runs; None when it ran on another host."""
    if marker.get("host") != socket.gethostname():
        return None
    try:
        os.kill(int(marker["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    except (KeyError, TypeError, ValueError):
        return False
    return True
