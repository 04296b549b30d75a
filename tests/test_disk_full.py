"""A full disk is one line naming the folder and the bytes wanted, wherever a file is written,
and leaves no partial file and no marker behind. Real small filesystems (tmpfs) where this
machine lets the tests mount one; the write path itself everywhere."""

from __future__ import annotations

import errno
import subprocess
import uuid

import pytest

from tasklab.results import DiskFullError, write_atomic, write_text_atomic
from tasklab.runs.markers import RUNNING_FILE
from tasklab.train import main

from .conftest import SMALL_RUN


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of a given size in KiB, unmounted after the test; skipped where mounting is
    not allowed (not root, or in a container without the capability)."""
    mounted = []

    def _mount(kib: int):
        where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
        where.mkdir()
        try:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(where)],
                capture_output=True,
            )
        except OSError:  # no mount command
            done = None
        if done is None or done.returncode != 0:
            pytest.skip("cannot mount a small tmpfs here (needs root)")
        mounted.append(where)
        return where

    yield _mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)  # lazy: a log file may be open


def test_a_checkpoint_on_a_full_disk_is_one_line_with_the_bytes(small_disk, run_cli):
    disk = small_disk(60)
    run = run_cli(
        main,
        *SMALL_RUN,
        "model.width=16",
        "trainer.max_steps=4",
        "trainer.checkpoint_every_n_steps=2",
        f"hydra.run.dir={disk / 'run'}",
    )
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1 and len(lines) == 1, run.stderr[-3000:]
    assert lines[0].startswith(
        f"tasklab-train: error: no space left on the device of {disk / 'run' / 'checkpoints'}"
    )
    assert "(writing last.ckpt: " in lines[0] and " bytes wanted, " in lines[0]
    assert not list(disk.rglob("*.tmp")) and not (disk / "run" / RUNNING_FILE).exists()
    assert not list(disk.rglob("last.ckpt"))  # no partial checkpoint


def test_a_full_disk_at_the_start_names_the_folder(small_disk, run_cli):
    disk = small_disk(4)
    run = run_cli(main, *SMALL_RUN, f"hydra.run.dir={disk / 'run'}")
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1 and len(lines) == 1, run.stderr[-3000:]
    assert lines[0].startswith(f"tasklab-train: error: no space left on the device of {disk}")


@pytest.mark.parametrize("how", ["oserror", "torch"])
def test_an_atomic_write_on_a_full_disk_says_where_and_leaves_nothing(tmp_path, how):
    target = tmp_path / "out" / "state.ckpt"
    write_text_atomic(target, "before")

    def fill(handle):
        handle.write(b"x" * 1000)
        if how == "oserror":
            raise OSError(errno.ENOSPC, "No space left on device")
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:  # torch's zip writer words it as a bare position mismatch
            raise RuntimeError("unexpected pos 40384 vs 40336") from inner

    with pytest.raises(DiskFullError) as caught:
        write_atomic(target, fill, size_hint=5000)
    assert str(caught.value).startswith(f"no space left on the device of {target.parent}")
    assert "(writing state.ckpt: 5,000 bytes wanted, " in str(caught.value)
    assert caught.value.errno == errno.ENOSPC
    assert target.read_text() == "before"
    assert [p.name for p in target.parent.iterdir()] == ["state.ckpt"]
