"""scikit-learn's bundled handwritten digits (1,797 real 8×8 scans, no download) as a
``data=files`` archive with three tasks derived from the digit and gaps in every task.

The derived tasks make a multi-task question with a known structure: ``parity`` (odd) and
``gt4`` (digit > 4) are functions of ``digit``, so a shared trunk has something to share,
and each task is missing ("?") on its own seeded share of the rows, as labels from several
annotators would be.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

TASKS: tuple[str, ...] = ("digit", "parity", "gt4")
_PIXEL_MAX = 16.0  # the scans hold counts 0..16 of 4×4 blocks of a 32×32 bitmap


def digits_arrays(
    missing: float = 0.3, seed: int = 0, noise_task: bool = False
) -> dict[str, np.ndarray]:
    """``x`` (1797, 1, 8, 8) in [0, 1]; ``y_digit`` (0–9), ``y_parity`` and ``y_gt4`` (0/1),
    each −1 on a seeded ``missing`` share of the rows, drawn per task. ``noise_task`` adds
    ``y_noise``: the parity labels permuted across rows, a negative control that nothing can
    learn (any verdict on it is the test set's luck)."""
    if not 0 <= missing < 1:
        raise ValueError(f"missing={missing} must be in [0, 1): the share of labels hidden")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit(
            "scikit-learn is needed for the digits example: pip install scikit-learn "
            "(make setup installs it with the dev extras)"
        ) from None
    bunch = load_digits()
    x = (bunch.images / _PIXEL_MAX).astype(np.float32)[:, None]
    digit = bunch.target.astype(np.int64)
    labels = {"digit": digit, "parity": digit % 2, "gt4": (digit > 4).astype(np.int64)}
    rng = np.random.default_rng(seed)
    if noise_task:
        labels["noise"] = np.random.default_rng([seed, 1]).permutation(labels["parity"])
    arrays = {"x": x}
    for name in labels:
        values = labels[name].copy()
        values[rng.random(len(values)) < missing] = -1
        arrays[f"y_{name}"] = values
    return arrays


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write atomically: a crash leaves the old file or none, never half an archive."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
