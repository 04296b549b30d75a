"""One-line messages for what goes wrong before a run starts: a misspelt key, a value of the
wrong type, an unknown config name, an ambiguous override, a folder that cannot be written.

Hydra reports these over several lines (or as a traceback); tasklab-train asks Hydra to raise
them instead (``HYDRA_FULL_ERROR=1`` for its own call) and prints one line that names the
field and the fix. A user who sets ``HYDRA_FULL_ERROR=1`` gets Hydra's full report.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import TypeVar

import yaml
from hydra.errors import MissingConfigException
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    OmegaConfBaseException,
    ValidationError,
)

from tasklab.results import DiskFullError
from tasklab.settings import ConfigError


def _first_line(error: BaseException | None) -> str:
    text = str(error or "").strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


E = TypeVar("E", bound=BaseException)


def in_chain(error: BaseException, kind: type[E]) -> E | None:
    """The first error of ``kind`` in ``error``'s chain (itself, what it was raised from or
    while handling): tasklab's own ConfigError raised inside a resolver, say."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def yaml_line(error: yaml.MarkedYAMLError) -> str:
    """``file:line:column: what`` of a YAML syntax error (lines and columns from 1)."""
    mark = error.problem_mark or error.context_mark
    where = f"{mark.name}:{mark.line + 1}:{mark.column + 1}: " if mark is not None else ""
    what = "; ".join(str(p) for p in (error.context, error.problem) if p)
    return f"{where}YAML syntax error: {what}"


def _path_in_traceback(error: BaseException) -> str | None:
    """The folder a failed write was writing into, from the frames it was raised through
    (innermost first): a local named like a path or an output folder."""
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        local = frame.f_locals
        for name in ("output_dir", "dirname", "folder", "path", "filename", "file"):
            value = local.get(name)
            if isinstance(value, (str, os.PathLike)) and str(value):
                path = Path(value)
                return str(
                    path if path.is_dir() or name in ("output_dir", "folder") else path.parent
                )
    return None


def one_line(error: BaseException) -> str:
    own = in_chain(error, ConfigError)
    if own is not None:
        return _first_line(own)
    syntax = in_chain(error, yaml.MarkedYAMLError)
    if syntax is not None:
        return yaml_line(syntax)
    full = in_chain(error, DiskFullError)
    if full is not None:
        return str(full)
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
        missing = re.search(r"Key '([^']+)'", str(cause))
        if missing and not key.endswith(missing.group(1)):  # a dict given entries it lacks
            entry = missing.group(1)
            return (
                f"{key} has no entry '{entry}' yet; add new entries one by one with a +, "
                f"e.g. +{key}.{entry}=VALUE"
            )
        return (
            f"{key} is not a config key (misspelt? a new entry of a dict takes a +, as in "
            f"+{key}=VALUE); `tasklab-train --cfg job` prints every key"
        )
    merging = re.match(r"Error merging override (\S+)", message)
    if merging and isinstance(cause, ValidationError):
        return f"{merging.group(1)}: {_first_line(cause)}; give a value of the field's type"
    composing = re.match(r"In '([^']+)': \w+ raised while composing config", message)
    inner = error.__cause__ or error.__context__
    if composing and isinstance(inner, OmegaConfBaseException):
        # an error inside a YAML file: keep the file, the key and what was wrong with it
        key = getattr(inner, "full_key", "") or "?"
        hint = " (misspelt?)" if isinstance(inner, (ConfigAttributeError, ConfigKeyError)) else ""
        return f"{composing.group(1)}.yaml: {key}: {_first_line(inner)}{hint}"
    if message.startswith("Ambiguous value for argument"):
        return (
            f"{message}: quote it for a string ('a,b'), write [a,b] for a list, or add -m to "
            "sweep over it"
        )
    if isinstance(error, OSError) and error.errno == errno.ENOSPC and not error.filename:
        where = _path_in_traceback(error)  # Hydra's own writes (.hydra/*.yaml) name no file
        folder = f"the device of {where}" if where else "its device"
        return (
            f"no space left on {folder}; free space there or write elsewhere (hydra.run.dir, "
            "hydra.sweep.dir, regime.cache_dir)"
        )
    if isinstance(error, OSError) and error.filename and error.errno == errno.ENOSPC:
        return (
            f"cannot write {error.filename}: no space left on its device; free space there or "
            "write elsewhere (hydra.run.dir, hydra.sweep.dir, regime.cache_dir)"
        )
    if isinstance(error, OSError) and error.filename:
        return (
            f"cannot write {error.filename}: {error.strerror}; choose a writable folder "
            "(hydra.run.dir, or hydra.sweep.dir for -m)"
        )
    return f"{message} ({_first_line(cause)})" if cause else message
