"""MNIST-1D (Greydanus & Kobak 2024) as a world: a published benchmark, generated, no download.

The ``mnist1d`` package generates the paper's data procedurally: each digit's 1-D template
(length 12) padded, scaled, sheared, translated and noised into a signal of 40 points. With
its defaults (5,000 signals, seed 42) the first 4,000 are the paper's training set and the
last 1,000 its test set, exactly. Validation signals are a further draw (``val_samples`` with
``val_seed``); they feed the learning curves and select nothing.

``shuffle=true`` applies one fixed permutation (seeded by ``shuffle_seed``) to the 40 positions
of every signal, the paper's test of spatial priors: a convolution loses its advantage, an MLP
(which has no notion of order) is unchanged. The paper's own shuffled file uses another fixed
permutation; any fixed one asks the same question.

Tasks: ``digit`` (10 classes) and two functions of it, ``odd`` and ``gt4`` (digit > 4), so the
same signals also pose a multi-task and a transfer question.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasklab.data.file_arrays import ArrayTable
from tasklab.data.file_world import FileWorld
from tasklab.data.tasks import TaskSpec
from tasklab.registry import WORLDS
from tasklab.settings import ConfigError, setting

TASKS: dict[str, TaskSpec] = {
    "digit": TaskSpec("digit", "multiclass", num_classes=10),
    "odd": TaskSpec("odd", "binary"),
    "gt4": TaskSpec("gt4", "binary"),
}


@dataclass
class Mnist1dSettings:
    """The MNIST-1D generator's knobs (``data.mnist1d.*``); defaults are the paper's data."""

    num_samples: int = setting(5000, low=100, doc="train + test signals (the paper: 5,000)")
    train_split: float = setting(0.8, above=0, high=0.95)
    data_seed: int = setting(42, low=0, doc="the paper's data: 42")
    val_samples: int = setting(1000, low=10)
    val_seed: int = setting(43, low=0)
    shuffle: bool = False
    shuffle_seed: int = setting(0, low=0)


def _generate(num_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise ConfigError(
            "data=mnist1d needs the mnist1d package: pip install 'tasklab[mnist1d]' (make setup "
            "installs it)"
        ) from None
    args = get_dataset_args()
    args.num_samples, args.seed, args.train_split = num_samples, seed, 1.0
    state = np.random.get_state()  # the generator seeds numpy's global state; keep the caller's
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(state)
    return data["x"].astype(np.float32), data["y"].astype(np.int64)


def _table(name: str, x: np.ndarray, digit: np.ndarray) -> ArrayTable:
    labels = {
        "digit": digit.astype(np.float64),
        "odd": (digit % 2).astype(np.float64),
        "gt4": (digit > 4).astype(np.float64),
    }
    return ArrayTable(f"mnist1d ({name})", x, labels, {})


def build_mnist1d(settings: Mnist1dSettings, tasks=(), verbose: bool = False) -> FileWorld:
    """The paper's train and test signals, a validation draw, optionally position-shuffled."""
    del tasks
    x, y = _generate(settings.num_samples, settings.data_seed)
    cut = int(len(y) * settings.train_split)
    val_x, val_y = _generate(settings.val_samples, settings.val_seed)
    if settings.shuffle:
        order = np.random.default_rng(settings.shuffle_seed).permutation(x.shape[1])
        x, val_x = x[:, order], val_x[:, order]
    splits = {
        "train": _table("train", x[:cut], y[:cut]),
        "val": _table("val", val_x, val_y),
        "test": _table("test", x[cut:], y[cut:]),
    }
    if verbose:
        shuffled = ", positions shuffled" if settings.shuffle else ""
        print(f"data.mnist1d: signals train {cut:,}, val {len(val_y):,}, test {len(y) - cut:,}; "
              f"length {x.shape[1]}{shuffled}")  # fmt: skip
    return FileWorld(splits, TASKS)


WORLDS.register("mnist1d", settings=Mnist1dSettings, build=build_mnist1d)(FileWorld)
