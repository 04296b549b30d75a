"""Reads the list of a user's images and their labels: a manifest table or class folders.

A manifest (.csv, or .parquet where pyarrow is installed) has a path column (relative to
``root``, else to the manifest's folder) and one column per task or intermediate target. A
blank cell, ``?``, ``NA``, ``N/A``, ``NaN`` or ``None`` is a missing label; the "uncertain"
value (−1 in the CheXpert convention) becomes what the task's declared policy says:
missing, 0 or 1. A group
column (patient, site) keeps a group on one side of the split. A folder of class folders
(``root/<class>/<image>``) is one multiclass task whose classes are the folder names, sorted.

Nothing here opens an image: the table is read once, whole, and images are decoded later,
batch by batch (``image_decoding``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tasklab.data.file_arrays import MISSING_CELLS, MISSING_SPELLINGS, DataFileError

UNCERTAIN_POLICIES: tuple[str, ...] = ("missing", "0", "1")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


@dataclass(frozen=True)
class Manifest:
    """Every image of a data set with its labels (float64, NaN where unknown)."""

    source: str
    paths: list[Path]
    labels: dict[str, np.ndarray]
    groups: np.ndarray | None = None
    # per task: how many uncertain values the policy turned into missing, 0 or 1
    uncertain: dict[str, int] = field(default_factory=dict)
    # multiclass tasks read from folder names: class index → folder name
    class_names: dict[str, list[str]] = field(default_factory=dict)
    # columns of text that were not taken as tasks (when no task was named)
    text_columns: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)


def _cells(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV or Parquet manifest, every cell as text."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            rows = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
        for line, row in rows:
            if len(row) != len(header):
                raise DataFileError(
                    f"{path}: line {line} has {len(row)} cells and the header {len(header)}; "
                    "give every row one cell per column (an empty cell for a missing label)"
                )
        return header, [[c.strip() for c in row] for _, row in rows]
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DataFileError(
                f"{path}: reading Parquet needs pyarrow; pip install pyarrow (or save the "
                "manifest as .csv)"
            ) from None
        table = pq.read_table(path).to_pydict()
        header = list(table)
        n = len(next(iter(table.values()), []))
        return header, [
            ["" if table[c][i] is None else str(table[c][i]) for c in header] for i in range(n)
        ]
    raise DataFileError(f"{path}: unknown manifest format {suffix!r}; use .csv or .parquet")


def _number(path: Path, column: str, line: int, cell: str) -> float:
    if cell in MISSING_CELLS:
        return math.nan
    try:
        return float(cell)
    except ValueError:
        raise DataFileError(
            f"{path}: column '{column}' line {line} holds {cell!r}; expected a number (a "
            f"missing label is {MISSING_SPELLINGS})"
        ) from None


def read_manifest(
    manifest: str | Path,
    path_column: str,
    tasks: Sequence[str] = (),
    intermediates: Sequence[str] = (),
    root: str | Path = "",
    group_column: str = "",
    uncertain_value: float = -1.0,
    uncertain: dict[str, str] | None = None,
    regression_tasks: Sequence[str] = (),
) -> Manifest:
    """The images of ``manifest`` and their label columns (``tasks``: empty means every column
    but the path, group and intermediate columns). ``uncertain``: task → policy, key ``"*"``
    for every class task; a task declared a regression keeps ``uncertain_value`` as a value."""
    path = Path(manifest)
    if not path.is_file():
        raise DataFileError(
            f"{path}: no such manifest; set data.images.manifest to a .csv, "
            ".parquet or a folder of class folders"
        )
    header, rows = _cells(path)
    if not rows:
        raise DataFileError(f"{path}: has a header but no rows")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataFileError(f"{path}: the header names {repeated} more than once")
    reserved = {path_column, group_column} - {""}
    for name in sorted(reserved):
        if name not in header:
            what = "path_column" if name == path_column else "group_column"
            raise DataFileError(
                f"{path}: column '{name}' is missing; the header has {header}; set "
                f"data.images.{what} to one of them"
            )
    text: list[str] = []
    if not tasks:  # every other column of numbers; a column of text (an id, a date) is not one
        others = [c for c in header if c not in reserved and c not in intermediates]
        text = [c for c in others if not _numeric(rows, header.index(c))]
        tasks = [c for c in others if c not in text]
        if not tasks:
            raise DataFileError(
                f"{path}: no column holds labels (numbers); columns of text: {text}; name the "
                "label columns in data.images.tasks=[...]"
            )
    for name in [path_column, *tasks, *intermediates, *([group_column] if group_column else [])]:
        if name not in header:
            raise DataFileError(f"{path}: column '{name}' is missing; the header has {header}")
    position = {name: i for i, name in enumerate(header)}
    base = Path(root) if root else path.parent
    paths = [base / row[position[path_column]] for row in rows]
    policies = dict(uncertain or {})
    labels, counts = {}, {}
    for name in [*tasks, *intermediates]:
        values = np.array(
            [_number(path, name, i + 2, row[position[name]]) for i, row in enumerate(rows)]
        )
        policy = policies.get(name, policies.get("*", "missing"))
        if name not in regression_tasks and name not in intermediates:
            unsure = values == uncertain_value
            if unsure.any():
                counts[name] = int(unsure.sum())
                values[unsure] = math.nan if policy == "missing" else float(policy)
        if np.isinf(values).any():
            raise DataFileError(f"{path}: column '{name}' holds infinity; use NaN for missing")
        if np.isnan(values).all():
            raise DataFileError(
                f"{path}: column '{name}' has no known label; drop the task or label some"
            )
        labels[name] = values
    groups = np.array([row[position[group_column]] for row in rows]) if group_column else None
    return Manifest(str(path), paths, labels, groups, counts, text_columns=text)


def _numeric(rows: list[list[str]], index: int) -> bool:
    for row in rows:
        cell = row[index]
        if cell in MISSING_CELLS:
            continue
        try:
            float(cell)
        except ValueError:
            return False
    return True


def read_class_folders(folder: str | Path, task: str) -> Manifest:
    """``folder/<class>/<image>``: one multiclass task ``task``, classes the sorted folder
    names (the torchvision ImageFolder layout)."""
    folder = Path(folder)
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DataFileError(
            f"{folder}: holds {len(classes)} class folder(s); a class-per-folder data set needs "
            "one folder per class (at least 2), or give a manifest .csv"
        )
    paths, labels = [], []
    for index, name in enumerate(classes):
        images = sorted(p for p in (folder / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += images
        labels += [float(index)] * len(images)
    if not paths:
        raise DataFileError(
            f"{folder}: its class folders hold no images ({sorted(IMAGE_SUFFIXES)})"
        )
    return Manifest(str(folder), paths, {task: np.array(labels)}, class_names={task: classes})
