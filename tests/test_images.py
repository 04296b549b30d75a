"""A user's images on disk (data=images): the manifest's label forms, group splits, lazy
decoding, unreadable files, and a fit that is the same whether images are cached or streamed."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tasklab.data import image_decoding
from tasklab.data.building import build_world
from tasklab.data.datamodule import WorldDataModule
from tasklab.data.file_arrays import DataFileError
from tasklab.data.image_manifest import read_manifest
from tasklab.data.label_masks import TaskBudget
from tasklab.data.worker_loading import WorkerBatches
from tasklab.data.world import TEST_STREAM, VAL_STREAM, train_stream
from tasklab.examples.xray import FINDINGS, make_xray_folder
from tasklab.runner import train

from .conftest import TINY


def _write(folder: Path, rows: list[list[str]], header: list[str]) -> Path:
    (folder / "img").mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return manifest


def _png(path: Path, value: int, size: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, dtype=np.uint8), mode="L").save(path)


@pytest.fixture(scope="module")
def xray(tmp_path_factory) -> Path:
    return make_xray_folder(tmp_path_factory.mktemp("xray"), n_patients=60, size=32)


def test_every_label_form_and_the_uncertain_policy(tmp_path):
    cells = ["1", "0", "", "?", "NaN", "-1", "nan", "1"]
    rows = [[f"img/{i}.png", c, c, c, str(0.5 * i)] for i, c in enumerate(cells)]
    rows[5][4] = "-1"  # a regression value of -1 is a value, never "uncertain"
    manifest = _write(tmp_path, rows, ["path", "a", "b", "c", "size"])
    read = read_manifest(
        manifest, "path", uncertain={"a": "missing", "b": "1", "c": "0"},
        regression_tasks=["size"],
    )  # fmt: skip
    nan = math.nan
    np.testing.assert_array_equal(read.labels["a"], [1, 0, nan, nan, nan, nan, nan, 1])
    np.testing.assert_array_equal(read.labels["b"], [1, 0, nan, nan, nan, 1, nan, 1])
    np.testing.assert_array_equal(read.labels["c"], [1, 0, nan, nan, nan, 0, nan, 1])
    np.testing.assert_array_equal(read.labels["size"], [0, 0.5, 1, 1.5, 2, -1, 3, 3.5])
    assert read.uncertain == {"a": 1, "b": 1, "c": 1}
    assert read.paths[2] == tmp_path / "img/2.png"  # relative to the manifest's folder
    star = read_manifest(manifest, "path", tasks=["a"], uncertain={"*": "1"})
    assert star.labels["a"][5] == 1 and list(star.labels) == ["a"]


def test_a_bad_cell_or_a_missing_column_is_one_line_naming_it(tmp_path):
    manifest = _write(tmp_path, [["img/0.png", "yes"]], ["path", "a"])
    with pytest.raises(DataFileError, match=r"column 'a' line 2 holds 'yes'"):
        read_manifest(manifest, "path", tasks=["a"])
    with pytest.raises(DataFileError, match=r"no column holds labels .* data.images.tasks"):
        read_manifest(manifest, "path")
    with pytest.raises(DataFileError, match=r"column 'file' is missing"):
        read_manifest(manifest, "file")


def _cfg(make_cfg, manifest: Path, *extra: str):
    return make_cfg(
        *TINY, "data=images", f"data.images.manifest={manifest}", "data.images.size=16",
        "data.n_train=-1", "data.n_val=-1", "data.n_test=-1", "logger=none", *extra,
    )  # fmt: skip


def test_a_group_split_puts_no_patient_on_two_sides(make_cfg, xray):
    cfg = _cfg(make_cfg, xray, "data.images.group_column=patient")
    world = build_world(cfg.data)
    patients = {}
    for split, stream in (("train", train_stream(0)), ("val", VAL_STREAM), ("test", TEST_STREAM)):
        paths = world.image_paths(stream, torch.arange(world.split_size(split)))
        patients[split] = {p.name.split("_")[0] for p in paths}
    assert patients["train"] and patients["val"] and patients["test"]
    assert not patients["train"] & patients["val"]
    assert not patients["train"] & patients["test"]
    assert not patients["val"] & patients["test"]
    # without the group column, rows are split one by one: this folder would leak patients
    rows = build_world(_cfg(make_cfg, xray).data)
    leaked = {p.name.split("_")[0] for p in rows.image_paths(VAL_STREAM, torch.arange(10))}
    train_ids = {
        p.name.split("_")[0]
        for p in rows.image_paths(train_stream(0), torch.arange(rows.split_size("train")))
    }
    assert leaked & train_ids


def test_subsets_are_nested_and_nothing_is_decoded_until_a_batch_needs_it(
    make_cfg, xray, monkeypatch
):
    decoded: list[Path] = []
    original = image_decoding.decode_image

    def counting(path, size, channels):
        decoded.append(path)
        return original(path, size, channels)

    monkeypatch.setattr(image_decoding, "decode_image", counting)
    world = build_world(_cfg(make_cfg, xray).data)
    assert decoded == []  # building reads headers, never pixels
    small = world.image_paths(train_stream(0), torch.arange(10))
    large = world.image_paths(train_stream(0), torch.arange(40))
    assert large[:10] == small
    x, y = world.render(train_stream(0), torch.arange(8))
    assert decoded == large[:8] and x.dtype == torch.uint8 and x.shape == (8, 3, 16, 16)
    assert torch.isnan(y).any()  # blanks and uncertain cells are unknown labels
    pixels = np.asarray(Image.open(large[0]).convert("RGB").resize((16, 16), Image.BILINEAR))
    np.testing.assert_array_equal(x[0].numpy(), pixels.transpose(2, 0, 1))

    # a data module whose cache holds 20 images decodes none of the training set up front
    decoded.clear()
    world.cache_rows = 20
    specs = [world.task_specs[name] for name in FINDINGS[:3]]
    budgets = {t.name: TaskBudget(n_train=world.split_size("train")) for t in specs}
    n_test = world.split_size("test")
    assert n_test > 20
    module = WorldDataModule(world, specs, budgets, 0, batch_size=8, n_val=10, n_test=n_test)
    module.setup()
    assert len(decoded) == 10  # 10 validation rows fit the cache; the test rows do not
    assert isinstance(module.train_dataloader(), WorkerBatches)


def _one_fit(make_cfg, manifest, tmp_path, *extra):
    cfg = _cfg(make_cfg, manifest, "regime=multi_task", "data.tasks=[atelectasis,edema,mass]",
               "trainer.max_steps=6", *extra)  # fmt: skip
    return train(cfg, output_dir=tmp_path)


def test_a_fit_is_the_same_cached_or_decoded_by_workers(make_cfg, xray, tmp_path):
    cached = _one_fit(make_cfg, xray, tmp_path / "a")
    streamed = _one_fit(make_cfg, xray, tmp_path / "b", "data.images.cache_mb=0.001",
                        "data.images.loader_workers=2")  # fmt: skip
    assert cached.status == streamed.status == "ok"
    assert cached.metrics == pytest.approx(streamed.metrics, rel=1e-6)
    assert 0 < cached.metrics["test/atelectasis/auroc"] < 1


def _broken_folder(tmp_path: Path, broken: str) -> Path:
    rows = []
    for i in range(30):
        _png(tmp_path / f"img/{i}.png", 8 * i)
        rows.append([f"img/{i}.png", str(i % 2)])
    if broken == "missing":
        (tmp_path / "img/7.png").unlink()
    else:
        (tmp_path / "img/7.png").write_bytes(b"not an image at all")
    return _write(tmp_path, rows, ["path", "a"])


@pytest.mark.parametrize("broken", ["missing", "corrupt"])
def test_an_unreadable_image_names_its_file_or_is_skipped_and_counted(make_cfg, tmp_path, broken):
    manifest = _broken_folder(tmp_path, broken)
    expected = r"img/7\.png: listed in .*data.images.on_error=skip"
    with pytest.raises(DataFileError, match=expected) as info:
        build_world(_cfg(make_cfg, manifest).data)
    assert "\n" not in str(info.value)
    world = build_world(_cfg(make_cfg, manifest, "data.images.on_error=skip").data)
    assert world.skipped == [str(tmp_path / "img/7.png")]
    assert any("1 unreadable images left out" in w for w in world.warnings)
    sizes = sum(world.split_size(s) for s in ("train", "val", "test"))
    assert sizes == 29


def test_pixels_that_fail_to_decode_name_the_file(tmp_path):
    path = tmp_path / "cut.png"
    _png(path, 100, size=64)
    path.write_bytes(path.read_bytes()[:60])  # a valid header, then the data cut short
    with pytest.raises(DataFileError, match=r"cut\.png: cannot be decoded"):
        image_decoding.decode_image(path, 16, 1)


def test_class_folders_are_one_multiclass_task(make_cfg, tmp_path):
    for k, name in enumerate(["cat", "dog", "emu"]):
        for i in range(12):
            _png(tmp_path / "folders" / name / f"{i}.png", 80 * k + i)
    world = build_world(_cfg(make_cfg, tmp_path / "folders", "data.images.channels=1").data)
    spec = world.task_specs["label"]
    assert spec.kind == "multiclass" and spec.num_classes == 3
    x, y = world.render(TEST_STREAM, torch.arange(world.split_size("test")))
    assert x.shape[1] == 1
    # every image's class is its folder: the pixel value band 80k..80k+11 says which
    np.testing.assert_array_equal((x[:, 0, 0, 0] // 80).numpy(), y[:, 0].numpy())


def test_parquet_manifest_reads_like_csv(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    table = pa.table({"path": ["img/0.png", "img/1.png"], "a": [1.0, None]})
    pq.write_table(table, tmp_path / "m.parquet")
    read = read_manifest(tmp_path / "m.parquet", "path")
    np.testing.assert_array_equal(read.labels["a"], [1.0, math.nan])


def test_the_command_ends_in_one_line_and_writes_no_ok_record(tmp_path, run_cli):
    from tasklab.train import main as train_main

    manifest = _broken_folder(tmp_path, "corrupt")
    run_dir = tmp_path / "run"
    proc = run_cli(
        train_main, "data=images", f"data.images.manifest={manifest}", "logger=none",
        "trainer=smoke", f"hydra.run.dir={run_dir}",
    )  # fmt: skip
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "img/7.png: listed in" in errors[0]
    assert "cannot identify image file" in errors[0]
    record = json.loads((run_dir / "result.json").read_text())
    assert record["status"] == "failed" and "img/7.png" in record["error"]


def test_a_class_folders_identity_follows_its_images_by_listing(make_cfg, tmp_path, monkeypatch):
    from tasklab.runs import fingerprints
    from tasklab.runs.ids import config_key

    for k, name in enumerate(["cat", "dog"]):
        for i in range(3):
            _png(tmp_path / "folders" / name / f"{i}.png", 100 * k + i)
    cfg = _cfg(make_cfg, tmp_path / "folders")
    read: list[str] = []
    original = fingerprints._fingerprint

    def reading(path, *args):
        read.append(path)
        return original(path, *args)

    monkeypatch.setattr(fingerprints, "_fingerprint", reading)
    before = config_key(cfg)
    assert read == []  # listed by size and time: no image is read to identify the run
    assert config_key(_cfg(make_cfg, tmp_path / "folders")) == before
    _png(tmp_path / "folders" / "dog" / "2.png", 7, size=13)  # an image replaced
    assert config_key(_cfg(make_cfg, tmp_path / "folders")) != before


def test_a_16_bit_image_keeps_its_contrast(tmp_path):
    ramp = (np.arange(16 * 16).reshape(16, 16) * 40 + 1000).astype(np.uint16)  # 1,000–11,200
    Image.fromarray(ramp).save(tmp_path / "wide.png")
    assert Image.open(tmp_path / "wide.png").mode == "I;16"
    pixels = image_decoding.decode_image(tmp_path / "wide.png", 16, 1)[0]
    assert pixels.min() == 0 and pixels.max() == 255  # not clipped to white
    expected = np.round((ramp - 1000.0) * 255 / (ramp.max() - 1000.0))
    np.testing.assert_array_equal(pixels, expected.astype(np.uint8))
