"""Effect sizes a comparison reports besides raw differences.

Δm (Maninis et al. 2019; Vandenhende et al. 2021) summarises a multi-task arm against the
single-task arm in one number: the mean over tasks of the relative change, signed so that
positive always means "the multi-task arm is better":

    Δm = (100 / T) · Σ_t s_t · (M_mtl,t − M_stl,t) / M_stl,t,  s_t = +1 if higher is better,
                                                                s_t = −1 if lower is better.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tasklab.report.stats.intervals import Estimate


def _delta_m_array(multi: np.ndarray, single: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Δm over the last axis (tasks), in percent; NaN where a single-task value is 0 (a
    relative change from 0 is undefined). The one formula behind every Δm here."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 * np.mean(signs * (multi - single) / single, axis=-1)
    return np.where(np.isfinite(value), value, np.nan)


def _signs(tasks: Sequence[str], lower: Mapping[str, bool] | None) -> np.ndarray:
    return np.asarray([-1.0 if (lower or {}).get(t, False) else 1.0 for t in tasks])


def delta_m(
    multi_task: Mapping[str, float],
    single_task: Mapping[str, float],
    lower_is_better: Mapping[str, bool] | None = None,
) -> float:
    """Δm in percent over the tasks both arms report; NaN if they share none."""
    tasks = sorted(set(multi_task) & set(single_task))
    if not tasks:
        return math.nan
    multi = np.asarray([multi_task[t] for t in tasks], dtype=np.float64)
    single = np.asarray([single_task[t] for t in tasks], dtype=np.float64)
    return float(_delta_m_array(multi, single, _signs(tasks, lower_is_better)))


# Metric names (the last part of ``split/task/name``) where a smaller value is better.
LOWER_IS_BETTER_NAMES = frozenset({"mae", "mse", "rmse", "loss", "nll", "error", "err"})


def lower_is_better(metric: str) -> bool:
    """Whether a metric key such as ``test/age/mae`` improves downwards."""
    return metric.rsplit("/", 1)[-1].lower() in LOWER_IS_BETTER_NAMES


@dataclass(frozen=True)
class DeltaMInterval:
    value: float  # Δm of the per-task means over the seeds both arms have
    per_seed: tuple[float, ...]  # Δm seed by seed (its spread gives the interval)
    tasks: tuple[str, ...]

    @property
    def estimate(self) -> Estimate:
        """Δm with the spread of the per-seed Δm over seeds (Δm is not resampled by test
        example: it mixes tasks scored on different rows)."""
        finite = [v for v in self.per_seed if math.isfinite(v)]
        sd = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
        return Estimate(self.value, len(finite), sd, 0.0)


def delta_m_interval(
    multi_task: Mapping[int, Mapping[str, float]],
    single_task: Mapping[int, Mapping[str, float]],
    lower: Mapping[str, bool] | None = None,
) -> DeltaMInterval:
    """Δm over matched seeds ({seed: {task: metric}} per arm), and seed by seed. Tasks are
    those every matched seed of both arms reports."""
    seeds = sorted(set(multi_task) & set(single_task))
    task_sets = [set(multi_task[s]) & set(single_task[s]) for s in seeds]
    tasks = tuple(sorted(set.intersection(*task_sets))) if task_sets else ()
    if not tasks:
        return DeltaMInterval(math.nan, (), ())
    a = np.asarray([[multi_task[s][t] for t in tasks] for s in seeds], dtype=np.float64)
    b = np.asarray([[single_task[s][t] for t in tasks] for s in seeds], dtype=np.float64)
    signs = _signs(tasks, lower)
    value = float(_delta_m_array(a.mean(axis=0), b.mean(axis=0), signs))
    per_seed = tuple(float(v) for v in _delta_m_array(a, b, signs))
    return DeltaMInterval(value, per_seed, tasks)
