"""The interval every report prints: Student's t on seeds plus the test split's shared
variance (Satterthwaite df), and Holm's family level, against hand computations."""

import math

import numpy as np
import pytest
from scipy import stats

from tasklab.report.stats.intervals import (
    Estimate,
    common_test_variance,
    estimate,
    family_level,
    holm_factors,
)
from tasklab.report.stats.significance import holm


def test_without_test_noise_it_is_students_t_over_seeds():
    values = np.array([0.71, 0.74, 0.69, 0.75, 0.72])
    found = estimate(values)
    low, high = found.interval()
    half = stats.t.ppf(0.975, 4) * values.std(ddof=1) / math.sqrt(5)
    assert (low, high) == pytest.approx((values.mean() - half, values.mean() + half))
    t = values.mean() / (values.std(ddof=1) / math.sqrt(5))
    assert found.p_value() == pytest.approx(2 * stats.t.sf(t, 4))


def test_each_variance_takes_the_quantile_of_its_own_estimate():
    found = Estimate(0.02, 4, 0.01, 0.0001)
    seed_part = 0.01**2 / 4
    assert found.se == pytest.approx(math.sqrt(seed_part + 0.0001))
    t, z = stats.t.ppf(0.975, 3), stats.norm.ppf(0.975)
    assert found.half_width() == pytest.approx(math.sqrt(seed_part * t * t + 0.0001 * z * z))
    # seeds that agree exactly: the normal interval of the test term alone
    agree = Estimate(0.02, 4, 0.0, 0.0001)
    assert agree.interval()[1] == pytest.approx(0.02 + z * 0.01)
    # the p-value is the level at which the interval touches 0
    p = found.p_value()
    assert found.interval(1 - p)[0] == pytest.approx(0.0, abs=1e-9)
    assert found.prob_positive() == pytest.approx(1 - p / 2)
    clear = Estimate(0.5, 10, 0.001, 1e-8)
    assert 0 <= clear.p_value() < 1e-20  # resolvable for Holm in any family


def test_the_shared_test_variance_removes_what_seeds_already_show():
    rng = np.random.default_rng(0)
    common = rng.normal(0, 0.02, 4000)  # the test split's luck, shared by every seed
    own = rng.normal(0, 0.05, (5, 4000))  # each seed's own errors on the drawn rows
    runs = common + own
    # v_C = 0.02² while the variance of the seed mean is 0.02² + 0.05²/5
    assert common_test_variance(runs) == pytest.approx(0.02**2, rel=0.1)
    assert np.var(runs.mean(axis=0)) > 1.5 * 0.02**2


def test_resamples_with_an_undefined_value_are_left_out():
    resampled = np.array([[0.1, np.nan, 0.3, 0.2], [0.2, 0.1, 0.25, 0.3]])
    found = estimate(np.array([0.2, 0.25]), resampled)
    assert math.isfinite(found.test_var) and math.isfinite(found.se)


def test_holm_factors_make_the_family_interval_agree_with_the_adjusted_p():
    p = [0.01, 0.04, 0.03, 0.005, math.nan]
    factors = holm_factors(p)
    adjusted = holm(p)
    for pi, factor, adj in zip(p[:4], factors[:4], adjusted[:4], strict=True):
        assert min(1.0, factor * pi) == pytest.approx(adj)
    assert math.isnan(factors[4])
    # the level of each interval: excludes 0 exactly when the adjusted p is below 0.05
    rng = np.random.default_rng(3)
    estimates = [Estimate(rng.normal(0.02, 0.02), 5, 0.02, 0.0001) for _ in range(40)]
    p_values = [e.p_value() for e in estimates]
    for e, factor, adj in zip(estimates, holm_factors(p_values), holm(p_values), strict=True):
        low, high = e.interval(family_level(factor))
        assert (low > 0 or high < 0) == (adj < 0.05)
    assert family_level(1.0) == pytest.approx(0.95)
    assert family_level(10.0) == pytest.approx(0.995)
