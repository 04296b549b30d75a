"""Time the fingerprint a run's identity takes of a large data file, against reading it whole.

Writes a file of random bytes (1 GiB by default), then times, side by side in one process and
with the file in the page cache for both: a plain SHA-256 over the whole file, and
``runs.fingerprints.file_fingerprint`` (sampled blocks above 64 MiB). Target: at most 1 s for
1 GiB, whatever the disk; the ratio says what the sample saves over the full read.

    python scripts/bench_fingerprint.py [--gib 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from tasklab.runs import fingerprints


def _full_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _best(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        fingerprints._fingerprint.cache_clear()  # measure the work, not the per-process cache
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.bin"
        chunk = os.urandom(1 << 24)
        with open(path, "wb") as handle:
            for _ in range(int(args.gib * 64)):
                handle.write(chunk)
        size = path.stat().st_size
        _full_sha256(path)  # into the page cache, for both timings alike
        full = _best(lambda: _full_sha256(path), args.repeats)
        sampled = _best(lambda: fingerprints.file_fingerprint(path), args.repeats)
        print(f"file: {size / 2**30:.2f} GiB")
        print(f"full SHA-256:   {full:.3f} s")
        print(f"fingerprint:    {sampled:.3f} s ({fingerprints.file_fingerprint(path)})")
        print(f"ratio full/fingerprint: {full / sampled:.1f}x; target: fingerprint <= 1 s per GiB")


if __name__ == "__main__":
    main()
