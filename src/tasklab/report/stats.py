"""Small-sample statistics over seeds.

With 3–10 seeds a normal-approximation or bootstrap interval is too narrow, so intervals here
use Student's t: mean ± t_{0.975, n-1} · s / √n (``scipy.stats.t``). Paired differences use the
same interval on per-seed differences, which removes the variance the two arms share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from scipy import stats


@lru_cache(maxsize=1024)
def t_critical(df: int) -> float:
    """t_{0.975, df} (NaN below one degree of freedom)."""
    return float(stats.t.ppf(0.975, df)) if df >= 1 else math.nan


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
