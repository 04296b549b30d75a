"""``data=files``: splits, task kinds, memory-mapping, and whole runs on a user's file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from tasklab.config_checks import ConfigError
from tasklab.data.building import build_world
from tasklab.data.datamodule import WorldDataModule
from tasklab.data.file_arrays import DataFileError
from tasklab.data.file_source import load_splits
from tasklab.data.label_masks import TaskBudget
from tasklab.data.world import TEST_STREAM, VAL_STREAM, train_stream
from tasklab.runner import train
from tasklab.runs.fingerprints import file_fingerprint
from tasklab.train import main as train_main

from .conftest import TINY


def _arrays(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Features whose first column decides a binary task; a 3-class task with gaps (-1); a
    regression target with gaps (NaN)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    band = np.digitize(x[:, 1], [-0.5, 0.5]).astype(np.int64)
    band[::4] = -1
    score = 3.0 + 2.0 * x[:, 2]
    score[1::5] = np.nan
    return {"x": x, "y_pos": (x[:, 0] > 0).astype(np.int64), "y_band": band, "y_score": score}


def _data_cfg(**files):
    base = OmegaConf.structured(
        {
            "world": "files",
            "tasks": [],
            "files": {
                "train": "",
                "val": "",
                "test": "",
                "val_fraction": 0.1,
                "test_fraction": 0.2,
                "split_seed": 0,
                "tasks": [],
                "intermediates": [],
                "features": [],
                "kinds": {},
                "num_classes": {},
                "input_shape": [],
                "stratify": "",
                "mmap_min_mb": 256.0,
            },
        }
    )
    base.files = OmegaConf.merge(base.files, files)
    return base


@pytest.fixture
def one_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.npz"
    np.savez(path, **_arrays(500))
    return path


def test_one_file_is_split_by_seeded_fractions_into_disjoint_parts(one_file):
    tables = load_splits(_data_cfg(train=str(one_file)).files)
    sizes = {part: len(table) for part, table in tables.items()}
    assert sizes == {"train": 350, "val": 50, "test": 100}
    rows = np.concatenate([tables[p].x_rows for p in ("train", "val", "test")])
    assert sorted(rows.tolist()) == list(range(500))
    again = load_splits(_data_cfg(train=str(one_file)).files)
    np.testing.assert_array_equal(again["test"].x_rows, tables["test"].x_rows)
    other = load_splits(_data_cfg(train=str(one_file), split_seed=1).files)
    assert not np.array_equal(other["test"].x_rows, tables["test"].x_rows)


def test_a_given_test_file_replaces_that_part_of_the_split(one_file, tmp_path):
    test_path = tmp_path / "test.npz"
    np.savez(test_path, **_arrays(80, seed=1))
    tables = load_splits(_data_cfg(train=str(one_file), test=str(test_path)).files)
    assert {p: len(t) for p, t in tables.items()} == {"train": 450, "val": 50, "test": 80}
    assert tables["test"].x_rows is None


def test_kinds_are_inferred_or_declared_and_printed(one_file, capsys):
    world = build_world(_data_cfg(train=str(one_file)), verbose=True)
    specs = world.task_specs
    assert (specs["pos"].kind, specs["band"].kind, specs["band"].num_classes) == (
        "binary",
        "multiclass",
        3,
    )
    score = specs["score"]
    train_scores = load_splits(_data_cfg(train=str(one_file)).files)["train"].targets["score"]
    assert score.kind == "regression"
    assert score.loc == pytest.approx(np.nanmean(train_scores))
    assert score.scale == pytest.approx(np.nanstd(train_scores))
    printed = capsys.readouterr().out
    assert "band: 3 classes (inferred); labelled in" in printed
    assert "rows train 350, val 50, test 100; input (6,)" in printed
    declared = build_world(
        _data_cfg(train=str(one_file), kinds={"band": "multiclass"}, num_classes={"band": 5})
    )
    assert declared.task_specs["band"].num_classes == 5


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"num_classes": {"band": 2}}, "labels of 'band' include 2, outside 0..1 for 2 classes"),
        ({"kinds": {"band": "ordinal"}}, "data.files.kinds.band='ordinal' is unknown"),
        ({"kinds": {"colour": "binary"}}, "name ['colour'], which are not tasks or intermediate"),
        ({"stratify": "score"}, "data.files.stratify='score' is not a class task"),
        ({"input_shape": [3, 2]}, "rows have shape (6,) but data.files.input_shape is [3, 2]"),
        ({"val_fraction": 0.0}, "the val split is empty; give a val file"),
    ],
)
def test_contradictions_with_the_config_name_the_field(one_file, files, expected):
    with pytest.raises(DataFileError) as info:
        build_world(_data_cfg(train=str(one_file), **files))
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_splits_that_disagree_are_refused(one_file, tmp_path):
    wide = tmp_path / "wide.npz"
    arrays = _arrays(40)
    np.savez(wide, **{**arrays, "x": np.zeros((40, 7), np.float32)})
    with pytest.raises(DataFileError, match=r"wide.npz: rows have shape \(7,\) but the train"):
        load_splits(_data_cfg(train=str(one_file), val=str(wide)).files)
    fewer = tmp_path / "fewer.npz"
    np.savez(fewer, x=arrays["x"], y_pos=arrays["y_pos"])
    with pytest.raises(DataFileError, match=r"fewer.npz: has tasks \['pos'\] but the training"):
        load_splits(_data_cfg(train=str(one_file), test=str(fewer)).files)


def test_a_large_uncompressed_input_is_memory_mapped_and_reads_the_same(tmp_path):
    arrays = _arrays(300)
    plain, packed = tmp_path / "plain.npz", tmp_path / "packed.npz"
    np.savez(plain, **arrays)
    np.savez_compressed(packed, **arrays)
    in_memory = build_world(_data_cfg(train=str(plain)))
    mapped = build_world(_data_cfg(train=str(plain), mmap_min_mb=0.001))
    assert in_memory.in_memory and not mapped.in_memory
    assert build_world(_data_cfg(train=str(packed), mmap_min_mb=0.001)).in_memory
    index = torch.arange(30)
    for stream in (VAL_STREAM, TEST_STREAM, train_stream(3)):
        for a, b in zip(in_memory.render(stream, index), mapped.render(stream, index), strict=True):
            torch.testing.assert_close(a, b, equal_nan=True)
    # float64 files map as they are and are converted batch by batch
    wide = tmp_path / "wide.npz"
    np.savez(wide, **{**arrays, "x": arrays["x"].astype(np.float64)})
    x, _ = build_world(_data_cfg(train=str(wide), mmap_min_mb=0.001)).render(VAL_STREAM, index)
    assert x.dtype == torch.float32


def test_a_pickled_input_is_refused_when_mapping_too(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([[1, None]] * 4, dtype=object), y_a=np.ones(4))
    with pytest.raises(DataFileError, match="holds an object or pickled array"):
        build_world(_data_cfg(train=str(path), mmap_min_mb=0.0))


def test_the_fingerprint_follows_the_contents(one_file):
    before = file_fingerprint(one_file)
    np.savez(one_file, **_arrays(500, seed=9))
    assert file_fingerprint(one_file) != before


def test_a_streamed_file_split_counts_only_the_labels_the_file_has(one_file):
    world = build_world(_data_cfg(train=str(one_file)))
    tasks = [world.task_specs[name] for name in ("band", "score")]
    budgets = {t.name: TaskBudget(n_train=200) for t in tasks}
    counts = []
    for materialise_max in (10_000, 10):  # rendered in advance, then batch by batch
        module = WorldDataModule(
            world, tasks, budgets, seed=1, n_val=50, n_test=100, materialise_max=materialise_max
        )
        counts.append(module.labelled_counts())
    _, labels = world.render(train_stream(1), torch.arange(200))
    known = (~torch.isnan(labels[:, 1:3])).sum(dim=0).tolist()
    assert counts[0] == counts[1] == {"band": known[0], "score": known[1]}
    assert known[0] < 200 and known[1] < 200


FILES_RUN = [*TINY, "data=files", "model=mlp", "logger=none", "data.n_val=-1", "data.n_test=-1"]


def test_a_multi_task_run_on_a_file_uses_every_task_and_the_split_sizes(
    make_cfg, tmp_path, one_file
):
    cfg = make_cfg(*FILES_RUN, f"data.files.train={one_file}", "trainer.max_steps=30")
    result = train(cfg, output_dir=tmp_path / "run")
    assert result.status == "ok"
    data = result.config["data"]
    assert (data["n_val"], data["n_test"], data["tasks"]) == (50, 100, ["pos", "band", "score"])
    # every labelled row of the first 64 training rows, as counted from the file
    order_rows = build_world(_data_cfg(train=str(one_file)))
    _, labels = order_rows.render(train_stream(0), torch.arange(64))
    expected = (~torch.isnan(labels)).sum(dim=0).tolist()
    assert [result.data["n_labelled"][t] for t in ("pos", "band", "score")] == expected
    assert 0.0 <= result.metrics["test/pos/auroc"] <= 1.0


def test_sizes_beyond_the_file_name_the_field_and_the_row_count(make_cfg, tmp_path, one_file):
    cfg = make_cfg(*FILES_RUN, f"data.files.train={one_file}", "data.n_train=400")
    with pytest.raises(ConfigError, match=r"data.n_train=400 exceeds the 350 train rows"):
        train(cfg, output_dir=tmp_path / "run")


def test_files_without_a_path_say_which_setting_to_give(make_cfg, tmp_path):
    with pytest.raises(DataFileError, match=r"data.files.train is empty; set it to your"):
        train(make_cfg(*FILES_RUN), output_dir=tmp_path / "run")
    record = json.loads((tmp_path / "run" / "result.json").read_text())
    assert record["status"] == "failed"


def test_a_bad_file_fails_in_one_line_with_a_non_zero_exit(tmp_path, run_cli):
    broken = tmp_path / "broken.npz"
    broken.write_text("not an archive")
    run_dir = tmp_path / "run"
    proc = run_cli(
        train_main,
        "data=files",
        f"data.files.train={broken}",
        "model=mlp",
        "logger=none",
        f"hydra.run.dir={run_dir}",
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert errors == [
        f"tasklab-train: error: {broken}: is not an .npz archive; save it with numpy.savez"
    ]
    record = json.loads(Path(run_dir, "result.json").read_text())
    assert record["status"] == "failed" and "DataFileError" in record["error"]
