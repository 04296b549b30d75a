"""Commands as a user can type them: what tasklab prints as a next step must run as printed.

After ``make demo`` the virtual environment is not active, so ``tasklab-compare`` alone is
"command not found"; its path beside the interpreter that runs tasklab is what works.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def runnable(command: str) -> str:
    """``command`` by its bare name where the shell finds this installation's copy of it, else
    by its path beside this interpreter (relative to the current folder where it is inside
    it), else by its bare name."""
    beside = Path(sys.executable).parent / command
    found = shutil.which(command)
    if found and (not beside.exists() or Path(found).resolve() == beside.resolve()):
        return command
    if not beside.exists():
        return command
    relative = os.path.relpath(beside)
    return relative if not relative.startswith("..") else str(beside)
