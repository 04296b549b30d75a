"""Reads a user's data file (.npz or .csv) into checked arrays: inputs, and labels with NaN
for "?".

Everything a later step would trip over is caught here, once, with one line naming the file,
the array or column, and what was expected: a wrong length three modules later, or a NaN input
that turns the loss into NaN a thousand steps in, is far harder to trace back to the file.

.npz: ``x`` (N × features, N × length, N × C × L or N × C × H × W), one ``y_<task>`` per task
and ``z_<name>`` per intermediate target, each of length N; NaN marks a missing label, and so
does −1 in a class label (a task declared binary or multiclass, an integer array, or whole
numbers whose only negative value is −1), unless the task is declared a regression.
.csv: a header row; ``features`` name the input columns (default: every column that is neither
a task nor an intermediate), ``tasks`` and ``intermediates`` the label columns; an empty cell,
"?", NA, N/A, NaN or None is a missing label, and so is −1 in a whole-number column whose only
negative value it is (the CSV form of an integer array), unless the task is declared a
regression.
"""

from __future__ import annotations

import csv
import math
import os
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MISSING_CLASS = -1
# the spellings of a missing label in a text cell (CSV, a manifest); "nan" also reads as NaN
MISSING_CELLS = frozenset({"", "?", "nan", "NaN", "NA", "N/A", "None"})
MISSING_SPELLINGS = "blank, ?, NA, N/A, NaN or None"


class DataFileError(ValueError):
    """A data file cannot be used as it is; the message names the file, the array and the fix."""


@dataclass(frozen=True)
class ArrayTable:
    """One split of a user's data. Labels are float64 with NaN where unknown."""

    source: str
    x: np.ndarray
    targets: dict[str, np.ndarray]
    intermediates: dict[str, np.ndarray]
    # a split of one file: its rows of ``x``, which stays whole (a mapped file is not read)
    x_rows: np.ndarray | None = None
    # per label: the rows whose −1 was read as missing (the line that describes the task
    # counts them); sliced with the labels when a split is carved from a file
    missing_marks: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.x.shape[0] if self.x_rows is None else len(self.x_rows))


def _fail(path: Path, what: str, problem: str) -> DataFileError:
    return DataFileError(f"{path}: {what} {problem}")


def coded_missing(values: np.ndarray) -> bool:
    """Whether −1 in a column of numbers read from text marks a missing label, as it does in
    an integer array: every known value is a whole number and −1 is the only negative one
    (0/1 with −1, classes 0..k with −1). A column with other negatives is a quantity."""
    known = values[~np.isnan(values)]
    if not known.size or not (known == np.round(known)).all():
        return False
    negative = np.unique(known[known < 0])
    return negative.size == 1 and negative[0] == MISSING_CLASS


def _labels(path: Path, name: str, values: np.ndarray, classes: bool) -> np.ndarray:
    """A label array as float64 with NaN for missing; −1 counts as missing in class labels."""
    if values.ndim != 1:
        raise _fail(path, name, f"has shape {values.shape}; expected one label per row, (N,)")
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_):
        raise _fail(path, name, f"has dtype {values.dtype}; expected numbers, NaN for missing")
    labels = values.astype(np.float64)
    if classes or np.issubdtype(values.dtype, np.integer):
        labels[labels == MISSING_CLASS] = np.nan
    if np.isinf(labels).any():
        raise _fail(path, name, "holds infinity; use NaN for a missing label")
    if np.isnan(labels).all():
        raise _fail(path, name, "has no known label (all NaN or -1); drop the task or label some")
    return labels


def _check_x(path: Path, what: str, x: np.ndarray, input_shape: Sequence[int] | None) -> None:
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise _fail(path, what, f"has dtype {x.dtype}; expected real numbers")
    if x.ndim < 2:
        raise _fail(path, what, f"has shape {x.shape}; expected one row per example, (N, ...)")
    if input_shape is not None and tuple(x.shape[1:]) != tuple(input_shape):
        raise _fail(
            path,
            what,
            f"rows have shape {tuple(x.shape[1:])} but data.files.input_shape is "
            f"{list(input_shape)}; fix the config or the file",
        )
    if not np.issubdtype(x.dtype, np.floating):
        return  # whole numbers are always finite
    for start in range(0, len(x), _CHECK_ROWS):  # in blocks: a mapped file is never all read
        finite = np.isfinite(x[start : start + _CHECK_ROWS].reshape(-1, *x.shape[1:]))
        finite = finite.reshape(len(finite), -1).all(axis=1)
        if not finite.all():
            row = start + int(np.argmin(finite))
            raise _fail(
                path, what, f"holds NaN or infinity (first in row {row}); inputs must be finite"
            )


_CHECK_ROWS = 65_536
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # zip local file header: signature … name, extra


def _mapped_member(path: Path, name: str) -> np.ndarray | None:
    """Array ``name`` of an uncompressed .npz, memory-mapped copy-on-write in place; None
    where it cannot be (compressed, Fortran order), and it is then read into memory."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{name}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    with path.open("rb") as handle:
        handle.seek(info.header_offset)
        signature, name_len, extra_len = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
        if signature != b"PK\x03\x04":
            return None
        handle.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
        version = np.lib.format.read_magic(handle)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran_order, dtype = read_header(handle)
        offset = handle.tell()
    if fortran_order or dtype.hasobject or not shape:
        return None
    return np.memmap(path, dtype=dtype, mode="c", offset=offset, shape=shape)


def _stored_x(x: np.ndarray) -> np.ndarray:
    """Inputs as the model reads them: uint8 stays (pixels, scaled to [0, 1] per batch like
    the built-in image worlds), anything else becomes float32."""
    if isinstance(x, np.memmap) or x.dtype in (np.uint8, np.float32):
        return x  # a mapped file keeps its dtype; its batches are converted as they are read
    return x.astype(np.float32)


def _check_lengths(path: Path, n: int, arrays: dict[str, np.ndarray]) -> None:
    for name, values in arrays.items():
        if len(values) != n:
            raise _fail(path, name, f"has {len(values)} rows but x has {n}; they must match")


def _wants_map(archive: np.lib.npyio.NpzFile, min_bytes: int | None) -> bool:
    if min_bytes is None or "x" not in archive.files:
        return False
    return archive.zip.getinfo("x.npy").file_size >= min_bytes


def _check_readable(path: Path) -> None:
    """The file exists and this process may read it (a permission problem is not a format
    problem, and says so)."""
    if not path.is_file():
        raise DataFileError(f"{path}: no such file; check data.files paths")
    if not os.access(path, os.R_OK):
        raise DataFileError(
            f"{path}: cannot be read (permission denied); check the file's permissions"
        )


def load_npz(
    path: str | Path,
    class_tasks: Sequence[str] = (),
    input_shape: Sequence[int] | None = None,
    mmap_min_bytes: int | None = None,
    regression_tasks: Sequence[str] = (),
) -> ArrayTable:
    """``class_tasks``: tasks declared binary or multiclass, whose −1 means missing, as it
    does in an integer array and in a float array of whole numbers whose only negative value
    it is; never in a task of ``regression_tasks`` (declared a regression). An
    uncompressed ``x`` of at least ``mmap_min_bytes`` is memory-mapped, not read: rows are
    then read from disk as batches index them (float32 or uint8 files map as they are)."""
    path = Path(path)
    _check_readable(path)
    if not zipfile.is_zipfile(path):
        raise DataFileError(f"{path}: is not an .npz archive; save it with numpy.savez")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {
                name: archive[name]
                for name in archive.files
                if not (name == "x" and _wants_map(archive, mmap_min_bytes))
            }
            if "x" not in arrays and "x" in archive.files:
                mapped = _mapped_member(path, "x")
                arrays["x"] = mapped if mapped is not None else archive["x"]
    except ValueError as error:  # object arrays need pickle, which is never loaded
        raise DataFileError(
            f"{path}: holds an object or pickled array ({error}); save plain numeric arrays"
        ) from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise DataFileError(f"{path}: is not a readable .npz archive ({error})") from None
    not_arrays = sorted(name for name, value in arrays.items() if not isinstance(value, np.ndarray))
    if not_arrays:
        raise DataFileError(
            f"{path}: members {not_arrays} are not numpy arrays; save every member with numpy.savez"
        )
    if "x" not in arrays:
        found = ", ".join(sorted(arrays)) or "nothing"
        raise DataFileError(f"{path}: has no array 'x' (found {found}); save inputs as x=")
    x = arrays["x"]
    if x.ndim == 0 or len(x) == 0:
        raise DataFileError(f"{path}: array 'x' has no rows; save at least one example")
    _check_x(path, "array 'x'", x, input_shape)
    unknown = sorted(n for n in arrays if n != "x" and not n.startswith(("y_", "z_")))
    if unknown:
        raise DataFileError(
            f"{path}: arrays {unknown} are neither x, y_<task> nor z_<name>; rename or drop them"
        )
    _check_lengths(path, len(x), {f"array '{n}'": a for n, a in arrays.items()})
    labels, marks = {}, {}
    for n, a in arrays.items():
        if not n.startswith(("y_", "z_")):
            continue
        name = n[2:]
        numeric = np.issubdtype(a.dtype, np.number) and a.ndim == 1
        classes = name in class_tasks or (
            numeric
            and name not in regression_tasks
            and (np.issubdtype(a.dtype, np.integer) or coded_missing(a.astype(np.float64)))
        )
        if classes and numeric:
            marks[name] = a == MISSING_CLASS
        labels[n] = _labels(path, f"array '{n}'", a, classes)
    targets = {n[2:]: v for n, v in labels.items() if n.startswith("y_")}
    intermediates = {n[2:]: v for n, v in labels.items() if n.startswith("z_")}
    if not targets:
        raise DataFileError(f"{path}: has no y_<task> array; save at least one task's labels")
    return ArrayTable(str(path), _stored_x(x), targets, intermediates, missing_marks=marks)


def _column(path: Path, rows: list[list[str]], index: int, name: str) -> np.ndarray:
    values = np.empty(len(rows), dtype=np.float64)
    for line, row in enumerate(rows, start=2):
        cell = row[index].strip() if index < len(row) else ""
        if cell in MISSING_CELLS:
            values[line - 2] = math.nan
            continue
        try:
            values[line - 2] = float(cell)
        except ValueError:
            raise _fail(
                path,
                f"column '{name}'",
                f"line {line} holds {cell!r}; expected a number (a missing label is "
                f"{MISSING_SPELLINGS})",
            ) from None
    return values


def load_csv(
    path: str | Path,
    tasks: Sequence[str],
    intermediates: Sequence[str] = (),
    features: Sequence[str] | None = None,
    class_tasks: Sequence[str] = (),
    input_shape: Sequence[int] | None = None,
    regression_tasks: Sequence[str] = (),
) -> ArrayTable:
    """Feature columns become x (N × features); empty or "?" label cells are missing, and so
    is −1 in a column of whole numbers whose only negative value it is (``coded_missing``)
    or of a task declared binary or multiclass (``class_tasks``), never in one declared a
    regression (``regression_tasks``)."""
    path = Path(path)
    _check_readable(path)
    # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark, which is not a column name
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        numbered = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    if not header:
        raise DataFileError(f"{path}: is empty; expected a header row naming the columns")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataFileError(
            f"{path}: the header names {repeated} more than once; give every column its own name"
        )
    for line, row in numbered:
        if len(row) != len(header):
            raise DataFileError(
                f"{path}: line {line} has {len(row)} cells and the header {len(header)}; give "
                "every row one cell per column (an empty cell for a missing label)"
            )
    rows = [row for _, row in numbered]
    labelled = [*tasks, *intermediates]
    if features is None:
        features = [name for name in header if name not in labelled]
    leaked = [name for name in features if name in labelled]
    if leaked:
        raise DataFileError(
            f"{path}: columns {leaked} are both inputs (data.files.features) and labels (tasks "
            "or intermediates): the model would read its own answer; drop them from "
            "data.files.features"
        )
    for name in [*features, *labelled]:
        if name not in header:
            raise _fail(path, f"column '{name}'", f"is missing; the header has {header}")
    if not rows:
        raise DataFileError(f"{path}: has a header but no rows")
    position = {name: i for i, name in enumerate(header)}
    x = np.stack([_column(path, rows, position[f], f) for f in features], axis=1)
    _check_x(path, f"feature columns {list(features)}", x, input_shape)
    labels, marks = {}, {}
    for name in labelled:
        values = _column(path, rows, position[name], name)
        # as in an integer array, −1 in a whole-number column means missing, unless the
        # task is declared a regression (data.files.kinds)
        classes = name in class_tasks or (name not in regression_tasks and coded_missing(values))
        if classes:
            marks[name] = values == MISSING_CLASS
        labels[name] = _labels(path, f"column '{name}'", values, classes)
    return ArrayTable(
        str(path),
        x.astype(np.float32),
        {t: labels[t] for t in tasks},
        {z: labels[z] for z in intermediates},
        missing_marks=marks,
    )


def check_class_labels(source: str, name: str, labels: np.ndarray, num_classes: int) -> None:
    """Known labels of a class task must be whole numbers in [0, num_classes)."""
    known = labels[~np.isnan(labels)]
    bad = known[(known != np.round(known)) | (known < 0) | (known >= num_classes)]
    if bad.size:
        raise DataFileError(
            f"{source}: labels of '{name}' include {bad[0]:g}, outside 0..{num_classes - 1} for "
            f"{num_classes} classes; fix the labels or the declared num_classes"
        )


MAX_INFERRED_CLASSES = 100


def infer_kind(labels: np.ndarray) -> tuple[str, int]:
    """(kind, num_classes) guessed from the known labels: {0, 1} is binary, other whole
    numbers 0..99 multiclass, anything else regression. Printed, and overridable in config."""
    known = labels[~np.isnan(labels)]
    whole = bool((known == np.round(known)).all()) and known.min() >= 0
    if whole and set(np.unique(known).tolist()) <= {0.0, 1.0}:
        return "binary", 2
    if whole and known.max() < MAX_INFERRED_CLASSES:
        return "multiclass", int(known.max()) + 1
    return "regression", 1
