"""Content fingerprints of the files a run reads, so that a changed file re-runs its runs.

A run's identity (``runs/ids.py``) holds, for every setting declared ``reads=`` (a data file,
a checkpoint folder), the path *and* a fingerprint of what is there. Two policies, by size:

- up to ``FULL_HASH_MAX_BYTES`` (64 MiB): SHA-256 of the whole content. Exact: any change
  re-runs, and a file that is only touched or copied does not.
- above it: SHA-256 of the size, the modification time and ``SAMPLED_BLOCKS`` blocks of
  1 MiB spread evenly over the file (its first and last included). Reading a 1 GB file
  whole costs seconds per sweep; the sample costs ~0.1 s (``scripts/bench_fingerprint.py``).
  The modification time is in it because an edit in place that keeps the size (one label
  changed in a large CSV) may miss every sampled block; the price is that touching or
  copying a large file without keeping its time re-runs the runs that read it.

Fingerprints are cached per process by (path, size, modification time, inode), so a sweep
that launches many runs on one file reads it once per process.

A folder of many files (a folder of class folders of images) is fingerprinted by listing
(``STAT_LISTING`` before its glob): the relative path, size and modification time of each
file, never its content, so 100,000 images cost a directory walk per run, not 10 GB of reads.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from tasklab.settings import STAT_LISTING

FULL_HASH_MAX_BYTES = 64 * 2**20
SAMPLED_BLOCKS = 64
BLOCK_BYTES = 2**20
MISSING = "missing"


@lru_cache(maxsize=4096)
def _fingerprint(path: str, size: int, mtime_ns: int, inode: int) -> str:
    del inode  # part of the cache key only: a file replaced by another is read anew
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if size <= FULL_HASH_MAX_BYTES:
            for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
                digest.update(block)
            return f"sha256:{digest.hexdigest()[:24]}"
        digest.update(f"{size}:{mtime_ns}".encode())
        last = size - BLOCK_BYTES
        for k in range(SAMPLED_BLOCKS):
            handle.seek(last * k // (SAMPLED_BLOCKS - 1))
            digest.update(handle.read(BLOCK_BYTES))
    return f"sampled:{digest.hexdigest()[:24]}"


def file_fingerprint(path: str | Path) -> str:
    """The fingerprint of one file (``missing`` when there is none: the run's own check
    then says so in one line)."""
    try:
        stat = os.stat(path)
    except OSError:
        return MISSING
    if not os.path.isfile(path):
        return MISSING
    return _fingerprint(os.path.abspath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)


def path_fingerprint(path: str | Path, pattern: str = "") -> str:
    """A file's fingerprint; for a folder, one over the files under it that match
    ``pattern`` (a glob relative to it: ``checkpoints/*/last.ckpt``; all files when empty)."""
    root = Path(path)
    if not root.is_dir():
        return file_fingerprint(root)
    listing = pattern.startswith(STAT_LISTING)
    pattern = pattern.removeprefix(STAT_LISTING)
    found = sorted(root.glob(pattern) if pattern else root.rglob("*"))
    parts = [
        f"{p.relative_to(root)}={_stat(p) if listing else file_fingerprint(p)}"
        for p in found
        if p.is_file()
    ]
    if not parts:
        return MISSING
    return "folder:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _stat(path: Path) -> str:
    info = path.stat()
    return f"{info.st_size}:{info.st_mtime_ns}"
