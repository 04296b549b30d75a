"""Regimes: orchestration only. Each maps a run context to the fits it made."""

from __future__ import annotations

from collections.abc import Callable

from tasklab.regimes import multi_task, single_task
from tasklab.regimes.fitting import FitOutcome, RunContext

Regime = Callable[[RunContext], list[FitOutcome]]

REGIMES: dict[str, Regime] = {
    "single_task": single_task.run,
    "multi_task": multi_task.run,
}
