"""``data=files``: a user's files become a world, with task kinds declared or inferred.

The one place that reads ``data.files``: it loads the splits (separate files, or one file
split by seeded fractions), checks that they agree with each other and with the declared
kinds, class counts and input shape, and prints what it decided, so a task inferred as
regression that the user meant as classes is seen before any training.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasklab.data.file_arrays import (
    ArrayTable,
    DataFileError,
    check_class_labels,
    infer_kind,
    load_csv,
    load_npz,
)
from tasklab.data.file_splits import split_rows
from tasklab.data.file_world import FileWorld, StagedFileWorld
from tasklab.data.tasks import TaskSpec
from tasklab.names import is_safe_name, unsafe_name_message
from tasklab.registry import WORLDS
from tasklab.settings import require, setting

KINDS: tuple[str, ...] = ("binary", "multiclass", "regression")
SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass
class FilesSettings:
    """A user's data (``data=files``); docs/guide/own-data.md shows the formats.

    ``train`` alone is one file split by the fractions below (seeded by ``split_seed``); a
    ``val`` or ``test`` file replaces that part of the split. Paths are relative to the
    directory the command runs in. .csv: ``tasks`` are the label columns, ``intermediates``
    the z columns, ``features`` the input columns (empty: every other column); .npz: every
    y_<task> / z_<name> array is read. ``kinds`` and ``num_classes`` declare a task's kind
    (binary, multiclass, regression) and class count; the rest is inferred.
    """

    train: str = setting("", reads=True)
    val: str = setting("", reads=True)
    test: str = setting("", reads=True)
    val_fraction: float = setting(0.1, low=0, high=0.9)
    test_fraction: float = setting(0.2, low=0, high=0.9)
    split_seed: int = setting(0, low=0)
    tasks: list[str] = setting(factory=list)
    intermediates: list[str] = setting(factory=list)
    features: list[str] = setting(factory=list)
    kinds: dict[str, str] = setting(factory=dict)
    num_classes: dict[str, int] = setting(factory=dict)
    input_shape: list[int] = setting(factory=list, doc="checked against the file; []: any")
    stratify: str = setting("", doc="a class task whose proportions every subset keeps")
    mmap_min_mb: float = setting(256.0, low=0, doc="larger .npz inputs are memory-mapped")

    def check(self, path: str) -> None:
        carved = (0 if self.val else self.val_fraction) + (0 if self.test else self.test_fraction)
        require(
            carved < 1,
            f"{path}.val_fraction + test_fraction = {carved:g} leaves no training rows; keep "
            "their sum below 1 (e.g. 0.1 and 0.2)",
        )


def _load(path: str, files: FilesSettings, class_tasks: Sequence[str]) -> ArrayTable:
    shape = list(files.input_shape) or None
    if Path(path).is_dir():
        raise DataFileError(f"{path}: is a folder; give the .npz or .csv file inside it")
    suffix = Path(path).suffix.lower()
    regression = [t for t, kind in files.kinds.items() if kind == "regression"]
    if suffix == ".npz":
        return load_npz(
            path,
            class_tasks,
            shape,
            mmap_min_bytes=int(files.mmap_min_mb * 2**20),
            regression_tasks=regression,
        )
    if suffix == ".csv":
        if not files.tasks:
            raise DataFileError(
                f"{path}: a .csv needs its label columns named; set data.files.tasks=[...]"
            )
        return load_csv(
            path,
            files.tasks,
            files.intermediates,
            list(files.features) or None,
            class_tasks,
            shape,
            regression_tasks=regression,
        )
    raise DataFileError(f"{path}: unknown format {suffix!r}; use .npz or .csv")


def _subset(table: ArrayTable, rows: np.ndarray, part: str) -> ArrayTable:
    return ArrayTable(
        f"{table.source} ({part} rows)",
        table.x,
        {name: labels[rows] for name, labels in table.targets.items()},
        {name: values[rows] for name, values in table.intermediates.items()},
        x_rows=rows,
        missing_marks={name: marks[rows] for name, marks in table.missing_marks.items()},
    )


def load_splits(files: FilesSettings) -> dict[str, ArrayTable]:
    """train / val / test tables: the files given, and seeded parts of ``train`` for the rest."""
    if not files.train:
        raise DataFileError("data.files.train is empty; set it to your .npz or .csv file")
    class_tasks = [t for t, kind in files.kinds.items() if kind in ("binary", "multiclass")]
    tables = {s: _load(getattr(files, s), files, class_tasks) for s in SPLITS if getattr(files, s)}
    carved = {
        s: (getattr(files, f"{s}_fraction") if not getattr(files, s) else 0.0)
        for s in ("val", "test")
    }
    if len(tables) < len(SPLITS):  # a split without its own file is carved from train
        train = tables["train"]
        rows = split_rows(len(train), carved["val"], carved["test"], files.split_seed)
        for part in SPLITS:
            if part == "train" or not getattr(files, part):
                tables[part] = _subset(train, rows[part], part)
    for part in SPLITS:
        if len(tables[part]) == 0:
            raise DataFileError(
                f"data.files: the {part} split is empty; give a {part} file or raise "
                f"data.files.{part}_fraction"
                if part != "train"
                else "data.files: no training rows are left; lower the val/test fractions"
            )
    _check_agreement(tables)
    return tables


def _check_agreement(tables: dict[str, ArrayTable]) -> None:
    """Every split has the training split's input shape, tasks and intermediates."""
    train = tables["train"]
    for part in ("val", "test"):
        table = tables[part]
        if table.x.shape[1:] != train.x.shape[1:]:
            raise DataFileError(
                f"{table.source}: rows have shape {tuple(table.x.shape[1:])} but the training "
                f"rows have {tuple(train.x.shape[1:])}; every split needs the same input shape"
            )
        for kind, mine, theirs in (
            ("tasks", table.targets, train.targets),
            ("intermediates", table.intermediates, train.intermediates),
        ):
            if set(mine) != set(theirs):
                raise DataFileError(
                    f"{table.source}: has {kind} {sorted(mine)} but the training split has "
                    f"{sorted(theirs)}; every split needs the same labels"
                )


def _columns(tables: dict[str, ArrayTable], name: str) -> dict[str, np.ndarray]:
    """A task's or an intermediate target's labels in every split, by the split's source."""
    return {t.source: {**t.targets, **t.intermediates}[name] for t in tables.values()}


def _task_spec(
    name: str, tables: dict[str, ArrayTable], files: FilesSettings
) -> tuple[TaskSpec, str]:
    """The spec of target or intermediate ``name`` and how it was decided (declared or
    inferred), by the same rules for both."""
    train = {**tables["train"].targets, **tables["train"].intermediates}[name]
    return decide_task_spec(
        name, _columns(tables, name), train, files.kinds, files.num_classes, "data.files"
    )


def decide_task_spec(
    name: str,
    columns: dict[str, np.ndarray],
    train_values: np.ndarray,
    kinds: dict[str, str],
    num_classes: dict[str, int],
    field: str,
) -> tuple[TaskSpec, str]:
    """A task's spec from its labels in every split (``columns``, by source) and what
    ``field``.kinds / num_classes declare, and how it was decided (declared or inferred)."""
    every = np.concatenate(list(columns.values()))
    declared = kinds.get(name)
    if declared is not None and declared not in KINDS:
        raise DataFileError(
            f"{field}.kinds.{name}={declared!r} is unknown; allowed: {', '.join(KINDS)}"
        )
    kind, classes = infer_kind(every)
    how = "inferred"
    if declared is not None:
        how = "declared"
        kind = declared
        classes = 2 if declared == "binary" else (classes if declared == "multiclass" else 1)
    if name in num_classes:
        classes, how = int(num_classes[name]), "declared"
        if kind == "binary" and classes != 2:
            raise DataFileError(
                f"{field}.num_classes.{name}={classes} contradicts kind binary; use 2"
            )
    if kind in ("binary", "multiclass"):
        if kind == "multiclass" and classes < 2:
            raise DataFileError(
                f"{field}: task '{name}' is multiclass with {classes} class; declare "
                f"{field}.num_classes.{name} (at least 2)"
            )
        for source, labels in columns.items():
            check_class_labels(source, name, labels, classes)
        return TaskSpec(name, kind, num_classes=classes), how  # type: ignore[arg-type]
    return _regression_spec(name, train_values), how


def _regression_spec(name: str, train_values: np.ndarray) -> TaskSpec:
    """A regression spec whose typical value and spread are the training labels' own."""
    known = train_values[~np.isnan(train_values)]
    spread = float(known.std()) if len(known) > 1 else 1.0
    return TaskSpec(name, "regression", 1, float(known.mean()), spread if spread > 0 else 1.0)


def describe(spec: TaskSpec, how: str, labelled: int, rows: int) -> str:
    kind = f"{spec.num_classes} classes" if spec.kind == "multiclass" else spec.kind
    return f"  {spec.name}: {kind} ({how}); labelled in {labelled:,} of {rows:,} training rows"


def build_file_world(
    files: FilesSettings, tasks: Sequence[str] = (), verbose: bool = True
) -> FileWorld:
    """The world of ``data.files``; staged (for ``regime=pipeline``) when it has
    intermediates, with the first of ``tasks`` (``data.tasks``) as the target."""
    tables = load_splits(files)
    train = tables["train"]
    named = set(train.targets) | set(train.intermediates)
    unknown = sorted((set(files.kinds) | set(files.num_classes)) - named)
    if unknown:
        raise DataFileError(
            f"data.files.kinds/num_classes name {unknown}, which are not tasks or intermediate "
            f"targets of {train.source} (tasks: {sorted(train.targets)}; intermediates: "
            f"{sorted(train.intermediates)})"
        )
    for name in [*train.targets, *train.intermediates]:
        if not is_safe_name(name):
            kind = "task" if name in train.targets else "intermediate"
            raise DataFileError(
                f"{train.source}: {unsafe_name_message(kind, name)} (rename the array or column)"
            )
    specs, lines, warnings = {}, [], []
    for name, labels in {**train.targets, **train.intermediates}.items():
        spec, how = _task_spec(name, tables, files)
        specs[name] = spec
        line = describe(spec, how, int((~np.isnan(labels)).sum()), len(train))
        marks = sum(
            int(t.missing_marks[name].sum()) for t in tables.values() if name in t.missing_marks
        )
        if marks:
            line += f"; -1 read as missing in {marks:,} rows"
        lines.append(line + ("; intermediate z" if name in train.intermediates else ""))
        if how == "inferred":
            warnings += kind_warnings(spec, _columns(tables, name), "data.files")
        if spec.kind != "regression" and name in train.targets:
            by_split = {part: tables[part].targets[name] for part in SPLITS}
            warnings += unseen_class_warnings(name, by_split, "data.files")
    stratify = files.stratify or None
    class_tasks = sorted(n for n in train.targets if specs[n].kind != "regression")
    if stratify is not None and stratify not in class_tasks:
        raise DataFileError(
            f"data.files.stratify={stratify!r} is not a class task of {train.source}; use one "
            f"of {class_tasks}"
        )
    if verbose:
        sizes = ", ".join(f"{part} {len(tables[part]):,}" for part in SPLITS)
        print(f"data.files: {files.train}: rows {sizes}; input {tuple(train.x.shape[1:])}")
        print("\n".join(lines))
        for warning in warnings:
            print(f"tasklab-train: warning: data.files: {warning}", file=sys.stderr)
    targets = list(tasks) or list(train.targets)
    if train.intermediates and len(targets) == 1:
        world = StagedFileWorld(tables, specs, tuple(train.intermediates), targets[0], stratify)
    else:
        world = FileWorld(tables, specs, stratify)
    world.warnings = [f"data.files: {w}" for w in warnings]  # kept in each run's record
    return world


FEW_DISTINCT = 20  # whole-number labels this few read as regression deserve a second look


def kind_warnings(spec: TaskSpec, columns: dict[str, np.ndarray], field: str) -> list[str]:
    """An inferred kind that may be wrong: whole numbers with few distinct values taken for a
    regression (classes coded 1..5, or with a negative code other than -1)."""
    known = np.concatenate([c[~np.isnan(c)] for c in columns.values()])
    distinct = np.unique(known)
    whole = bool((known == np.round(known)).all())
    if spec.kind == "regression" and whole and distinct.size <= FEW_DISTINCT:
        shown = ", ".join(f"{v:g}" for v in distinct[:8])
        return [
            f"task '{spec.name}' is inferred as regression, but its labels are "
            f"{distinct.size} whole numbers ({shown}{', …' if distinct.size > 8 else ''}); "
            f"if they are classes, declare {field}.kinds.{spec.name}=multiclass (and mark "
            "a missing label blank, ? or -1)"
        ]
    if spec.kind == "multiclass" and distinct.size and distinct[0] > 0:
        return [
            f"task '{spec.name}' is inferred as {spec.num_classes} classes "
            f"0..{spec.num_classes - 1}, but no label is below {distinct[0]:g} (classes "
            f"numbered from 1?); classes 0..{distinct[0] - 1:g} have no example"
        ]
    return []


def unseen_class_warnings(name: str, by_split: dict[str, np.ndarray], field: str) -> list[str]:
    """Classes of the test (or validation) rows that no training row has: the network can
    never predict them, so its accuracy on those rows is 0 whatever it learns. ``by_split``:
    the task's labels in "train", "val" and "test"."""
    train = by_split["train"]
    seen = set(np.unique(train[~np.isnan(train)]).tolist())
    out = []
    for part in ("val", "test"):
        labels = by_split[part]
        known = labels[~np.isnan(labels)]
        unseen = np.isin(known, list(seen), invert=True)
        if unseen.any():
            classes = sorted(set(known[unseen].tolist()))
            shown = ", ".join(f"{c:g}" for c in classes[:8]) + (", …" if len(classes) > 8 else "")
            out.append(
                f"task '{name}': {int(unseen.sum()):,} of {known.size:,} {part} rows hold classes "
                f"({shown}) that no training row has; the network cannot predict them (more rows "
                f"per class, or {field}.stratify, keeps every class in training)"
            )
    return out


WORLDS.register("files", settings=FilesSettings, build=build_file_world)(FileWorld)
