"""The test split's noise: resample its examples and recompute every run's metric.

A comparison's uncertainty has two sources. Seeds (initialisation, training subset, data
order) vary between runs; the test split is one finite sample, *the same one for every seed*.
An interval over seeds alone treats the test split as the population: with a few hundred test
rows it declares differences that are the test set's luck (``tests/test_verdict_calibration``).

So each resample r draws one set of test examples (multinomial counts over the examples'
indices, shared by every run, arm and task, because they were all scored on the same rows);
a run's metric under r is recomputed from its stored predictions with those counts
(``tasklab.prediction_metrics``). The spread of a seed mean over these resamples is the test split's
share of an interval (``intervals``); the draws also carry the test split's noise into the
fitted learning curves (``curves``).

Runs without stored predictions (older records, DDP runs) cannot be resampled by example; a
comparison that involves one falls back to seeds only and says so.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasklab.metric_keys import split_task_metric
from tasklab.prediction_metrics import metric_value, supports
from tasklab.predictions import PREDICTIONS_FILE, RunPredictions, load_predictions

RESAMPLES = 2000  # example resamples: the test split's variance, and the curves' draws


@dataclass(frozen=True)
class ResampledRun:
    """One run's metric: observed, and under each example resample; ``examples`` identifies
    the rows it was scored on (runs pair only on identical rows)."""

    observed: float
    resampled: np.ndarray  # (resamples,)
    examples: tuple[tuple[str, int, int], ...]  # (task, number of rows, hash of their indices)


class ExampleResampler:
    """Draws the example resamples once and caches each run's resampled metrics."""

    def __init__(self, resamples: int, seed: int) -> None:
        self.resamples, self.seed = resamples, seed
        self._counts: dict[int, np.ndarray] = {}
        self._runs: dict[str, RunPredictions | None] = {}
        self._values: dict[tuple[str, str], ResampledRun | None] = {}
        # (run, split, task, name) -> (observed, resampled): a task's values serve both its
        # own comparison and every mean over tasks that includes it, computed once
        self._task_values: dict[tuple[str, str, str, str], tuple[float, np.ndarray]] = {}
        self.unavailable: dict[str, str] = {}  # run folder -> why it has no predictions

    def counts(self, universe: int) -> np.ndarray:
        """(universe, resamples) draw counts of examples 0..universe-1 (example-major, so a
        task's rows are a contiguous gather)."""
        if universe not in self._counts:
            rng = np.random.default_rng([self.seed, universe])
            picks = rng.integers(0, universe, size=(self.resamples, universe))
            offsets = np.arange(self.resamples)[:, None] * universe
            flat = np.bincount((picks + offsets).ravel(), minlength=self.resamples * universe)
            counts = flat.reshape(self.resamples, universe).T
            # float32 holds the counts and their sums over a split exactly (below 2^24)
            self._counts[universe] = np.ascontiguousarray(counts, dtype=np.float32)
        return self._counts[universe]

    def _predictions(self, run_dir: str) -> RunPredictions | None:
        if run_dir not in self._runs:
            path = Path(run_dir) / PREDICTIONS_FILE
            try:
                self._runs[run_dir] = load_predictions(path)
            except FileNotFoundError:
                self._runs[run_dir] = None
                self.unavailable[run_dir] = f"no {PREDICTIONS_FILE}"
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
                self._runs[run_dir] = None
                self.unavailable[run_dir] = f"unreadable {PREDICTIONS_FILE}: {error}"
        return self._runs[run_dir]

    def run_metric(self, run_dir: str, metric: str) -> ResampledRun | None:
        """``split/task/name`` or ``split/mean/name`` (the split perhaps a stage's, as in
        ``source/test/…``) of one run under every resample; None where the run kept no
        predictions for it (an older record, say)."""
        key = (run_dir, metric)
        if key not in self._values:
            self._values[key] = self._compute(run_dir, metric)
        return self._values[key]

    def _compute(self, run_dir: str, metric: str) -> ResampledRun | None:
        parsed = split_task_metric(metric)
        predictions = self._predictions(run_dir)
        if parsed is None or predictions is None or parsed[0] not in predictions:
            return None
        split, task, name = parsed
        stored = predictions[split]
        tasks = sorted(stored) if task == "mean" else [task]
        tasks = [t for t in tasks if t in stored and supports(stored[t], name)]
        if not tasks:
            return None
        universe = 1 + max(int(stored[t].index.max()) for t in stored if stored[t].index.size)
        counts = self.counts(universe)
        observed, resampled, examples = [], [], []
        for t in tasks:
            p = stored[t]
            key = (run_dir, split, t, name)
            if key not in self._task_values:
                self._task_values[key] = (
                    float(metric_value(p, name)[0]),
                    metric_value(p, name, counts[p.index]),
                )
            observed.append(self._task_values[key][0])
            resampled.append(self._task_values[key][1])
            examples.append((t, int(p.index.size), hash(p.index.tobytes())))
        return ResampledRun(float(np.mean(observed)), np.mean(resampled, axis=0), tuple(examples))


def pairable(a: Sequence[ResampledRun | None], b: Sequence[ResampledRun | None]) -> bool:
    """Whether every run of both arms was scored on the same examples (and kept them)."""
    runs = [*a, *b]
    if any(r is None for r in runs):
        return False
    return len({r.examples for r in runs if r is not None}) == 1
