"""One-line messages for what goes wrong before a run starts: a misspelt key, a value of the
wrong type, an unknown config name, an ambiguous override, a folder that cannot be written.

Hydra reports these over several lines (or as a traceback); tasklab-train asks Hydra to raise
them instead (``HYDRA_FULL_ERROR=1`` for its own call) and prints one line that names the
field and the fix. A user who sets ``HYDRA_FULL_ERROR=1`` gets Hydra's full report.
"""

from __future__ import annotations

import re

from hydra.errors import MissingConfigException
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError


def _first_line(error: BaseException | None) -> str:
    text = str(error or "").strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


def one_line(error: BaseException) -> str:
    message, cause = _first_line(error), error.__cause__
    if isinstance(error, MissingConfigException):
        options = ", ".join(o for o in (error.options or []) if not o.endswith("_schema"))
        found = re.search(r"Could not find '([^']+)'", message)
        what = found.group(1) if found else message
        group, _, name = what.rpartition("/")
        if group:
            return f"{group}={name} is not an option of {group}; allowed: {options}"
        return f"{message}; allowed: {options}" if options else message
    overridden = re.match(r"Could not override '([^']+)'", message)
    if overridden and isinstance(cause, (ConfigAttributeError, ConfigKeyError)):
        key = overridden.group(1)
        return f"{key} is not a config key (misspelt?); `tasklab-train --cfg job` prints every key"
    merging = re.match(r"Error merging override (\S+)", message)
    if merging and isinstance(cause, ValidationError):
        return f"{merging.group(1)}: {_first_line(cause)}; give a value of the field's type"
    if message.startswith("Ambiguous value for argument"):
        return (
            f"{message}: quote it for a string ('a,b'), write [a,b] for a list, or add -m to "
            "sweep over it"
        )
    if isinstance(error, OSError) and error.filename:
        return (
            f"cannot write {error.filename}: {error.strerror}; choose a writable folder "
            "(hydra.run.dir, or hydra.sweep.dir for -m)"
        )
    return f"{message} ({_first_line(cause)})" if cause else message
