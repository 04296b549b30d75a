"""The run record: everything needed to trust, group and reproduce one run.

Written atomically (a temporary file in the same folder, then ``os.replace``), so a reader
never sees half a record and a crash never leaves a record claiming success.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

TMP_SUFFIX = ".tmp"  # temporary files of atomic writes: .<name>.<random>.tmp
RESULT_FILE = "result.json"
_VERSIONED = ("tasklab", "torch", "pytorch-lightning", "hydra-core", "torchmetrics", "wandb")


@dataclass
class RunResult:
    status: str  # "ok" | "failed"
    name: str
    regime: str
    seed: int
    # The arm this run belongs to in a comparison, and the config keys that define arms (the
    # summary treats every other swept key as a cell axis).
    arm: str = ""
    arm_axes: list[str] = field(default_factory=list)
    # the settings that define this run's arm (runs of one arm name that differ in any of
    # them are different arms)
    arm_keys: list[str] = field(default_factory=list)
    # the config keys declared data sizes (a report's learning-curve axes; ``settings``)
    size_keys: list[str] = field(default_factory=list)
    # the arm the regime measures others against, and the effect a report adds to that
    # difference ("delta_m", "gain" or ""): declared by the regime (``RegimeSpec``)
    reference_arm: str = ""
    reference_effect: str = ""
    overrides: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    fits: list[dict[str, Any]] = field(default_factory=list)
    # the per-example predictions kept beside the record (file, tasks per split, and the
    # tasks whose metrics no fit's predictions reproduced)
    predictions: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0
    threads: int = 0  # torch's intra-op threads (a parallel launcher gives each job its share)
    error: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    # a hash of the composed config: a re-launched sweep skips an ok run only when it matches
    config_key: str = ""
    # the files the run read (settings declared ``reads=``): path and content fingerprint
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    git: dict[str, Any] = field(default_factory=dict)
    # a hash of tasklab's own source files as installed: which code made the record, in a
    # source checkout (beside ``git``) and in a pip-installed wheel alike
    source_digest: str = ""


# The reference arms tasklab's regimes declared before records carried them: a record written
# then is read as if it carried its regime's, so an old sweep's report compares as it did.
_REFERENCES_BEFORE_RECORDED = {
    "multi_task": ("single_task", "delta_m"),
    "single_task": ("single_task", "delta_m"),
    "transfer": ("scratch", "gain"),
    "pipeline": ("end_to_end", ""),
}


def upgrade_record(record: dict[str, Any]) -> dict[str, Any]:
    """A record of an older tasklab, with the fields this version reads filled in as that
    version would have meant them (in place; returned for convenience)."""
    if "reference_arm" not in record:
        reference, effect = _REFERENCES_BEFORE_RECORDED.get(str(record.get("regime")), ("", ""))
        record["reference_arm"], record["reference_effect"] = reference, effect
    return record


@lru_cache(maxsize=1)
def source_digest() -> str:
    """A hash of the package's ``.py`` files, by their paths in the package and contents."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(where: Path | None = None) -> dict[str, Any]:
    """SHA and dirtiness of the checkout holding tasklab's code (None outside a checkout)."""
    where = where or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10
        )
        if sha.returncode != 0:
            return {"sha": None, "dirty": None}
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return {"sha": sha.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class DiskFullError(OSError):
    """A write found no space left on its device: which folder, how many bytes were wanted
    and how many are free, in one line (the error torch's zip writer gives is a bare "unexpected
    pos 40384 vs 40336")."""

    def __init__(self, path: Path, wanted: int | None) -> None:
        folder = Path(path).parent
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            free = None
        need = f"{wanted:,} bytes wanted" if wanted else "bytes wanted unknown"
        have = f", {free:,} free" if free is not None else ""
        super().__init__(
            errno.ENOSPC,
            f"no space left on the device of {folder} (writing {Path(path).name}: {need}{have});"
            " free space there or write elsewhere (hydra.run.dir, hydra.sweep.dir, "
            "regime.cache_dir)",
            str(folder),
        )

    def __str__(self) -> str:
        return str(self.strerror)


def disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or one it was raised from) says the device is full."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if "No space left on device" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def write_atomic(
    path: Path, write: Callable[[BinaryIO], object], size_hint: int | None = None
) -> None:
    """Write a file so that readers see the old content or the new, never a part, on any
    filesystem: ``write`` fills a temporary file *in the destination folder* (a rename never
    crosses filesystems, unlike a move from ``$TMPDIR``), which is flushed to disk and renamed
    over ``path``; the folder is synced so the rename itself survives a power loss. A failure
    or a kill part-way leaves ``path`` as it was (and at most the temporary file, which the
    next run of the folder removes). A full disk raises ``DiskFullError`` (the folder, the
    bytes wanted: ``size_hint`` where the caller knows them, else what was written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; results are to be shared
        os.replace(tmp, path)
    except BaseException as error:
        written = Path(tmp).stat().st_size if Path(tmp).exists() else 0
        Path(tmp).unlink(missing_ok=True)
        if not isinstance(error, DiskFullError) and disk_full(error):
            raise DiskFullError(path, size_hint or written or None) from error
        if isinstance(error, OSError) and error.filename is None:  # say which file
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems cannot sync a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)


def remove_temporaries(folder: Path, recursive: bool = False) -> None:
    """Remove the temporary files of atomic writes that a kill cut short (call it only while
    holding the folder, as a run does once it has claimed it)."""
    pattern = f".*{TMP_SUFFIX}"
    for stale in Path(folder).rglob(pattern) if recursive else Path(folder).glob(pattern):
        if stale.is_file():
            stale.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    write_atomic(path, lambda handle: handle.write(data), size_hint=len(data))


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    text = json.dumps(payload, indent=2, sort_keys=True, allow_nan=True)
    write_bytes_atomic(path, text.encode("utf-8"))


def write_result(output_dir: Path, result: RunResult) -> Path:
    path = Path(output_dir) / RESULT_FILE
    write_json_atomic(path, asdict(result))
    return path
