import math

import numpy as np
import pytest

from tasklab.report.bootstrap import bootstrap_interval, crossover


def test_interval_of_two_values_matches_the_hand_computed_bootstrap():
    # resampled means of [0, 1] are 0, 0.5, 1 with mass 1/4, 1/2, 1/4; expanded by sqrt(2)
    # about 0.5 they are 0.5 -/+ 0.707, each holding 25% > 2.5%: the interval is those two.
    interval = bootstrap_interval([0.0, 1.0], seed=3)
    assert interval.mean == 0.5 and interval.n == 2
    assert interval.low == pytest.approx(0.5 - math.sqrt(2) / 2)
    assert interval.high == pytest.approx(0.5 + math.sqrt(2) / 2)


def test_interval_is_deterministic_degenerate_and_undefined_where_it_should_be():
    values = [0.71, 0.74, 0.69, 0.80, 0.77]
    assert bootstrap_interval(values, seed=1) == bootstrap_interval(values, seed=1)
    assert bootstrap_interval(values, seed=1) != bootstrap_interval(values, seed=2)
    constant = bootstrap_interval([0.9, 0.9, 0.9])
    assert constant.low == constant.high == pytest.approx(0.9)
    assert math.isnan(bootstrap_interval([0.9]).low)
    assert bootstrap_interval([]).n == 0


def test_interval_covers_a_known_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    trials, hits = 2000, 0
    for trial in range(trials):
        sample = rng.normal(loc=2.0, scale=0.5, size=30)
        interval = bootstrap_interval(sample.tolist(), seed=trial)
        hits += interval.low <= 2.0 <= interval.high
    # A z-interval with the sample sd covers P(|t_29| < 1.96) = 0.94 at n=30; this draw: 0.9275
    assert 0.92 <= hits / trials <= 0.96


def _curves(offsets, seeds=5, noise=0.05):
    """Curve a has gap log10(size) - 3 (+ per-seed noise) over curve b = 0: they cross at
    1,000, between the measured sizes 316 and 3,162."""
    rng = np.random.default_rng(7)
    sizes = [100, 316.2278, 3162.278, 10000]
    a = {
        s: {k: math.log10(s) - 3 + offsets + noise * rng.normal() for k in range(seeds)}
        for s in sizes
    }
    b = {s: {k: 0.0 for k in range(seeds)} for s in sizes}
    return a, b


def test_crossover_of_curves_with_a_known_crossing():
    a, b = _curves(offsets=0.0)
    result = crossover(a, b)
    assert result.size == pytest.approx(1000, rel=0.15)
    assert result.low < 1000 < result.high
    assert result.share_crossing == 1.0


def test_curves_that_never_cross_report_no_crossover():
    a, b = _curves(offsets=5.0)  # a is above b everywhere
    result = crossover(a, b)
    assert result.size is None and result.low is None and result.share_crossing == 0.0
    assert crossover({100: {0: 1.0}}, {100: {0: 0.0}}).size is None  # one size: no curve


def test_no_interval_when_the_mean_curves_do_not_cross():
    from tasklab.report.bootstrap import crossover

    # a − b at size 10 is +1, +1, −1.5 over three seeds: the means stay apart (+0.17), but
    # resamples that draw the third seed twice cross
    a = {1.0: {0: 2.0, 1: 2.0, 2: 2.0}, 10.0: {0: 2.0, 1: 2.0, 2: -0.5}}
    b = {1.0: {0: 1.0, 1: 1.0, 2: 1.0}, 10.0: {0: 1.0, 1: 1.0, 2: 1.0}}
    found = crossover(a, b)
    assert found.size is None and found.low is None and found.high is None
    assert 0 < found.share_crossing < 0.5
