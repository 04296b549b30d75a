"""Small-sample statistics over seeds.

With 3–10 seeds a normal-approximation or bootstrap interval is too narrow, so intervals here
use Student's t: mean ± t_{0.975, n-1} · s / √n. Paired differences use the same interval on
per-seed differences, which removes the variance the two arms share (same data, same seed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Two-sided 95% critical values of Student's t by degrees of freedom.
_T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    16: 2.120,
    17: 2.110,
    18: 2.101,
    19: 2.093,
    20: 2.086,
    21: 2.080,
    22: 2.074,
    23: 2.069,
    24: 2.064,
    25: 2.060,
    26: 2.056,
    27: 2.052,
    28: 2.048,
    29: 2.045,
    30: 2.042,
    40: 2.021,
    60: 2.000,
    120: 1.980,
}


def t_critical(df: int) -> float:
    """t_{0.975, df}; between tabulated values the smaller df is used (conservative)."""
    if df < 1:
        return math.nan
    usable = [d for d in _T975 if d <= df]
    return _T975[max(usable)] if df <= 120 else 1.960


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    std: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def mean_interval(values: Sequence[float]) -> Interval:
    """Mean and 95% t-interval; with one value the interval is undefined (NaN)."""
    n = len(values)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, math.nan, 0)
    mean = sum(values) / n
    if n == 1:
        return Interval(mean, math.nan, math.nan, math.nan, 1)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_critical(n - 1) * std / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, std, n)


def paired_difference(a: dict[int, float], b: dict[int, float]) -> tuple[Interval, int]:
    """Interval of a − b over the seeds both have, and in how many of them a > b."""
    seeds = sorted(set(a) & set(b))
    diffs = [a[s] - b[s] for s in seeds]
    return mean_interval(diffs), sum(d > 0 for d in diffs)
