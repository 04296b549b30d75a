"""Names that become parts of paths (tasks, intermediates, the experiment's ``name``): a safe
character set, so nothing a config or a data file says can write outside the run's folder.

Letters, digits, ``_`` and ``-``, starting with a letter or digit: a task named ``../x`` or
``/abs/path`` would otherwise become a checkpoint folder elsewhere, and a ``.`` or ``/`` in a
task would break the ``split/task/metric`` names of every metric.
"""

from __future__ import annotations

import re

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}\Z")
ALLOWED = "letters, digits, _ and - (starting with a letter or digit, at most 100)"


def is_safe_name(name: object) -> bool:
    return isinstance(name, str) and SAFE_NAME.match(name) is not None


def suggest(name: str) -> str:
    """A safe spelling of ``name``, for the error message."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", str(name)).strip("_-")[:100]
    return cleaned or "task1"


def unsafe_name_message(what: str, name: object) -> str:
    return f"{what}={name!r} cannot name files; use {ALLOWED}, e.g. {suggest(str(name))!r}"
