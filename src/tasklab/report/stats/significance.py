"""Tests, the family's correction and power: from paired differences to p-values.

- ``sign_flip_p``: the exact permutation test over seeds (every sign pattern of the per-seed
  differences, ``scipy.stats.permutation_test``). It ignores the test set's noise and, with n
  seeds, cannot go below 2/2^n: 0.0625 at 5 seeds. It is reported beside the verdict, not
  used for it.
- ``holm``: Holm–Bonferroni adjusted p-values over every comparison a report shows (arm pairs ×
  sizes × metrics, per task and mean), so the chance of any false verdict in the report stays
  at 5%, not 5% per line.
- ``power``: the smallest difference the current seeds could detect (80% power, at the
  comparison's own family-adjusted level) and the seeds needed to detect the observed one,
  from the same standard error and degrees of freedom as the interval. The test set's shared
  noise does not shrink with more seeds, so a difference below it is unreachable by seeds
  alone; it says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

from tasklab.report.stats.intervals import ALPHA, Estimate

POWER = 0.8
MAX_SEEDS_ADVISED = 10_000


EXACT_UP_TO = 16  # seeds; beyond, scipy's permutation_test draws 9,999 sign patterns


@lru_cache(maxsize=32)
def _sign_patterns(n: int) -> np.ndarray:
    """Every one of the 2^n sign patterns of n values, (2^n, n)."""
    bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
    return 1.0 - 2.0 * bits


def sign_flip_p(diffs: Sequence[float]) -> float:
    """Exact two-sided sign-flip test of the mean per-seed difference (NaN below 2 seeds):
    the share of all 2^n sign patterns whose mean is at least as far from 0 as the observed.

    Up to 16 seeds the patterns are enumerated here at once (a report holds thousands of
    comparisons, and ``scipy.stats.permutation_test`` costs ~3 ms a call; the test suite
    checks that both give the same p); beyond that scipy's randomised test is used.
    """
    values = np.asarray(diffs, dtype=np.float64)
    if values.size < 2:
        return math.nan
    if np.all(values == 0):
        return 1.0
    if values.size > EXACT_UP_TO:
        result = stats.permutation_test(
            (values,),
            np.mean,
            permutation_type="samples",
            alternative="two-sided",
            n_resamples=9999,
            random_state=0,
        )
        return float(result.pvalue)
    means = _sign_patterns(values.size) @ values / values.size
    observed = abs(values.mean())
    # the same relative tolerance as scipy, so ties of equal means count as extreme
    return float(np.mean(np.abs(means) >= observed * (1 - 1e-14)))


@lru_cache(maxsize=4096)
def wins_interval(wins: int, n: int) -> tuple[float, float]:
    """Clopper–Pearson 95% interval of the share of seeds in which one arm is better."""
    if n == 0:
        return math.nan, math.nan
    ci = stats.binomtest(wins, n).proportion_ci(confidence_level=0.95, method="exact")
    return float(ci.low), float(ci.high)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (NaN stays NaN and does not count in the family)."""
    indexed = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    m = len(indexed)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(indexed)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class Power:
    detectable: float  # smallest |difference| the current seeds detect with 80% power
    seeds_needed: int | None  # for the observed difference; None: not reachable by seeds
    test_noise_sd: float  # the part of the difference's standard error that seeds cannot remove


def _detectable(seed_sd: float, test_var: float, k: int, level: float) -> float:
    """|difference| detected with 80% power by k seeds at two-sided ``level``: the
    interval's half width plus its one-sided 80% quantile, as (t_α + t_β)·se for t."""
    at_k = Estimate(0.0, k, seed_sd, test_var)
    return at_k.half_width(level) + at_k.half_width(2 * POWER - 1)


@lru_cache(maxsize=1)
def _seed_counts() -> tuple[int, ...]:
    """The seed counts "seeds needed" is chosen from: every count to 100, then steps of 10%."""
    counts, k = [], 2
    while k <= MAX_SEEDS_ADVISED:
        counts.append(k)
        k = k + 1 if k < 100 else int(k * 1.1)
    if counts[-1] < MAX_SEEDS_ADVISED:  # the advice stops at the largest count
        counts.append(MAX_SEEDS_ADVISED)
    return tuple(counts)


def power(found: Estimate, level: float = 1 - ALPHA) -> Power:
    """Detectable difference and seeds needed for ``found`` (a difference over seeds) at the
    interval's own ``level`` (the family-adjusted one where it is one of a family). The
    detectable difference falls as seeds are added, so the first count that detects the
    observed one is found by bisection."""
    n, seed_sd = found.n, found.seed_sd
    if n < 2 or not math.isfinite(seed_sd):
        return Power(math.nan, None, math.nan)
    test_var, diff = found.test_var, abs(found.mean)
    needed = None
    if diff > 0 and _detectable(seed_sd, test_var, MAX_SEEDS_ADVISED, level) <= diff:
        counts = _seed_counts()
        low, high = 0, len(counts) - 1  # counts[high] detects it (or is the last count)
        while low < high:
            middle = (low + high) // 2
            if _detectable(seed_sd, test_var, counts[middle], level) <= diff:
                high = middle
            else:
                low = middle + 1
        needed = min(counts[low], MAX_SEEDS_ADVISED)
    return Power(_detectable(seed_sd, test_var, n, level), needed, math.sqrt(test_var))
