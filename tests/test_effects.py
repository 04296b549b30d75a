import math

import pytest

from tasklab.report.stats.effects import delta_m


def test_delta_m_matches_a_hand_computation_with_a_lower_is_better_task():
    mtl = {"car": 0.90, "age_mae": 9.0, "ped": 0.60}
    stl = {"car": 0.80, "age_mae": 10.0, "ped": 0.75, "only_stl": 0.5}
    # car +12.5%, age_mae error down 10% -> +10%, ped -20%: mean (12.5 + 10 - 20) / 3
    got = delta_m(mtl, stl, lower_is_better={"age_mae": True})
    assert got == pytest.approx((12.5 + 10.0 - 20.0) / 3)


def test_delta_m_is_zero_for_equal_arms_and_undefined_without_shared_tasks():
    assert delta_m({"a": 0.7}, {"a": 0.7}) == 0.0
    assert math.isnan(delta_m({"a": 0.7}, {"b": 0.7}))
    assert math.isnan(delta_m({"a": 0.7}, {"a": 0.0}))
