"""Multi-task: one shared trunk with a head per task, trained on all tasks' labels at once."""

from __future__ import annotations

from tasklab.data.registry import selected_tasks
from tasklab.regimes.fitting import FitOutcome, RunContext, fit_tasks


def run(ctx: RunContext) -> list[FitOutcome]:
    return [fit_tasks(ctx, selected_tasks(ctx.world, ctx.cfg.data.tasks), fit_name="all")]
