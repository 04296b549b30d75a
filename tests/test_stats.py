import math

from tasklab.report.stats import mean_interval, paired_difference, t_critical


def test_t_interval_by_hand():
    iv = mean_interval([1.0, 2.0, 3.0])
    # mean 2, s = 1, t_{0.975,2} = 4.303 -> half width 4.303 / sqrt(3)
    assert iv.mean == 2.0 and math.isclose(iv.half_width, 4.303 / math.sqrt(3))
    assert math.isnan(mean_interval([5.0]).low)
    assert t_critical(35) == t_critical(30)  # conservative between table rows


def test_paired_difference_removes_shared_variance():
    a = {0: 0.70, 1: 0.80, 2: 0.90, 3: 0.60}
    b = {0: 0.68, 1: 0.79, 2: 0.87, 3: 0.58, 9: 0.1}  # seed 9 has no partner
    diff, wins = paired_difference(a, b)
    assert diff.n == 4 and wins == 4
    assert diff.low > 0  # unpaired intervals would overlap heavily
    assert mean_interval(list(b.values())[:4]).high > mean_interval(list(a.values())).low
