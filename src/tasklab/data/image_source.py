"""``data=images``: a folder of a user's images and a manifest of their labels become a world.

The one place that reads ``data.images``: it reads the manifest (or the class folders), checks
that every listed image exists and names an image format (without decoding it), splits the
rows — by group where a group column is given, so that no patient is on two sides — decides
each task's kind as ``data=files`` does, and prints what it decided.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasklab.data.file_arrays import DataFileError
from tasklab.data.file_source import (
    SPLITS,
    decide_task_spec,
    describe,
    kind_warnings,
    unseen_class_warnings,
)
from tasklab.data.file_splits import split_groups, split_rows
from tasklab.data.image_decoding import MODES, unreadable
from tasklab.data.image_manifest import (
    UNCERTAIN_POLICIES,
    Manifest,
    read_class_folders,
    read_manifest,
)
from tasklab.data.image_world import ImageWorld, StagedImageWorld
from tasklab.names import is_safe_name, unsafe_name_message
from tasklab.registry import WORLDS
from tasklab.settings import STAT_LISTING, require, setting

ON_ERROR: tuple[str, ...] = ("fail", "skip")
FIELD = "data.images"


@dataclass
class ImagesSettings:
    """A user's images (``data=images``); docs/guide/images.md shows the layouts.

    ``manifest``: a .csv or .parquet with a ``path_column`` (relative to ``root``, else to the
    manifest's folder) and label columns, or a folder of class folders (one multiclass task,
    ``folder_task``). ``uncertain``: per task (``"*"``: every class task) what the
    ``uncertain_value`` becomes: missing, 0 or 1. The split is seeded by ``split_seed``; with
    a ``group_column`` whole groups go to one side.
    """

    # a manifest's content joins the run's identity; a folder of class folders by its listing
    # (each image's path, size and time: a changed image re-runs, without reading them all)
    manifest: str = setting("", reads=f"{STAT_LISTING}**/*")
    root: str = ""
    path_column: str = "path"
    tasks: list[str] = setting(factory=list, doc="label columns; []: every other column")
    intermediates: list[str] = setting(factory=list)
    kinds: dict[str, str] = setting(factory=dict)
    num_classes: dict[str, int] = setting(factory=dict)
    uncertain_value: float = -1.0
    uncertain: dict[str, str] = setting(factory=dict)
    group_column: str = ""
    folder_task: str = "label"
    val_fraction: float = setting(0.1, low=0, high=0.9)
    test_fraction: float = setting(0.2, low=0, high=0.9)
    split_seed: int = setting(0, low=0)
    stratify: str = setting("", doc="a class task whose proportions every subset keeps")
    size: int = setting(64, above=0, doc="images are resized to size x size pixels")
    channels: int = setting(3, doc="1 (grey) or 3 (RGB)")
    on_error: str = setting("fail", choices=ON_ERROR, identity=True)
    decode_threads: int = setting(2, low=1, identity=False)
    loader_workers: int = setting(2, low=0, identity=False, doc="0: decode in the main process")
    cache_mb: float = setting(1024.0, low=0, identity=False)

    def check(self, path: str) -> None:
        require(
            bool(self.manifest),
            f"{path}.manifest is empty; set it to your manifest .csv "
            "(or a folder of class folders)",
        )
        require(self.channels in MODES, f"{path}.channels={self.channels}; use 1 or 3")
        for task, policy in self.uncertain.items():
            require(
                str(policy) in UNCERTAIN_POLICIES,
                f"{path}.uncertain.{task}={policy!r} is unknown; allowed: "
                f"{', '.join(UNCERTAIN_POLICIES)}",
            )
        require(
            self.val_fraction + self.test_fraction < 1,
            f"{path}.val_fraction + test_fraction leaves no training rows; keep the sum below 1",
        )


def _read(images: ImagesSettings) -> Manifest:
    if Path(images.manifest).is_dir():
        return read_class_folders(images.manifest, images.folder_task)
    regression = [t for t, kind in images.kinds.items() if kind == "regression"]
    return read_manifest(
        images.manifest,
        images.path_column,
        images.tasks,
        images.intermediates,
        images.root,
        images.group_column,
        images.uncertain_value,
        {k: str(v) for k, v in images.uncertain.items()},
        regression,
    )


def _usable(manifest: Manifest, on_error: str) -> tuple[np.ndarray, list[str]]:
    """Rows whose image exists and names an image format; under ``fail`` the first that does
    not ends the run naming its file, under ``skip`` they are left out and listed."""
    keep, skipped = np.ones(len(manifest), dtype=bool), []
    for row, path in enumerate(manifest.paths):
        problem = "no such file" if not path.is_file() else unreadable(path)
        if problem is None:
            continue
        if on_error == "fail":
            raise DataFileError(
                f"{path}: listed in {manifest.source} but {problem}; fix the path (relative "
                f"to {FIELD}.root, else to the manifest's folder) or set {FIELD}.on_error=skip"
            )
        keep[row] = False
        skipped.append(str(path))
    if not keep.any():
        raise DataFileError(f"{manifest.source}: none of its {len(keep)} images can be read")
    return keep, skipped


def _split(manifest: Manifest, keep: np.ndarray, images: ImagesSettings) -> dict[str, np.ndarray]:
    rows = np.flatnonzero(keep)
    if manifest.groups is not None:
        parts = split_groups(
            manifest.groups[rows], images.val_fraction, images.test_fraction, images.split_seed
        )
    else:
        parts = split_rows(len(rows), images.val_fraction, images.test_fraction, images.split_seed)
    for part in SPLITS:
        if len(parts[part]) == 0:
            raise DataFileError(
                f"{FIELD}: the {part} split of {manifest.source} is empty; it has {len(rows)} "
                f"usable images; change {FIELD}.val_fraction / test_fraction"
            )
    return {part: rows[parts[part]] for part in SPLITS}


def build_image_world(
    images: ImagesSettings, tasks: Sequence[str] = (), verbose: bool = True
) -> ImageWorld:
    """The world of ``data.images``; staged (for ``regime=pipeline``) when it has
    intermediates, with the first of ``tasks`` (``data.tasks``) as the target."""
    manifest = _read(images)
    keep, skipped = _usable(manifest, images.on_error)
    parts = _split(manifest, keep, images)
    names = list(manifest.labels)
    intermediates = tuple(images.intermediates)
    for name in names:
        if not is_safe_name(name):
            raise DataFileError(f"{manifest.source}: {unsafe_name_message('task', name)}")
    unknown = sorted((set(images.kinds) | set(images.num_classes)) - set(names))
    if unknown:
        raise DataFileError(
            f"{FIELD}.kinds/num_classes name {unknown}, which are not columns read from "
            f"{manifest.source} ({names})"
        )
    labels = {p: {n: manifest.labels[n][rows] for n in names} for p, rows in parts.items()}
    specs, lines, warnings = {}, [], []
    for name in names:
        columns = {f"{manifest.source} ({p} rows)": labels[p][name] for p in SPLITS}
        spec, how = decide_task_spec(
            name, columns, labels["train"][name], images.kinds, images.num_classes, FIELD
        )
        specs[name] = spec
        train = labels["train"][name]
        line = describe(spec, how, int((~np.isnan(train)).sum()), len(train))
        if name in manifest.uncertain:
            policy = images.uncertain.get(name, images.uncertain.get("*", "missing"))
            line += (
                f"; {manifest.uncertain[name]:,} uncertain ({images.uncertain_value:g}) in "
                f"the manifest → {policy}"
            )
        lines.append(line + ("; intermediate z" if name in intermediates else ""))
        if how == "inferred":
            warnings += kind_warnings(spec, columns, FIELD)
        if spec.kind != "regression" and name not in intermediates:
            warnings += unseen_class_warnings(name, {p: labels[p][name] for p in SPLITS}, FIELD)
    stratify = images.stratify or None
    if stratify is not None and (stratify not in specs or specs[stratify].kind == "regression"):
        raise DataFileError(
            f"{FIELD}.stratify={stratify!r} is not a class task of {manifest.source}"
        )
    if skipped:
        warnings.append(
            f"{len(skipped):,} unreadable images left out (on_error=skip), e.g. {skipped[0]}"
        )
    if verbose:
        sizes = ", ".join(f"{p} {len(parts[p]):,}" for p in SPLITS)
        grouped = f" (by {images.group_column})" if manifest.groups is not None else ""
        print(
            f"{FIELD}: {manifest.source}: images {sizes}{grouped}; input "
            f"({images.channels}, {images.size}, {images.size})"
        )
        print("\n".join(lines))
        if manifest.text_columns:
            print(f"  not tasks (text): {', '.join(manifest.text_columns)}")
        for warning in warnings:
            print(f"tasklab-train: warning: {FIELD}: {warning}", file=sys.stderr)
    arguments = dict(
        paths={p: [manifest.paths[r] for r in rows] for p, rows in parts.items()},
        labels=labels,
        task_specs=specs,
        size=images.size,
        channels=images.channels,
        intermediate_names=intermediates,
        stratify=stratify,
        threads=images.decode_threads,
        loader_workers=images.loader_workers,
        cache_mb=images.cache_mb,
    )
    targets = list(tasks) or [n for n in names if n not in intermediates]
    world: ImageWorld
    if intermediates and len(targets) == 1:
        world = StagedImageWorld(intermediates=intermediates, target=targets[0], **arguments)
    else:
        world = ImageWorld(**arguments)  # type: ignore[arg-type]
    world.skipped = skipped
    world.warnings = [f"{FIELD}: {w}" for w in warnings]  # kept in each run's record
    return world


WORLDS.register("images", settings=ImagesSettings, build=build_image_world)(ImageWorld)
