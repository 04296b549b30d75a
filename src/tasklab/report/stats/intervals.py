"""Intervals over seeds and test examples that cover at their nominal level at 3–10 seeds.

A mean over n seeds, every seed scored on one shared test split, carries two kinds of noise:

- seed noise (initialisation, training subset, data order), seen in the spread of the
  per-seed values: a = s² / n, estimated from n seeds, so with n − 1 degrees of freedom;
- the test split's luck, *common to every seed* (all were scored on the same rows), which the
  spread between seeds cannot show: b = v_test, the variance of the seed mean over
  resamples of the test examples (``resampling``), estimated from thousands of rows.

The interval is mean ± sqrt(a·t²_{n−1} + b·z²): each variance scaled by the quantile of its
own estimate's distribution, Student's t for the few seeds and the normal for the test term.
It is Student's t over seeds where the test split adds nothing and the normal interval of the
test term where seeds agree. Its coverage is measured, not assumed (``calibration``,
``scripts/calibrate_intervals.py``, ``tests/test_interval_coverage.py``) in both regimes at
3, 5 and 10 seeds. Two constructions measured worse: a percentile bootstrap over seeds and
examples was too narrow at few seeds, and Welch–Satterthwaite degrees of freedom on the summed
variance fell short of 95% at 3 seeds where seeds dominate (a seed spread that is small by
chance inflates its degrees of freedom).

Where a comparison is one of a family, the interval printed is the family's: its level is
1 − α/c with c the comparison's Holm factor, so the interval excludes 0 exactly when the
Holm-adjusted p is below α (``holm_factors``). One rule decides, and the reader sees it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

ALPHA = 0.05
LEVEL = 1.0 - ALPHA
_SMALLEST_P = 1e-300


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds and its uncertainty, split into what seeds and the test split
    contribute."""

    mean: float
    n: int
    seed_sd: float  # sd of the per-seed values (NaN below 2 seeds)
    test_var: float  # variance of the seed mean over test-example resamples (0: not resampled)

    @property
    def seed_var(self) -> float:
        """The seed term a = s²/n."""
        return self.seed_sd**2 / self.n if self.n >= 2 else math.nan

    @property
    def se(self) -> float:
        return math.sqrt(self.seed_var + self.test_var) if self.n >= 2 else math.nan

    def _half_width_at(self, tail: float) -> float:
        """sqrt(a·t² + b·z²) with t and z the quantiles leaving ``tail`` on one side."""
        t = float(special.stdtrit(self.n - 1, tail))  # Python floats: inf, not a warning,
        z = float(special.ndtri(tail))  # where a tiny tail at 1 df overflows
        return math.sqrt(self.seed_var * t * t + self.test_var * z * z)

    def half_width(self, level: float = LEVEL) -> float:
        """Half the width of the two-sided interval at ``level`` (NaN below 2 seeds)."""
        if self.n < 2:
            return math.nan
        return self._half_width_at((1.0 - level) / 2.0)

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        """(low, high) at ``level``; NaN below two seeds."""
        half = self.half_width(level)
        return self.mean - half, self.mean + half

    def p_value(self) -> float:
        """Two-sided p of "the true mean is 0": one minus the level of the interval whose
        edge touches 0, so an interval at level L excludes 0 exactly when p < 1 − L."""
        if self.n < 2 or not math.isfinite(self.mean) or not math.isfinite(self.se):
            return math.nan
        if self.mean == 0:
            return 1.0
        if self.se == 0:
            return 0.0
        gap = abs(self.mean)

        def excess(log_p: float) -> float:
            return self._half_width_at(math.exp(log_p) / 2.0) - gap

        # the half width lies between se·z and se·t (z ≤ t at every level), so p lies between
        # the normal p and Student's p of mean/se: a tight bracket for the root
        ratio = gap / self.se
        normal_p = max(2.0 * float(special.ndtr(-ratio)), _SMALLEST_P)
        student_p = min(2.0 * float(special.stdtr(self.n - 1, -ratio)), 1.0)
        low, high = math.log(normal_p), math.log(student_p)
        if excess(low) <= 0:
            return normal_p if normal_p > _SMALLEST_P else 0.0
        if excess(high) >= 0:
            return student_p
        return float(math.exp(optimize.brentq(excess, low, high, xtol=1e-10, rtol=1e-10)))

    def prob_positive(self) -> float:
        """The one-sided confidence that the true mean is above 0 (1 − p/2 on the side the
        estimate lies): how sure the interval is of the sign, not a posterior."""
        p = self.p_value()
        if math.isnan(p):
            return math.nan
        if self.mean == 0:
            return 0.5
        return 1.0 - p / 2.0 if self.mean > 0 else p / 2.0


def estimate(observed: np.ndarray, resampled: np.ndarray | None = None) -> Estimate:
    """``observed``: (seeds,) values; ``resampled``: (seeds, resamples) values of the same
    runs under test-example resamples that all seeds share (None: seeds only). Resamples in
    which some seed's value is undefined (NaN: one class only, say) are left out."""
    values = np.asarray(observed, dtype=np.float64)
    n = int(values.size)
    if n == 0:
        return Estimate(math.nan, 0, math.nan, 0.0)
    mean = float(values.mean())
    seed_sd = float(values.std(ddof=1)) if n > 1 else math.nan
    test_var = 0.0
    if resampled is not None and n > 1:
        runs = np.asarray(resampled, dtype=np.float64)
        runs = runs[:, np.all(np.isfinite(runs), axis=0)]
        if runs.shape[1] > 1:
            test_var = common_test_variance(runs)
    return Estimate(mean, n, seed_sd, test_var)


def common_test_variance(runs: np.ndarray) -> float:
    """The test split's variance shared by every seed, from (seeds, resamples) values.

    A seed's value under resample r is C_r + I_sr: C the luck all seeds share, I the part
    that differs by seed (a seed's own errors on the drawn rows), which the spread between
    seeds already holds. The variance of the seed mean over resamples is v_C + v_I/n and a
    seed's own is v_C + v_I, so v_C = B − (W − B)/(n − 1): counting v_I/n here again would
    widen the interval where seeds differ (measured: 99% coverage instead of 95%)."""
    n = runs.shape[0]
    between = float(runs.mean(axis=0).var(ddof=1))
    within = float(runs.var(axis=1, ddof=1).mean())
    return max(between - (within - between) / (n - 1), 0.0)


def holm_factors(p_values: Sequence[float]) -> list[float]:
    """Per p-value, the factor c with Holm's adjusted p = min(1, c·p): (m − rank) carried up
    by the step-down's running maximum. An interval at level 1 − α/c excludes 0 exactly when
    the adjusted p is below α. NaN p-values are no part of the family (factor NaN)."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m = len(indexed)
    factors = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, (m - rank) * p)
        factors[i] = running / p if p > 0 else float(m - rank)
    return factors


def family_level(factor: float, level: float = LEVEL) -> float:
    """The confidence level of one comparison's interval in a family (see the module doc)."""
    if not math.isfinite(factor) or factor < 1:
        return level
    return 1.0 - (1.0 - level) / factor
