"""Whether a run's stored predictions are the ones behind its record.

A report resamples test examples from ``predictions.npz``; a file that belongs to another run
(copied over, a folder restored from a backup of another seed) or that was cut short would
shift intervals or silently drop the test split's noise. So before a record is used, its
predictions must hold the tasks the record names, and every metric recomputed from them
must equal the recorded one; a run that fails either is set aside with the reason, like an
unreadable record.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Any

from tasklab.metric_keys import split_task_metric
from tasklab.prediction_metrics import METRICS, metric_value, supports
from tasklab.predictions import PREDICTIONS_FILE, load_predictions

TOLERANCE = 1e-4  # relative: float32 metrics against float64 recomputation


def prediction_problem(record: dict[str, Any], run_dir: Path) -> str | None:
    """Why ``run_dir``'s predictions do not match ``record`` (None: they do, or none were
    kept, which a report states separately)."""
    kept = record.get("predictions") or {}
    if not kept.get("file"):
        return None
    path = Path(run_dir) / str(kept["file"])
    try:
        stored = load_predictions(path)
    except FileNotFoundError:
        return f"damaged: the record names {PREDICTIONS_FILE}, which is missing"
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        return f"damaged: {PREDICTIONS_FILE} is unreadable ({type(error).__name__}: {error})"
    named = {split: sorted(tasks) for split, tasks in (kept.get("tasks") or {}).items()}
    held = {split: sorted(tasks) for split, tasks in stored.items()}
    if named and named != held:
        return (
            f"damaged: {PREDICTIONS_FILE} holds tasks {held}, the record names {named} "
            "(another run's file?)"
        )
    for key, recorded in (record.get("metrics") or {}).items():
        parsed = split_task_metric(key)
        if parsed is None or parsed[0] not in stored or parsed[1] not in stored[parsed[0]]:
            continue
        split, task, name = parsed
        predictions = stored[split][task]
        if name not in METRICS or not supports(predictions, name):
            continue
        value = float(metric_value(predictions, name)[0])
        if not isinstance(recorded, (int, float)):
            continue  # a record's own fault, said where its metrics are read
        both_nan = math.isnan(value) and math.isnan(recorded)
        if not both_nan and not abs(value - recorded) <= TOLERANCE * max(1.0, abs(recorded)):
            return (
                f"damaged: {PREDICTIONS_FILE} does not give the recorded {key} "
                f"({value:.6g} from the file, {recorded} recorded; another run's file?)"
            )
    return None
