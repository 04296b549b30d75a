"""Single-task: one network per task, each trained on that task's labels alone."""

from __future__ import annotations

from tasklab.data.building import selected_tasks
from tasklab.fit.fitting import FitOutcome, RunContext, fit_tasks
from tasklab.fit.stacked.fit import fit_tasks_stacked
from tasklab.regimes.weighting_arms import arm_axes
from tasklab.registry import REGIMES


# A weighting applies only to fits of several tasks: single-task arms ignore it (no arm keys).
def run_stacked(ctxs: list[RunContext]) -> list[list[FitOutcome | str]]:
    """``run`` for several seeds at once (``trainer.seeds_per_fit``): per fit, per member."""
    return [
        fit_tasks_stacked(ctxs, [task], fit_name=task.name)
        for task in selected_tasks(ctxs[0].world, ctxs[0].cfg.data.tasks)
    ]


@REGIMES.register(
    "single_task",
    arm=lambda cfg: "single_task",
    arm_axes=arm_axes,
    stacked=run_stacked,
    reference="single_task",
    reference_effect="delta_m",
)
def run(ctx: RunContext) -> list[FitOutcome]:
    return [
        fit_tasks(ctx, [task], fit_name=task.name)
        for task in selected_tasks(ctx.world, ctx.cfg.data.tasks)
    ]
