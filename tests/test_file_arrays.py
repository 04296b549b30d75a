"""User data files: what is read, what counts as missing, and one-line errors for bad files."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from tasklab.data.file_arrays import (
    DataFileError,
    check_class_labels,
    infer_kind,
    load_csv,
    load_npz,
)


def _npz(tmp_path: Path, **arrays) -> Path:
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


def _x(n: int = 5) -> np.ndarray:
    return np.arange(n * 3, dtype=np.float64).reshape(n, 3)


def test_npz_labels_mark_missing_with_nan_or_minus_one(tmp_path):
    path = _npz(
        tmp_path,
        x=_x(),
        y_digit=np.array([3, -1, 0, 9, 2]),  # integers: -1 is missing
        y_parity=np.array([1.0, -1.0, 0.0, np.nan, 0.0]),  # declared a class task below
        y_size=np.array([-1.0, 0.5, np.nan, 2.0, 1.0]),  # regression: -1 is a value
        z_len=np.array([0.1, 0.2, 0.3, 0.4, np.nan]),
    )
    table = load_npz(path, class_tasks=["parity"])
    assert len(table) == 5 and table.x.dtype == np.float32 and table.x.shape == (5, 3)
    np.testing.assert_array_equal(table.targets["digit"], [3, np.nan, 0, 9, 2])
    np.testing.assert_array_equal(table.targets["parity"], [1, np.nan, 0, np.nan, 0])
    np.testing.assert_array_equal(table.targets["size"], [-1, 0.5, np.nan, 2, 1])
    np.testing.assert_array_equal(table.intermediates["len"], [0.1, 0.2, 0.3, 0.4, np.nan])


def test_npz_images_keep_their_shape_and_are_checked_against_the_config(tmp_path):
    path = _npz(tmp_path, x=np.zeros((4, 1, 8, 8), dtype=np.uint8), y_a=np.array([0, 1, 1, 0]))
    assert load_npz(path, input_shape=[1, 8, 8]).x.shape == (4, 1, 8, 8)
    with pytest.raises(DataFileError) as info:
        load_npz(path, input_shape=[3, 8, 8])
    assert "rows have shape (1, 8, 8) but data.files.input_shape is [3, 8, 8]" in str(info.value)


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"x": _x(), "y_a": np.ones(4)}, "array 'y_a' has 4 rows but x has 5; they must match"),
        (
            {"x": _x(), "y_a": np.array([1, None, 0, 1, 0], dtype=object)},
            "holds an object or pickled array",
        ),
        (
            {"x": np.where(np.eye(5, 3) > 0, np.nan, 1.0)[[1, 2, 0, 3, 4]], "y_a": np.ones(5)},
            "array 'x' holds NaN or infinity (first in row 0)",
        ),
        (
            {"x": np.r_[_x(4), [[1.0, np.inf, 0.0]]], "y_a": np.ones(5)},
            "holds NaN or infinity (first in row 4)",
        ),
        ({"x": _x(), "y_a": np.full(5, -1)}, "array 'y_a' has no known label (all NaN or -1)"),
        ({"x": _x(), "y_a": np.ones(5), "w": np.ones(5)}, "arrays ['w'] are neither x"),
        ({"inputs": _x(), "y_a": np.ones(5)}, "has no array 'x' (found inputs, y_a)"),
        ({"x": _x()}, "has no y_<task> array"),
        ({"x": _x(), "y_a": np.ones((5, 2))}, "array 'y_a' has shape (5, 2); expected"),
        ({"x": np.array(["a", "b"]), "y_a": np.ones(2)}, "array 'x' has dtype <U1"),
    ],
)
def test_bad_npz_is_one_line_naming_file_and_array(tmp_path, arrays, expected):
    path = _npz(tmp_path, **arrays)
    with pytest.raises(DataFileError) as info:
        load_npz(path)
    message = str(info.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_a_file_that_is_not_npz_or_missing(tmp_path):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip archive")
    with pytest.raises(
        DataFileError, match=re.escape("is not an .npz archive; save it with numpy.savez")
    ):
        load_npz(broken)
    with pytest.raises(DataFileError, match=re.escape("no such file; check data.files paths")):
        load_npz(tmp_path / "absent.npz")


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_csv_columns_take_roles_and_empty_cells_are_missing(tmp_path):
    path = _csv(tmp_path, "f1,f2,label,aux,age\n1,2,0,5,3.5\n3,4,,6,?\n5,6,1,,7\n\n")
    table = load_csv(path, tasks=["label", "age"], intermediates=["aux"])
    np.testing.assert_array_equal(table.x, [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(table.targets["label"], [0, np.nan, 1])
    np.testing.assert_array_equal(table.targets["age"], [3.5, np.nan, 7])
    np.testing.assert_array_equal(table.intermediates["aux"], [5, 6, np.nan])
    only_f2 = load_csv(path, tasks=["label"], features=["f2"])
    np.testing.assert_array_equal(only_f2.x[:, 0], [2, 4, 6])


def test_every_missing_label_spelling_reads_as_missing(tmp_path):
    text = "f1,label\n1,1\n2,NA\n3,N/A\n4,nan\n5,NaN\n6,None\n7,?\n8,\n9,0\n"
    table = load_csv(_csv(tmp_path, text), tasks=["label"])
    expected = [1] + [np.nan] * 7 + [0]
    np.testing.assert_array_equal(table.targets["label"], expected)


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        ("f1,label\n1,0\n", {"tasks": ["age"]}, "column 'age' is missing; the header has"),
        ("f1,label\n1,0\n", {"tasks": ["label"], "features": ["f9"]}, "column 'f9' is missing"),
        ("f1,label\n1,x\n", {"tasks": ["label"]}, "column 'label' line 2 holds 'x'"),
        ("f1,label\n1,n.a.\n", {"tasks": ["label"]}, "a missing label is blank, ?, NA, N/A"),
        ("f1,label\n,0\n2,1\n", {"tasks": ["label"]}, "feature columns ['f1'] holds NaN"),
        ("f1,label\n", {"tasks": ["label"]}, "has a header but no rows"),
        ("", {"tasks": ["label"]}, "is empty; expected a header row"),
        ("f1,label\n1,\n2,?\n", {"tasks": ["label"]}, "column 'label' has no known label"),
    ],
)
def test_bad_csv_is_one_line_naming_file_and_column(tmp_path, text, kwargs, expected):
    path = _csv(tmp_path, text)
    with pytest.raises(DataFileError) as info:
        load_csv(path, **kwargs)
    message = str(info.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_class_labels_must_fit_the_declared_class_count():
    labels = np.array([0.0, 2.0, math.nan, 1.0])
    check_class_labels("d.npz", "digit", labels, num_classes=3)
    with pytest.raises(
        DataFileError, match=re.escape("labels of 'digit' include 2, outside 0..1 for 2")
    ):
        check_class_labels("d.npz", "digit", labels, num_classes=2)
    with pytest.raises(DataFileError, match=re.escape("include 0.5")):
        check_class_labels("d.npz", "digit", np.array([0.5, 1.0]), num_classes=3)


@pytest.mark.parametrize(
    ("labels", "kind"),
    [
        ([0, 1, 1, math.nan], ("binary", 2)),
        ([0, 4, 9, 2], ("multiclass", 10)),
        ([0.5, 1.0, 2.0], ("regression", 1)),
        ([-3, 1, 2], ("regression", 1)),
        ([0, 150, 3], ("regression", 1)),
    ],
)
def test_task_kind_is_inferred_from_known_labels(labels, kind):
    assert infer_kind(np.array(labels, dtype=np.float64)) == kind
