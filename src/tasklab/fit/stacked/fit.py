"""One fit of K members (one per run context, each with its own seed), trained as one.

Each member's data module and network are built exactly as ``fit_tasks`` builds them for its
seed (the global RNG seeded with the member's seed, then its data, then its network), so
member k starts where the single fit of seed k would. What comes back is, per member, the
``FitOutcome`` that single fit would have returned — or why the member failed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from tasklab.data.tasks import TaskSpec
from tasklab.fit.fitting import (
    FitOutcome,
    RunContext,
    batch_bytes,
    bounded_steps,
    fit_loggers,
    fit_weighting,
    model_network,
    seeded_datamodule,
)
from tasklab.fit.lightning_trainer import build_trainer, quiet_lightning, steps_per_call
from tasklab.fit.stacked.data import StackedDataModule
from tasklab.fit.stacked.module import StackedSeedsModule
from tasklab.fit.stacked.net import StackedNet
from tasklab.loggers import finish_wandb
from tasklab.models.multihead import count_parameters
from tasklab.runs.checkpoints import resume_checkpoint
from tasklab.weightings import LossWeighting
from tasklab.weightings.static import StaticWeighting


class StackingRefused(RuntimeError):
    """This fit cannot be stacked; its members are trained one at a time instead."""


def static_weights(weighting: LossWeighting | None, tasks: Sequence[TaskSpec]) -> list | None:
    """The per-task weights of a fit's ``static`` weighting; None for the equal sum (what
    ``fit_weighting`` gives for one task). Other weightings are refused before a stacked fit
    (``stacking.group.unsupported``)."""
    if weighting is None:
        return None
    if not isinstance(weighting, StaticWeighting):
        raise StackingRefused(f"{type(weighting).__name__} cannot be stacked yet")
    return [weighting.weights[t.name] for t in tasks]


def stacked_fit_name(ctxs: Sequence[RunContext], fit_name: str) -> str:
    """The checkpoint folder of a stacked fit names its members: a relaunch that stacks
    another set of seeds never resumes from it."""
    return f"stacked-s{'-'.join(str(c.cfg.seed) for c in ctxs)}-{fit_name}"


def _replay_logs(ctx: RunContext, fit_name: str, rows) -> None:
    """Write what a member logged into the loggers its single fit would have had."""
    try:
        for logger in fit_loggers(ctx, fit_name):
            for step, values in rows:
                logger.log_metrics(values, step=step)
            logger.save()
            logger.finalize("success")
    finally:
        finish_wandb()


def fit_tasks_stacked(
    ctxs: Sequence[RunContext], tasks: Sequence[TaskSpec], fit_name: str
) -> list[FitOutcome | str]:
    """``fit_tasks(ctx, tasks, fit_name)`` for every context at once; a failed member's
    entry is its error message. Raises ``StackingRefused`` before training when a member has
    no labelled training row."""
    lead = ctxs[0]
    cfg = lead.cfg
    max_steps = bounded_steps(cfg, cfg.trainer.max_steps)
    start = time.perf_counter()
    members, nets = [], []
    for ctx in ctxs:  # each member's data, then its network: a single fit's order
        members.append(seeded_datamodule(ctx, tasks, max_steps))
        nets.append(model_network(ctx, tasks))
    group = steps_per_call(cfg.trainer, max_steps, len(ctxs) * batch_bytes(lead))
    datamodule = StackedDataModule(members, steps_per_batch=group)
    sizes = datamodule.train_sizes()
    if min(sizes) == 0:
        raise StackingRefused(f"a member of fit {fit_name!r} has no labelled training row")
    module = StackedSeedsModule(
        StackedNet(nets),
        tasks,
        lr=cfg.optim.lr,
        weight_decay=cfg.optim.weight_decay,
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        schedule=cfg.optim.schedule,
        total_steps=max_steps,
        static_weights=static_weights(fit_weighting(cfg, tasks, None), tasks),
    )
    checkpoint_name = stacked_fit_name(ctxs, fit_name)
    with quiet_lightning():
        trainer = build_trainer(
            cfg.trainer, [], lead.output_dir, max(max_steps, 1), checkpoint_name, group
        )
        resume = resume_checkpoint(lead.output_dir, checkpoint_name)
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume, weights_only=True)
        if module.validated_at_step != trainer.global_step:
            trainer.validate(module, datamodule=datamodule, verbose=False)
        trainer.test(module, datamodule=datamodule, verbose=False)
    wall_time = time.perf_counter() - start
    outcomes: list[FitOutcome | str] = []
    for k, (ctx, member) in enumerate(zip(ctxs, members, strict=True)):
        if k in module.failed:
            outcomes.append(module.failed[k])
            continue
        _replay_logs(ctx, fit_name, module.logged[k])
        outcomes.append(
            FitOutcome(
                name=fit_name,
                tasks=[t.name for t in tasks],
                metrics=dict(module.latest[k]),
                n_params=count_parameters(nets[k]),
                n_labelled=member.labelled_counts(),
                steps=int(trainer.global_step),
                # the stacked fit's time shared out; ``notes`` keeps the whole
                wall_time_s=wall_time / len(ctxs),
                train_digest=member.train_digest(),
                notes={"stacked": {"members": len(ctxs), "wall_time_s": round(wall_time, 3)}},
                net=module.net.member(k, nets[k]),
                predictions=module.predictions[k],
            )
        )
    return outcomes
