"""Effect sizes a comparison reports besides raw differences.

Δm (Maninis et al. 2019; Vandenhende et al. 2021) summarises a multi-task arm against the
single-task arm in one number: the mean over tasks of the relative change, signed so that
positive always means "the multi-task arm is better":

    Δm = (100 / T) · Σ_t s_t · (M_mtl,t − M_stl,t) / M_stl,t,  s_t = +1 if higher is better,
                                                                s_t = −1 if lower is better.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def delta_m(
    multi_task: Mapping[str, float],
    single_task: Mapping[str, float],
    lower_is_better: Mapping[str, bool] | None = None,
) -> float:
    """Δm in percent over the tasks both arms report; NaN if they share none or a single-task
    value is 0 (a relative change from 0 is undefined)."""
    lower = lower_is_better or {}
    tasks = sorted(set(multi_task) & set(single_task))
    if not tasks or any(single_task[t] == 0 for t in tasks):
        return math.nan
    total = 0.0
    for task in tasks:
        sign = -1.0 if lower.get(task, False) else 1.0
        total += sign * (multi_task[task] - single_task[task]) / single_task[task]
    return 100.0 * total / len(tasks)
