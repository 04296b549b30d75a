"""A next step tasklab prints runs as printed, with the environment active or not."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tasklab.command_names import runnable


def test_a_command_outside_the_path_is_named_by_its_path_beside_the_interpreter(monkeypatch):
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "tasklab-compare").exists()  # installed with tasklab
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # the environment is not active
    shown = runnable("tasklab-compare")
    assert Path(shown).resolve() == (bin_dir / "tasklab-compare").resolve()
    assert os.access(shown, os.X_OK)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")  # active: the bare name runs
    assert runnable("tasklab-compare") == "tasklab-compare"
    assert runnable("no-such-command") == "no-such-command"
