"""From a paired difference to a verdict: p-values, the family's correction, and power.

- ``bootstrap_p``: two-sided p of "no difference" from the two-level bootstrap distribution
  (the share of resampled means on the other side of 0, doubled). R resamples cannot resolve
  a p below 2/(R+1), about 0.001 at 2,000; Holm over a family of m comparisons needs the
  smallest p below 0.05/m, so without more resolution a report of 50 comparisons or more
  could never give a verdict, however clear the effect. Where fewer than ``TAIL_COUNT``
  resamples lie on the other side, the p is the normal tail of the same bootstrap
  distribution, 2·Φ(−|mean|/sd), never above the count's own bound.
- ``sign_flip_p``: the exact permutation test over seeds (every sign pattern of the per-seed
  differences, ``scipy.stats.permutation_test``). It ignores the test set's noise and, with n
  seeds, cannot go below 2/2^n: 0.0625 at 5 seeds, so with 5 seeds or fewer it can never be
  significant on its own. It is reported beside the verdict, not used for it.
- ``holm``: Holm–Bonferroni adjusted p-values over every comparison a report shows (arm pairs ×
  sizes × metrics, per task and mean), so the chance of any false verdict in the report stays
  at 5%, not 5% per line.
- ``power``: the smallest difference the current seeds could detect (80% power, two-sided 5%)
  and the seeds needed to detect the observed one. The test set's own noise does not shrink
  with more seeds, so a difference below it is unreachable by seeds alone; it says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

ALPHA = 0.05
POWER = 0.8
MIN_SEEDS = 3
MAX_SEEDS_ADVISED = 10_000


TAIL_COUNT = 5  # resamples beyond 0 below which the count no longer resolves the p


def bootstrap_p(samples: np.ndarray) -> float:
    """Two-sided p from resampled values of a difference (NaN without resamples); the normal
    tail of their distribution where the count is too small to resolve it (module doc)."""
    if samples.size == 0:
        return math.nan
    n_below, n_above = np.count_nonzero(samples <= 0), np.count_nonzero(samples >= 0)
    counted = float(min(1.0, 2.0 * (min(n_below, n_above) + 1) / (samples.size + 1)))
    if min(n_below, n_above) >= TAIL_COUNT:
        return counted
    sd = float(np.std(samples, ddof=1)) if samples.size > 1 else 0.0
    if not sd > 0:
        return counted
    tail = 2.0 * float(stats.norm.sf(abs(float(np.mean(samples))) / sd))
    return min(counted, tail)


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


@lru_cache(maxsize=4096)
def _critical(n: int) -> float:
    return float(stats.t.ppf(1 - ALPHA / 2, n - 1) + stats.t.ppf(POWER, n - 1))


def power(diff: float, seed_sd: float, n: int, total_se: float) -> Power:
    """``seed_sd``: sd of the per-seed differences; ``total_se``: standard error of the mean
    difference over seeds and examples (the two-level bootstrap's sd); n seeds."""
    if n < 2 or not math.isfinite(seed_sd):
        return Power(math.nan, None, math.nan)
    test_var = max(total_se**2 - seed_sd**2 / n, 0.0) if math.isfinite(total_se) else 0.0

    def detectable(k: int) -> float:
        return _critical(k) * math.sqrt(seed_sd**2 / k + test_var)

    needed = None
    if abs(diff) > 0 and detectable(MAX_SEEDS_ADVISED) <= abs(diff):  # reachable at all
        k = 2
        while k <= MAX_SEEDS_ADVISED and detectable(k) > abs(diff):
            k = k + 1 if k < 100 else int(k * 1.1)
        needed = min(k, MAX_SEEDS_ADVISED)
    return Power(detectable(n), needed, math.sqrt(test_var))


def verdict(
    n: int,
    diff: float,
    p_adjusted: float,
    t_interval: tuple[float, float],
    better: str,
    worse: str,
) -> str:
    """``better`` when the difference is positive and shown, ``worse`` when negative and shown,
    else "no conclusion (…)" with the first reason. Shown means: at least 3 seeds, the
    family-adjusted two-level p below 0.05, and the Student-t interval over seeds on the same
    side of 0 (a guard against the bootstrap's narrowness at 3–5 seeds)."""
    if n < MIN_SEEDS:
        return f"too few seeds ({n} < {MIN_SEEDS})"
    if not (p_adjusted < ALPHA):
        return f"no conclusion (adjusted p = {p_adjusted:.2g})"
    low, high = t_interval
    if diff > 0 and low > 0:
        return better
    if diff < 0 and high < 0:
        return worse
    return "no conclusion (t interval over seeds contains 0)"


def is_shown(text: str) -> bool:
    """Whether a verdict text states a difference (not "no conclusion" or "too few seeds")."""
    return bool(text) and not text.startswith(("no conclusion", "too few"))
