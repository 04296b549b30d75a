"""End-to-end vs staged: learn x → y directly, or through the world's intermediate z.

The arms differ only in orchestration, all on the one LightningModule:

- ``end_to_end``: x → y from the ``data.n_train`` (x, y) pairs alone;
- ``staged``: stage 1 (x → z) and stage 2 (z → y) each learned from their own plentiful data,
  composed at test time on the *predicted* z;
- ``hybrid``: end to end with an auxiliary z head, trained on the pairs and the z-labelled
  inputs together (missing labels masked), the pairs filling ``pair_share`` of every batch;
- ``staged_finetune``: the composed stages, fine-tuned end to end on the pairs;
- ``oracle_z``: stage 2 on the true z, an upper bound no deployable pipeline reaches.

Records carry, besides the arm's prediction of y (``test/<y>/…``), the metrics of each stage:
``x_to_z/…`` for the z that the arm's network predicts, ``z_to_y/…`` for stage 2 on true z,
so a report can show where a pipeline loses accuracy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from omegaconf import DictConfig

from tasklab.config import ModelConfig, RegimeSettings
from tasklab.config_checks import check_n_train, check_rows, require
from tasklab.data.building import selected_tasks
from tasklab.data.label_masks import TaskBudget
from tasklab.data.world import StagedWorld, World
from tasklab.fit.fitting import FitOutcome, RunContext, fit_tasks
from tasklab.fit.metrics import with_task_means
from tasklab.models.composed import ComposedNet
from tasklab.models.handoff import FineTunePlan
from tasklab.predictions import RunPredictions, of_tasks, prefixed
from tasklab.regimes.pipeline_stages import (
    X_TO_Z,
    Z_TO_Y,
    TrainedStage,
    staged_world,
    trained_stage,
)
from tasklab.registry import BACKBONES, REGIMES
from tasklab.settings import setting

ORACLE_LABEL = "oracle_z (upper bound)"


def arm(cfg: DictConfig) -> str:
    return ORACLE_LABEL if cfg.regime.arm == "oracle_z" else cfg.regime.arm


def split_stage_metrics(metrics: dict[str, float], z_names: tuple[str, ...]) -> dict[str, float]:
    """A fit's metrics with z tasks moved under ``x_to_z/`` and each part's task means
    recomputed, so ``test/mean/…`` is the mean over the target only."""
    z_part = {k: v for k, v in metrics.items() if k.split("/")[1] in z_names}
    y_part = {k: v for k, v in metrics.items() if k.split("/")[1] not in (*z_names, "mean")}
    z_means = with_task_means(z_part)
    return with_task_means(y_part) | {f"{X_TO_Z}/{k}": v for k, v in z_means.items()}


def split_stage_predictions(
    predictions: RunPredictions, z_names: tuple[str, ...]
) -> RunPredictions:
    """A fit's predictions filed as ``split_stage_metrics`` files its metrics: z tasks under
    ``x_to_z/<split>``, the target under ``<split>``."""
    y_part = of_tasks(predictions, lambda task: task not in z_names)
    return y_part | prefixed(of_tasks(predictions, lambda task: task in z_names), X_TO_Z)


def _composed(ctx: RunContext, stage1: TrainedStage, stage2: TrainedStage) -> ComposedNet:
    world = staged_world(ctx)
    z_specs = [world.task_specs[name] for name in world.intermediate_tasks]
    return ComposedNet(stage1.net, stage2.net, world.stage2_input, z_specs, world.target_task)


def _pairs_budgets(ctx: RunContext, n_z: int) -> dict[str, TaskBudget]:
    """The target's labels on the first ``n_train`` inputs, z's on the first ``n_z`` (0: none)."""
    world = staged_world(ctx)
    budgets = {name: TaskBudget(n_train=n_z) for name in world.intermediate_tasks}
    return budgets | {world.target_task: ctx.budgets[world.target_task]}


def _end_to_end(ctx: RunContext) -> list[FitOutcome]:
    targets = selected_tasks(ctx.world, ctx.cfg.data.tasks)
    return [fit_tasks(ctx, targets, fit_name="end_to_end")]


def _hybrid(ctx: RunContext) -> list[FitOutcome]:
    world, regime = staged_world(ctx), ctx.cfg.regime
    tasks = selected_tasks(world, (*world.intermediate_tasks, world.target_task))
    weights = {name: regime.aux_weight for name in world.intermediate_tasks}
    hybrid_ctx = dataclasses.replace(ctx, budgets=_pairs_budgets(ctx, regime.n_stage1))
    share = regime.pair_share if regime.pair_share > 0 else None
    fit = fit_tasks(
        hybrid_ctx,
        tasks,
        fit_name="hybrid",
        task_weights=weights | {world.target_task: 1.0},
        focus=((world.target_task,), share) if share else None,
    )
    fit.metrics = split_stage_metrics(fit.metrics, world.intermediate_tasks)
    fit.predictions = split_stage_predictions(fit.predictions, world.intermediate_tasks)
    return [fit]


def _evaluate_composed(ctx: RunContext, stage1: TrainedStage, stage2: TrainedStage, steps: int):
    """Compose the stages; fine-tune end to end on the pairs for ``steps`` (0: evaluate only)."""
    world, regime = staged_world(ctx), ctx.cfg.regime
    tasks = selected_tasks(world, (*world.intermediate_tasks, world.target_task))
    net = _composed(ctx, stage1, stage2)

    def fine_tune_plan(module) -> FineTunePlan:
        return FineTunePlan(frozen=[], lr_scales=[(module, regime.finetune_lr_scale)])

    pairs_ctx = dataclasses.replace(ctx, budgets=_pairs_budgets(ctx, 0))
    name = "staged_finetune" if steps else "composed"
    fit = fit_tasks(
        pairs_ctx,
        tasks,
        fit_name=name,
        max_steps=steps,
        network=lambda: net,
        prepare=fine_tune_plan,
    )
    fit.metrics = split_stage_metrics(fit.metrics, world.intermediate_tasks)
    fit.predictions = split_stage_predictions(fit.predictions, world.intermediate_tasks)
    return fit


def _staged(ctx: RunContext) -> list[FitOutcome]:
    stage1, stage2 = trained_stage(ctx, X_TO_Z), trained_stage(ctx, Z_TO_Y)
    composed = _evaluate_composed(ctx, stage1, stage2, steps=0)
    composed.in_predictor = False  # the stages are the predictor; this fit only evaluates it
    # x_to_z of the composed net equals stage 1's own test metrics; keep stage 1's record
    composed.metrics = {k: v for k, v in composed.metrics.items() if not k.startswith(X_TO_Z)}
    return [stage1.fit, stage2.fit, composed]


def _staged_finetune(ctx: RunContext) -> list[FitOutcome]:
    stage1, stage2 = trained_stage(ctx, X_TO_Z), trained_stage(ctx, Z_TO_Y)
    tuned = _evaluate_composed(ctx, stage1, stage2, steps=ctx.cfg.trainer.max_steps)
    for stage in (stage1.fit, stage2.fit):
        stage.in_predictor = False  # fine-tuned into the composed network
        tuned.notes[f"before_finetune_{stage.name}"] = stage.metrics
        stage.metrics = {}
    return [stage1.fit, stage2.fit, tuned]


def _oracle_z(ctx: RunContext) -> list[FitOutcome]:
    stage2 = trained_stage(ctx, Z_TO_Y)
    prefix = f"{Z_TO_Y}/"
    stage2.fit.metrics |= {k[len(prefix) :]: v for k, v in stage2.fit.metrics.items()}
    stage2.fit.predictions |= {
        split[len(prefix) :]: tasks for split, tasks in stage2.fit.predictions.items()
    }
    stage2.fit.notes["upper_bound"] = "stage 2 on the true z; no pipeline can predict z exactly"
    return [stage2.fit]


_ARM_RUNS = {
    "end_to_end": _end_to_end,
    "staged": _staged,
    "hybrid": _hybrid,
    "staged_finetune": _staged_finetune,
    "oracle_z": _oracle_z,
}


ARMS: tuple[str, ...] = tuple(_ARM_RUNS)


@dataclass
class PipelineSettings(RegimeSettings):
    """x → y learned directly, or through an intermediate z.

    ``data.n_train`` is the number of end-to-end (x, y) pairs; the sub-steps have their own,
    usually larger, amounts: ``n_stage1`` inputs labelled with z, ``n_stage2`` (z, y) records.
    """

    name: str = "pipeline"
    arm: str = setting("end_to_end", choices=ARMS, arm=True)
    n_stage1: int = setting(20_000, size=True, doc="(x, z) examples of stage 1")
    n_stage2: int = setting(20_000, size=True, doc="(z, y) examples of stage 2")
    stage1_steps: int = setting(2000, above=0)
    stage2_steps: int = setting(2000, above=0)
    # Stage 2's network (z → y, or crop → y); stage 1 and end-to-end networks use model.*
    stage2_model: ModelConfig = setting(
        factory=lambda: ModelConfig(backbone="mlp", width=64, depth=2)
    )
    aux_weight: float = setting(1.0, low=0, doc="hybrid: the auxiliary z loss's weight")
    # hybrid: share of every batch given to the (x, y) pairs (0: all rows sampled alike, and
    # a few pairs among many z-labelled inputs are then seen a handful of times in a fit)
    pair_share: float = setting(0.5, low=0, high=1, doc="each batch's share of (x, y) pairs")
    finetune_lr_scale: float = setting(0.1, above=0, doc="staged_finetune: lr × this")
    cache_dir: str = setting("${oc.env:TASKLAB_CACHE_DIR,cache/stages}", identity=False)


def run(ctx: RunContext) -> list[FitOutcome]:
    fits = _ARM_RUNS[ctx.cfg.regime.arm](ctx)
    fits[-1].notes["arm"] = arm(ctx.cfg)
    return fits


def check(cfg: DictConfig, world: World) -> None:
    """The pipeline's own settings, checked before any training; one line per problem."""
    regime = cfg.regime
    staged = isinstance(world, StagedWorld)
    require(
        staged or regime.arm == "end_to_end",
        f"regime.arm={regime.arm} needs a world with an intermediate z, and "
        f"data.world={cfg.data.world} declares none; use data=bone_age, face_id or steering, or "
        "a file with z_<name> arrays (.csv: data.files.intermediates) and one task in data.tasks",
    )
    check_n_train("regime.n_stage1", regime.n_stage1)
    check_n_train("regime.n_stage2", regime.n_stage2)
    check_rows("regime.n_stage1", regime.n_stage1, world)
    check_rows("regime.n_stage2", regime.n_stage2, world)
    stage2_model = regime.stage2_model
    BACKBONES.get(stage2_model.backbone)  # one line naming the registered ones if unknown
    if not staged:
        return
    require(
        list(cfg.data.tasks) == [world.target_task],
        f"data.tasks={list(cfg.data.tasks)} must be [{world.target_task}], the target of "
        f"data.world={cfg.data.world}; z ({', '.join(world.intermediate_tasks)}) is the "
        "pipeline's own",
    )
    shape = tuple(world.stage2_input_shape)
    require(
        stage2_model.backbone != "cnn" or len(shape) == 3,
        f"regime.stage2_model.backbone=cnn needs images, but stage 2 of data.world="
        f"{cfg.data.world} reads inputs of shape {shape}; use regime.stage2_model.backbone=mlp",
    )


REGIMES.register(
    "pipeline",
    settings=PipelineSettings,
    check=check,
    arm=arm,
    one_trunk=True,
    reference="end_to_end",
)(run)
