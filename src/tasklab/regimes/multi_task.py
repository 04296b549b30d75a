"""Multi-task: one shared trunk with a head per task, trained on all tasks' labels at once."""

from __future__ import annotations

from omegaconf import DictConfig

from tasklab.data.building import selected_tasks
from tasklab.fit.fitting import FitOutcome, RunContext, fit_tasks
from tasklab.fit.stacked.fit import fit_tasks_stacked
from tasklab.regimes.weighting_arms import arm_axes, weighting_keys
from tasklab.registry import REGIMES


def arm(cfg: DictConfig) -> str:
    weighting = cfg.mtl.weighting.name
    return "multi_task" if weighting == "equal" else f"multi_task/{weighting}"


def run_stacked(ctxs: list[RunContext]) -> list[list[FitOutcome | str]]:
    """``run`` for several seeds at once (``trainer.seeds_per_fit``): per fit, per member."""
    tasks = selected_tasks(ctxs[0].world, ctxs[0].cfg.data.tasks)
    return [fit_tasks_stacked(ctxs, tasks, fit_name="all")]


@REGIMES.register(
    "multi_task",
    arm=arm,
    arm_keys=weighting_keys,
    arm_axes=arm_axes,
    stacked=run_stacked,
    reference="single_task",
    reference_effect="delta_m",
)
def run(ctx: RunContext) -> list[FitOutcome]:
    return [fit_tasks(ctx, selected_tasks(ctx.world, ctx.cfg.data.tasks), fit_name="all")]
