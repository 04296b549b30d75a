"""Seeded splits of one user file and nested training subsets.

A data-ratio sweep on a user's file must compare like with like: the 100 examples of a small
run should be among the 1,000 of a larger run with the same seed, so the curve measures the
amount of data and not which examples were drawn. Subsets are therefore prefixes of one seeded
order of the training rows; the stratified order interleaves the classes so that every prefix
holds them in the file's proportions (up to one example per class).
"""

from __future__ import annotations

import numpy as np

_SPLIT_SALT, _ORDER_SALT = 0x5350, 0x4F52  # keep split and order draws apart for one seed


def split_rows(n: int, val: float, test: float, seed: int) -> dict[str, np.ndarray]:
    """Disjoint train / val / test row indices covering 0..n-1, each sorted; the same for a
    given (n, val, test, seed) on every machine."""
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"split fractions val={val}, test={test} must be >= 0 and sum below 1")
    order = np.random.default_rng([seed, _SPLIT_SALT]).permutation(n)
    n_val, n_test = round(n * val), round(n * test)
    parts = {
        "val": order[:n_val],
        "test": order[n_val : n_val + n_test],
        "train": order[n_val + n_test :],
    }
    return {name: np.sort(rows) for name, rows in parts.items()}


def training_order(rows: np.ndarray, seed: int, strata: np.ndarray | None = None) -> np.ndarray:
    """``rows`` in a seeded order whose prefixes are the nested subsets. With ``strata`` (one
    class label per row, NaN for unlabelled), classes are interleaved in proportion, and so
    are the rows without a label (a stratum of their own): a prefix of n rows holds the file's
    share of unlabelled rows, so stratifying never changes how many labels a task gets."""
    rng = np.random.default_rng([seed, _ORDER_SALT])
    if strata is None:
        return rows[rng.permutation(len(rows))]
    labels = strata[rows]
    known = ~np.isnan(labels)
    groups = [np.flatnonzero(labels == value) for value in np.unique(labels[known])]
    groups.append(np.flatnonzero(~known))
    # Each row's rank within its stratum, scaled to [0, 1): sorting on it interleaves strata
    # in proportion, since a stratum of k rows puts one row in every 1/k of the order.
    position = np.zeros(len(rows))
    for members in groups:
        if len(members):
            shuffled = members[rng.permutation(len(members))]
            position[shuffled] = (np.arange(len(members)) + rng.random()) / len(members)
    tie_break = rng.random(len(rows))
    return rows[np.lexsort((tie_break, position))]
