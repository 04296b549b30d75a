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


def split_groups(groups: np.ndarray, val: float, test: float, seed: int) -> dict[str, np.ndarray]:
    """Disjoint train / val / test row indices that never put one group (a patient, a site) on
    two sides: whole groups, in a seeded order, fill validation and then test until each holds
    its fraction of the rows (the last group a part takes may overshoot it)."""
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"split fractions val={val}, test={test} must be >= 0 and sum below 1")
    names, members = np.unique(groups, return_inverse=True)
    order = np.random.default_rng([seed, _SPLIT_SALT]).permutation(len(names))
    sizes = np.bincount(members, minlength=len(names))[order]
    ends = np.cumsum(sizes)  # rows taken once the first k groups of ``order`` are placed
    n = len(groups)
    n_val = int(np.searchsorted(ends, round(n * val))) + 1 if val > 0 else 0
    n_test = int(np.searchsorted(ends, (ends[n_val - 1] if n_val else 0) + round(n * test)))
    n_test = n_test + 1 - n_val if test > 0 else 0
    part = np.empty(len(names), dtype=np.int64)
    part[order[:n_val]] = 0
    part[order[n_val : n_val + n_test]] = 1
    part[order[n_val + n_test :]] = 2
    row_part = part[members]
    return {name: np.flatnonzero(row_part == k) for k, name in enumerate(("val", "test", "train"))}
