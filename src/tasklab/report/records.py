"""Reading run records and finding what varies between them.

A sweep directory may hold finished records, failed ones, files cut short by a crash, records
whose stored predictions are not theirs (``prediction_checks``), and job folders whose run
never wrote a record at all. Every one of them is either used or listed with its reason;
none stops a report.

Axes are found from the records, not hard-coded: a key that some record overrides and whose
resolved value differs between records is an axis, unless it defines the arm (``arm_axes``)
or is the seed (seeds are replicates). Values are read from each record's resolved config, so
a run that set ``data.driving.decoy_rate=0.5`` by override and one that got it from its
experiment file agree.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasklab.report.prediction_checks import prediction_problem
from tasklab.results import RESULT_FILE, upgrade_record

_NOT_AXES = ("seed", "regime", "experiment")
_REQUIRED = ("status", "name", "regime", "seed")
_MISSING = object()
RUN_DIR = "_run_dir"  # set on each loaded record: the folder it was read from


@dataclass
class Records:
    ok: list[dict[str, Any]] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)


def _walk(root: Path) -> tuple[list[Path], list[Path]]:
    """One pass over a folder: its record files, and the Hydra job folders (``.hydra/``) that
    hold no record — killed or still running."""
    if root.is_file():
        return [root], []
    found, unfinished = [], []
    for folder, subfolders, files in os.walk(root):
        if RESULT_FILE in files:
            found.append(Path(folder) / RESULT_FILE)
        elif ".hydra" in subfolders:
            unfinished.append(Path(folder))
    return sorted(found), sorted(unfinished)


def _problem_with(record: Any) -> str | None:
    if not isinstance(record, dict):
        return "unreadable: not a JSON object"
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        return f"partial: missing {', '.join(missing)}"
    if record["status"] != "ok":
        return f"{record['status']}: {record.get('error')}"
    if not isinstance(record.get("metrics"), dict) or not record["metrics"]:
        return "partial: status ok but no metrics"
    return None


def load_records(roots: list[Path]) -> Records:
    records = Records()
    for root in roots:
        paths, unfinished = _walk(root)
        for path in paths:
            try:
                record = json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
                records.problems.append((path, f"unreadable: {error}"))
                continue
            problem = _problem_with(record) or prediction_problem(record, path.parent)
            if problem:
                records.problems.append((path, problem))
            else:
                record[RUN_DIR] = str(path.parent)  # where its predictions are, if kept
                records.ok.append(upgrade_record(record))
        for job in unfinished:
            records.problems.append((job, f"no {RESULT_FILE}: the run did not finish"))
    return records


def arm_of(record: dict[str, Any]) -> str:
    """The arm as the run named it; ``arm_names`` adds what tells apart runs of one name."""
    return record.get("arm") or record["regime"]


def identity_keys(record: dict[str, Any]) -> list[str]:
    """The settings that define this run's arm (``arm_keys``; older records: their arm axes
    but the regime and config-group choices, which the name already holds)."""
    keys = record.get("arm_keys")
    if keys is None:
        keys = [k for k in record.get("arm_axes", []) if k != "regime" and "/" not in k]
    return list(keys)


def arm_names(records: list[dict[str, Any]]) -> list[str]:
    """Each record's arm: its own name, followed by ``key=value`` for every setting that
    defines its arm and differs between records of that name. Two runs with different
    settings are therefore never one arm, even where a name leaves a setting out (a swept
    ``mtl.weighting.alpha`` gives one arm per value)."""
    bases = [arm_of(r) for r in records]
    values = [axis_values(r, identity_keys(r)) for r in records]
    varying: dict[str, list[str]] = {}
    for base in set(bases):
        same = [v for b, v in zip(bases, values, strict=True) if b == base]
        keys = sorted({k for v in same for k in v})
        varying[base] = [k for k in keys if len({v.get(k) for v in same}) > 1]
    names = []
    for base, value in zip(bases, values, strict=True):
        suffix = " ".join(f"{k.rsplit('.', 1)[-1]}={value.get(k)}" for k in varying[base])
        names.append(f"{base} [{suffix}]" if suffix else base)
    return names


def natural_key(text: str) -> list:
    """Sort key that orders ``n_source=1000`` before ``n_source=100000``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def override_items(record: dict[str, Any]) -> dict[str, str]:
    items = {}
    for override in record.get("overrides", []):
        key, _, value = override.partition("=")
        key = key.lstrip("+~")
        # where a stage cache lives never changes a result, so it never splits a cell
        if key not in _NOT_AXES and not key.endswith(".cache_dir"):
            items[key] = value
    return items


def _resolved(config: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(config, dict) or part not in config:
            return _MISSING
        config = config[part]
    return config


def axis_values(record: dict[str, Any], keys: list[str]) -> dict[str, str | None]:
    """The value each key had in this run: from the resolved config where the record has it
    (so equal settings match however they were given), else as the override spelt it."""
    spelt = override_items(record)
    config = record.get("config") or {}
    values: dict[str, str | None] = {}
    for key in keys:
        value = _resolved(config, key)
        if value is _MISSING or isinstance(value, dict):  # a dict: a config group, as chosen
            values[key] = spelt.get(key)
        else:
            values[key] = json.dumps(value) if isinstance(value, list) else str(value)
    return values


@dataclass(frozen=True)
class Axes:
    """What varies between records: the swept keys, the constant rest, and per record its
    value on every swept key."""

    swept: list[str]
    fixed: dict[str, str]
    per_record: list[dict[str, str | None]]


def _defines_arms(key: str, arm_keys: set[str]) -> bool:
    """A key of the arm's own settings, or one inside them (``mtl.weighting.weights.car``)."""
    return any(key == k or key.startswith(k + ".") for k in arm_keys)


def find_axes(records: list[dict[str, Any]]) -> Axes:
    arm_keys = {k for r in records for k in [*r.get("arm_axes", []), *r.get("arm_keys", [])]}
    overridden = {k for r in records for k in override_items(r)}
    keys = sorted(k for k in overridden if not _defines_arms(k, arm_keys))
    per_record = [axis_values(r, keys) for r in records]
    swept = [k for k in keys if len({values[k] for values in per_record}) > 1]
    first = per_record[0] if per_record else {}
    fixed = {k: str(first[k]) for k in keys if k not in swept and first[k] is not None}
    return Axes(swept, fixed, [{k: values[k] for k in swept} for values in per_record])
