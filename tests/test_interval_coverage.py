"""The printed interval covers at its nominal level at 3, 5 and 10 seeds, where the test split
dominates the noise and where seeds do (``tasklab.report.calibration``: A/A experiments whose
arms are identical in distribution, on ≥ 400 simulated experiments per cell)."""

import pytest

from tasklab.report.calibration import REGIMES, measure_coverage

EXPERIMENTS = 1000


@pytest.mark.slow
@pytest.mark.parametrize("seeds", [3, 5, 10])
@pytest.mark.parametrize("regime", REGIMES, ids=lambda r: r.name.replace(" ", "_"))
def test_difference_and_arm_intervals_cover_at_95_percent(regime, seeds):
    found = measure_coverage(regime, seeds, EXPERIMENTS, resamples=100, seed=2026)
    assert 0.92 <= found.difference_covered <= 0.98
    assert found.false_verdicts <= 0.06
    assert 0.92 <= found.arm_covered <= 0.98
    # the regime is what it says: the test split's share of the variance
    if regime.name.startswith("test"):
        assert found.test_share > 0.8
    else:
        assert found.test_share < 0.2
