"""Labels read as the user meant them, or a line saying what was assumed: -1 as missing in a
whole-number CSV column, a warning where whole numbers are taken for a regression or classes
start at 1, and a warning (kept in the record) when test classes never occur in training."""

from __future__ import annotations

import numpy as np
import pytest

from tasklab.data.file_source import build_file_world
from tasklab.runner import train

from .test_file_source import _data_cfg

RUN = ["model=mlp", "logger=none", "data=files", "data.n_val=-1", "data.n_test=-1"]


def _csv(path, labels, n_features: int = 3, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(labels), n_features))
    header = ",".join([*(f"f{k}" for k in range(n_features)), "label"])
    rows = [",".join(f"{v:.3f}" for v in r) + f",{y}" for r, y in zip(x, labels, strict=True)]
    path.write_text("\n".join([header, *rows]) + "\n")


def _world(path, capsys, **files):
    world = build_file_world(_data_cfg(train=str(path), tasks=["label"], **files).files)
    out = capsys.readouterr()
    return world, out.out, out.err


def test_minus_one_in_a_zero_one_csv_column_is_missing_and_said(tmp_path, capsys):
    labels = [0, 1] * 40 + [-1] * 20
    _csv(tmp_path / "d.csv", labels)
    world, out, err = _world(tmp_path / "d.csv", capsys)
    spec = world.task_specs["label"]
    assert (spec.kind, spec.num_classes) == ("binary", 2)  # was: regression
    assert "label: binary (inferred)" in out and "-1 read as missing in 20 rows" in out
    assert err == ""


def test_a_declared_regression_keeps_its_minus_ones(tmp_path, capsys):
    _csv(tmp_path / "d.csv", [0, 1, 2] * 30 + [-1] * 10)
    world, out, _ = _world(tmp_path / "d.csv", capsys, kinds={"label": "regression"})
    assert world.task_specs["label"].kind == "regression"
    assert "read as missing" not in out


def test_few_whole_numbers_taken_for_a_regression_get_a_warning(tmp_path, capsys):
    _csv(tmp_path / "d.csv", [-2, -1, 0, 1, 2] * 20)  # a score, or classes with odd codes
    world, _, err = _world(tmp_path / "d.csv", capsys)
    assert world.task_specs["label"].kind == "regression"
    (line,) = err.strip().splitlines()
    assert line.startswith("tasklab-train: warning: data.files: task 'label' is inferred as")
    assert "5 whole numbers (-2, -1, 0, 1, 2)" in line and "kinds.label=multiclass" in line


def test_classes_numbered_from_one_get_a_warning(tmp_path, capsys):
    _csv(tmp_path / "d.csv", [1, 2, 3, 4, 5] * 20)
    world, _, err = _world(tmp_path / "d.csv", capsys)
    assert world.task_specs["label"].num_classes == 6
    assert "no label is below 1 (classes numbered from 1?)" in err


def test_test_classes_never_seen_in_training_warn_and_the_record_keeps_it(
    tmp_path, make_cfg, capsys
):
    _csv(tmp_path / "d.csv", list(range(24)))  # one row per class
    cfg = make_cfg(
        *RUN,
        f"data.files.train={tmp_path / 'd.csv'}",
        "data.files.tasks=[label]",
        "trainer=smoke",
        "data.batch_size=8",
    )
    result = train(cfg, output_dir=tmp_path / "run")
    err = capsys.readouterr().err
    unseen = [w for w in result.data["warnings"] if "that no training row has" in w]
    assert unseen and any("test rows hold classes" in w for w in unseen)
    assert "tasklab-train: warning: data.files: task 'label':" in err
    assert result.status == "ok"


@pytest.mark.parametrize("declared", [False, True])
def test_a_balanced_class_column_warns_of_nothing(tmp_path, capsys, declared):
    _csv(tmp_path / "d.csv", [0, 1, 2] * 60)
    kinds = {"kinds": {"label": "multiclass"}} if declared else {}
    _, _, err = _world(tmp_path / "d.csv", capsys, **kinds)
    assert err == ""


@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_minus_one_in_an_npz_label_array_is_missing_and_said(tmp_path, capsys, dtype):
    x = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y_label=np.array([0, 1] * 40 + [-1] * 20, dtype=dtype))
    world = build_file_world(_data_cfg(train=str(tmp_path / "d.npz")).files)
    out = capsys.readouterr().out
    assert world.task_specs["label"].kind == "binary"
    assert "-1 read as missing in 20 rows" in out
