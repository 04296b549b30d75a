import math

import pytest

from tasklab.report.stats import mean_interval, t_critical


def test_t_interval_by_hand():
    iv = mean_interval([1.0, 2.0, 3.0])
    # mean 2, s = 1, t_{0.975,2} = 4.303 -> half width 4.303 / sqrt(3)
    assert iv.mean == 2.0 and iv.half_width == pytest.approx(4.3027 / math.sqrt(3), rel=1e-4)
    assert math.isnan(mean_interval([5.0]).low)
    assert t_critical(35) == pytest.approx(2.0301, abs=1e-4)
