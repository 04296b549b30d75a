"""Single-task: one network per task, each trained on that task's labels alone."""

from __future__ import annotations

from tasklab.data.registry import selected_tasks
from tasklab.regimes.fitting import FitOutcome, RunContext, fit_tasks
from tasklab.regimes.multi_task import arm_axes
from tasklab.registry import REGIMES


# A weighting applies only to fits of several tasks: single-task arms ignore it (no arm keys).
@REGIMES.register("single_task", arm=lambda cfg: "single_task", arm_axes=arm_axes)
def run(ctx: RunContext) -> list[FitOutcome]:
    return [
        fit_tasks(ctx, [task], fit_name=task.name)
        for task in selected_tasks(ctx.world, ctx.cfg.data.tasks)
    ]
