"""A run's identity holds the content of the files it reads: an edited data file re-runs the
runs that read it, an untouched one is skipped, and tasklab-reproduce says which changed."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tasklab.config import RESUMED_CHECKPOINTS
from tasklab.reproduce import input_notes
from tasklab.runner import train
from tasklab.runs import fingerprints
from tasklab.runs.checkpoints import CHECKPOINT_DIR, LAST
from tasklab.runs.fingerprints import file_fingerprint, path_fingerprint
from tasklab.runs.ids import config_key

from .conftest import TINY

RUN = [*TINY, "model=mlp", "logger=none", "data=files", "data.n_val=-1", "data.n_test=-1"]


def _csv(path, flip: bool = False, n: int = 300) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] > 0).astype(int)
    if flip:
        y = 1 - y
    rows = ["a,b,c,d,label"] + [
        ",".join(f"{v:.4f}" for v in r) + f",{t}" for r, t in zip(x, y, strict=True)
    ]
    path.write_text("\n".join(rows) + "\n")


def test_an_edited_data_file_reruns_its_run_and_an_untouched_one_is_skipped(
    tmp_path, make_cfg, capsys
):
    data = tmp_path / "data.csv"
    _csv(data)
    overrides = [*RUN, f"data.files.train={data}", "data.files.tasks=[label]"]
    first = train(make_cfg(*overrides), output_dir=tmp_path / "run")
    assert first.inputs["data.files.train"]["path"] == str(data)
    assert first.inputs["data.files.train"]["content"].startswith("sha256:")

    again = train(make_cfg(*overrides), output_dir=tmp_path / "run")
    assert "skipped (finished earlier)" in capsys.readouterr().out  # unchanged: skipped
    assert again.skipped

    _csv(data, flip=True)  # the same name, other labels
    (note,) = input_notes(first.__dict__)
    assert note.startswith(f"note: data.files.train={data} has changed since")
    edited = train(make_cfg(*overrides), output_dir=tmp_path / "run")
    assert "skipped (finished earlier)" not in capsys.readouterr().out
    assert edited.inputs != again.inputs and edited.config_key != first.config_key
    assert edited.metrics != first.metrics

    data.unlink()
    assert "is gone" in input_notes(edited.__dict__)[0]


def test_a_touched_or_copied_small_file_keeps_its_fingerprint(tmp_path):
    data = tmp_path / "data.csv"
    _csv(data)
    before = file_fingerprint(data)
    os.utime(data, (1, 1))
    copy = tmp_path / "copy.csv"
    copy.write_bytes(data.read_bytes())
    assert file_fingerprint(data) == before == file_fingerprint(copy)


def test_a_large_file_is_sampled_with_its_size_and_time(tmp_path, monkeypatch):
    monkeypatch.setattr(fingerprints, "FULL_HASH_MAX_BYTES", 4096)
    monkeypatch.setattr(fingerprints, "BLOCK_BYTES", 256)
    monkeypatch.setattr(fingerprints, "SAMPLED_BLOCKS", 4)
    big = tmp_path / "big.bin"
    content = bytearray(np.random.default_rng(0).bytes(100_000))
    big.write_bytes(content)
    first = file_fingerprint(big)
    assert first.startswith("sampled:")

    content[-1] ^= 1  # in the last block, which is always read
    big.write_bytes(content)
    os.utime(big, ns=(os.stat(big).st_atime_ns, os.stat(big).st_mtime_ns + 10**9))
    assert file_fingerprint(big) != first

    stamp = os.stat(big).st_mtime_ns
    content[50_000] ^= 1  # between sampled blocks, the size and the time kept: not seen
    big.write_bytes(content)
    os.utime(big, ns=(stamp, stamp))
    same_time = file_fingerprint(big)
    os.utime(big, ns=(stamp, stamp + 10**9))  # an edit moves the time: seen
    assert file_fingerprint(big) != same_time


def test_resume_from_is_identified_by_the_checkpoints_it_reads(tmp_path, make_cfg):
    assert f"{CHECKPOINT_DIR}/*/{LAST}.ckpt" == RESUMED_CHECKPOINTS
    source = tmp_path / "source"
    ckpt = source / CHECKPOINT_DIR / "all" / f"{LAST}.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"one")
    (source / "result.json").write_text("{}")
    cfg = make_cfg(*TINY, f"trainer.resume_from={source}")
    key = config_key(cfg)
    (source / "result.json").write_text('{"status": "ok"}')  # not a file it reads
    assert config_key(cfg) == key
    ckpt.write_bytes(b"two")
    assert config_key(cfg) != key
    assert path_fingerprint(source, RESUMED_CHECKPOINTS).startswith("folder:")


@pytest.mark.parametrize("edit", ["target", "source"])
def test_a_transfer_runs_second_source_file_is_part_of_its_identity(tmp_path, make_cfg, edit):
    target, source = tmp_path / "target.csv", tmp_path / "source.csv"
    _csv(target)
    _csv(source, n=400)
    cfg = make_cfg(
        *RUN,
        f"data.files.train={target}",
        "data.files.tasks=[label]",
        "regime=transfer",
        "regime.source_tasks=[label]",
        f"+regime.source_data={{files: {{train: '{source}'}}}}",
    )
    key = config_key(cfg)
    _csv(target if edit == "target" else source, flip=True)
    assert config_key(cfg) != key
