"""p-values, Holm's correction and power against hand computations."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from tasklab.report.stats.intervals import Estimate
from tasklab.report.stats.significance import holm, power, sign_flip_p, wins_interval
from tasklab.report.verdicts import Outcome, verdict


def test_sign_flip_is_exact_and_bounded_below_at_few_seeds():
    # 5 seeds all the same sign: 2 of the 32 sign patterns are as extreme
    assert sign_flip_p([0.1, 0.2, 0.15, 0.3, 0.05]) == pytest.approx(2 / 32)
    assert sign_flip_p([0.1, 0.2, 0.15]) == pytest.approx(2 / 8)
    # by hand: 4 seeds, mean 0.1; patterns with |mean| >= 0.1
    diffs = np.array([0.3, -0.1, 0.1, 0.1])
    signs = np.array(np.meshgrid(*[[-1, 1]] * 4)).reshape(4, -1).T
    means = np.abs((signs * diffs).mean(axis=1))
    assert sign_flip_p(list(diffs)) == pytest.approx(np.mean(means >= 0.1 - 1e-12))


def test_holm_matches_a_hand_computation():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> monotone .06
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(holm([math.nan, 0.01])[0]) and holm([math.nan, 0.01])[1] == 0.01


def test_power_by_hand():
    # seeds only: detectable = (t.975 + t.8 at 9 df) * sd / sqrt(10)
    found = power(Estimate(0.01, 10, 0.02, 0.0))
    crit = stats.t.ppf(0.975, 9) + stats.t.ppf(0.8, 9)
    assert found.detectable == pytest.approx(crit * 0.02 / math.sqrt(10))
    assert found.test_noise_sd == pytest.approx(0.0, abs=1e-12)
    k = found.seeds_needed
    needed = lambda n: (stats.t.ppf(0.975, n - 1) + stats.t.ppf(0.8, n - 1)) * 0.02 / math.sqrt(n)  # noqa: E731
    assert needed(k) <= 0.01 < needed(k - 1)
    # a test set whose own noise exceeds the difference: no number of seeds is enough
    noisy = power(Estimate(0.01, 10, 0.02, 0.02**2))
    assert noisy.seeds_needed is None and noisy.test_noise_sd > 0.01
    # in a family the level is stricter, so more seeds are needed for the same difference
    strict = power(Estimate(0.01, 10, 0.02, 0.0), level=1 - 0.05 / 10)
    assert strict.seeds_needed > k and strict.detectable > found.detectable


def test_verdict_needs_seeds_and_the_family_adjusted_p():
    few = verdict(2, 0.1, 0.001, "a", "b")
    assert few.outcome is Outcome.TOO_FEW_SEEDS and str(few) == "too few seeds (2 < 3)"
    unsure = verdict(5, 0.1, 0.2, "a", "b")
    assert not unsure.shown and str(unsure) == "no conclusion (adjusted p = 0.2)"
    shown = verdict(5, 0.1, 0.01, "a", "b")
    assert shown.shown and (shown.winner, shown.loser) == ("a", "b") and str(shown) == "a better"
    assert verdict(5, -0.1, 0.01, "a", "b").winner == "b"
    assert f"{shown:>10}" == "  a better"  # formats as its text, in tables and f-strings


def test_a_verdict_names_the_tasks_a_better_mean_hides_or_its_direction():
    shown = verdict(5, 0.1, 0.01, "multi_task", "single_task")
    hiding = dataclasses.replace(shown, worse_on=("digit", "parity"))
    assert str(hiding) == "multi_task better on the mean, worse on digit, parity"
    assert str(dataclasses.replace(shown, phrase="positive transfer")) == "positive transfer"


def test_wins_interval_is_clopper_pearson():
    low, high = wins_interval(5, 5)
    assert low == pytest.approx(0.025 ** (1 / 5)) and high == 1.0


def test_the_enumerated_sign_flip_agrees_with_scipy():
    rng = np.random.default_rng(1)
    for n in (2, 3, 5, 8, 12):
        for _ in range(5):
            diffs = rng.normal(0.2, 1.0, n)
            reference = stats.permutation_test(
                (diffs,), np.mean, permutation_type="samples", n_resamples=np.inf
            ).pvalue
            assert sign_flip_p(list(diffs)) == pytest.approx(reference, abs=1e-12)
