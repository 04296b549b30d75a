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

from tasklab.report.bootstrap import LEVEL, RESAMPLES, resample_picks
from tasklab.report.verdicts import bootstrap_p


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
    low: float
    high: float
    per_seed: tuple[float, ...]  # Δm seed by seed (for a t-interval and for counting)
    tasks: tuple[str, ...]
    p_value: float = math.nan  # two-sided bootstrap p of Δm = 0


def delta_m_interval(
    multi_task: Mapping[int, Mapping[str, float]],
    single_task: Mapping[int, Mapping[str, float]],
    lower: Mapping[str, bool] | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> DeltaMInterval:
    """Δm with a bootstrap interval over matched seeds ({seed: {task: metric}} per arm).

    Each resample draws whole seeds, takes per-task means of both arms over them and computes
    Δm from those means; the resampled values are expanded by sqrt(n/(n-1)) about the observed
    Δm as in ``bootstrap``. Tasks are those every matched seed of both arms reports.
    """
    seeds = sorted(set(multi_task) & set(single_task))
    task_sets = [set(multi_task[s]) & set(single_task[s]) for s in seeds]
    tasks = tuple(sorted(set.intersection(*task_sets))) if task_sets else ()
    if not tasks:
        return DeltaMInterval(math.nan, math.nan, math.nan, (), ())
    a = np.asarray([[multi_task[s][t] for t in tasks] for s in seeds], dtype=np.float64)
    b = np.asarray([[single_task[s][t] for t in tasks] for s in seeds], dtype=np.float64)
    signs = _signs(tasks, lower)

    def dm(mean_a: np.ndarray, mean_b: np.ndarray) -> np.ndarray:
        return _delta_m_array(mean_a, mean_b, signs)

    value = float(dm(a.mean(axis=0), b.mean(axis=0)))
    per_seed = tuple(float(v) for v in dm(a, b))
    if len(seeds) < 2 or not math.isfinite(value):
        return DeltaMInterval(value, math.nan, math.nan, per_seed, tasks)
    n = len(seeds)
    picks = resample_picks(n, resamples, seed)
    resampled = dm(a[picks].mean(axis=1), b[picks].mean(axis=1))
    expanded = value + math.sqrt(n / (n - 1)) * (resampled - value)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(expanded, [tail, 1.0 - tail])
    finite = expanded[np.isfinite(expanded)]
    return DeltaMInterval(value, float(low), float(high), per_seed, tasks, bootstrap_p(finite))
