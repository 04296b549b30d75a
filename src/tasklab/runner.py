"""One run: check the config, run its regime, write ``result.json`` (and the predictions).

``train(cfg)`` is the programmatic API (tests, ``tasklab-reproduce``); ``tasklab.train`` is
the command-line entry point around it.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from tasklab.config_checks import ConfigError, check_config, several_processes
from tasklab.data.building import build_world, fit_data_to_world, task_budgets
from tasklab.data.eval_sharing import sweep_eval_cache
from tasklab.fit.fitting import FitOutcome, RunContext, set_threads
from tasklab.fit.metrics import with_task_means
from tasklab.fit.stacked.fit import StackingRefused
from tasklab.fit.stacked.group import Member, stacked_group
from tasklab.prediction_metrics import reproduces
from tasklab.predictions import PREDICTIONS_FILE, matching_predictions, save_predictions
from tasklab.regimes import describe_arm, describe_reference, describe_sizes
from tasklab.registry import ARCHITECTURES, REGIMES
from tasklab.results import (
    RunResult,
    git_state,
    package_versions,
    remove_temporaries,
    source_digest,
    write_atomic,
    write_result,
)
from tasklab.runs.checkpoints import claim_checkpoints, remove_checkpoints
from tasklab.runs.ids import config_key, register_run_id_resolver, run_inputs
from tasklab.runs.interrupts import (
    RunInterrupted,
    interruptible,
    is_interruption,
    quiet_worker_exit,
)
from tasklab.runs.markers import (
    RunInProgressError,
    claim_running,
    clear_running,
    clear_stale_marker,
    finished_ok,
)
from tasklab.runs.threads import job_threads

register_run_id_resolver()  # launcher workers import this module and resolve run ids
quiet_worker_exit()  # and end without a traceback when stopped between runs


def _hydra_context() -> tuple[Path | None, list[str]]:
    if not HydraConfig.initialized():
        return None, []
    hc = HydraConfig.get()
    return Path(hc.runtime.output_dir), list(hc.overrides.task)


def _check_processes_in_sweep(cfg: DictConfig) -> None:
    """Lightning starts DDP's other processes by re-running the command line; inside a sweep
    launched in-process or by joblib that would re-run the whole sweep in each of them. Under
    submitit (SLURM), each task is one process already and Lightning starts none."""
    tc = cfg.trainer
    launcher = str(getattr(_launcher_config(), "_target_", "") or "")
    if several_processes(tc) and in_multirun() and "submitit" not in launcher:
        raise ConfigError(
            f"trainer.strategy={tc.strategy} with trainer.devices={tc.devices} starts its other "
            "processes by re-running the command, which in a sweep (-m) would re-run the sweep; "
            "launch it as a single run, or sweep with hydra/launcher=submitit_slurm and "
            "hydra.launcher.tasks_per_node=trainer.devices"
        )


def _launcher_config() -> DictConfig | None:
    return HydraConfig.get().launcher if HydraConfig.initialized() else None


def _summarise(fits: list[FitOutcome]) -> tuple[dict, dict, dict]:
    metrics: dict[str, float] = {}
    for fit in fits:
        metrics.update(fit.metrics)
    params = {
        "total": sum(f.n_params for f in fits if f.in_predictor),
        "per_fit": {f.name: f.n_params for f in fits},
    }
    # per task, the most labels any fit used (a pipeline's stages and its fine-tuning differ;
    # each fit's own counts are in its entry of ``fits``)
    labelled: dict[str, int] = {}
    for fit in fits:
        for task, n in fit.n_labelled.items():
            labelled[task] = max(n, labelled.get(task, 0))
    return with_task_means(metrics), params, labelled


def _keep_predictions(
    output_dir: Path, fits: list[FitOutcome], metrics: dict[str, float]
) -> dict[str, object]:
    """Store the per-example predictions behind the record's metrics; say what was kept."""
    chosen, unmatched = matching_predictions([f.predictions for f in fits], metrics, reproduces)
    path = save_predictions(output_dir, chosen)
    kept = {split: sorted(tasks) for split, tasks in chosen.items()}
    return {"file": PREDICTIONS_FILE if path else None, "tasks": kept, "unmatched": unmatched}


def _new_record(cfg: DictConfig, overrides: list[str], key: str) -> RunResult:
    return RunResult(
        status="failed",
        name=cfg.name,
        regime=cfg.regime.name,
        seed=cfg.seed,
        overrides=overrides,
        config=OmegaConf.to_container(cfg, resolve=True),  # type: ignore[arg-type]
        config_key=key,
        inputs=run_inputs(cfg),
        versions=package_versions(),
        git=git_state(),
        source_digest=source_digest(),
    )


def _claim(output_dir: Path, key: str) -> None:
    claim_running(output_dir)
    remove_temporaries(output_dir)  # of a record or predictions a kill cut short
    claim_checkpoints(output_dir, key)


def _prepare(cfg: DictConfig, result: RunResult):
    """The world, checked config, arm and budgets a run's fits share."""
    world = build_world(cfg.data, verbose=True)
    fit_data_to_world(cfg.data, world)
    result.config = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    check_config(cfg, world)
    if cfg.trainer.save_trunk:
        _check_one_trunk(cfg)
    result.arm, result.arm_axes, result.arm_keys = describe_arm(cfg)
    result.size_keys = describe_sizes(cfg)
    result.reference_arm, result.reference_effect = describe_reference(cfg)
    set_threads(job_threads(cfg.trainer.threads, _launcher_config()))
    result.threads = torch.get_num_threads()
    return world, task_budgets(cfg.data)


def _record_fits(result: RunResult, ctx: RunContext, fits: list[FitOutcome], writer: bool) -> None:
    """Fill an ok record from the run's fits (and store their predictions)."""
    result.metrics, result.params, labelled = _summarise(fits)
    budgets = ctx.budgets
    result.data = {
        "world": ctx.cfg.data.world,
        "n_train": {t: b.n_train for t, b in budgets.items()},
        "label_rate": {t: b.label_rate for t, b in budgets.items()},
        "n_labelled": labelled,
        **({"warnings": list(ctx.world.warnings)} if getattr(ctx.world, "warnings", None) else {}),
    }
    result.fits = [
        {
            "name": f.name,
            "tasks": f.tasks,
            "n_params": f.n_params,
            "steps": f.steps,
            "wall_time_s": round(f.wall_time_s, 3),
            "train_digest": f.train_digest,
            "n_labelled": f.n_labelled,
            **({"affinity": f.affinity} if f.affinity else {}),
            **f.notes,
        }
        for f in fits
    ]
    if writer:
        result.predictions = _keep_predictions(ctx.output_dir, fits, result.metrics)
    result.status = "ok"


def _close(
    result: RunResult, cfg: DictConfig, output_dir: Path, start: float, share: int = 1
) -> None:
    """Write the record (its wall time a ``share`` of the time since ``start``: the seeds of
    a stacked fit split it) and release the folder."""
    result.wall_time_s = round((time.perf_counter() - start) / share, 3)
    write_result(output_dir, result)  # on disk before the checkpoints may go
    if result.status == "ok" and not cfg.trainer.keep_checkpoints:
        remove_checkpoints(output_dir)
    clear_running(output_dir)


TRUNK_FILE = "trunk.pt"
SAVE_TRUNK_NEEDS = (
    "trainer.save_trunk=true needs a run whose final network has one trunk (regime=multi_task "
    "with model.architecture=hard, or transfer)"
)


def _check_one_trunk(cfg: DictConfig) -> None:
    """Before training: a run of one network per task, or of experts, has no one trunk."""
    one_trunk = ARCHITECTURES.get(cfg.model.architecture).spec.one_trunk
    if cfg.regime.name == "single_task" or not one_trunk:
        raise ConfigError(
            f"{SAVE_TRUNK_NEEDS}; this one is regime={cfg.regime.name}, "
            f"model.architecture={cfg.model.architecture}"
        )


def save_trunk(output_dir: Path, fits: list[FitOutcome]) -> Path:
    """The trunk of the run's final network as a state dict (``trainer.save_trunk``), written
    atomically; its fit's record names the file."""
    final = [f for f in fits if f.in_predictor and f.net is not None]
    trunk = getattr(final[0].net, "trunk", None) if len(final) == 1 else None
    if not isinstance(trunk, torch.nn.Module):
        raise ConfigError(f"{SAVE_TRUNK_NEEDS}; this run has {len(final)} networks")
    state = {k: v.detach().cpu().contiguous() for k, v in trunk.state_dict().items()}
    path = output_dir / TRUNK_FILE
    write_atomic(path, lambda handle: torch.save(state, handle))
    final[-1].notes["trunk_file"] = TRUNK_FILE
    return path


def _finish_cleanup(cfg: DictConfig, output_dir: Path) -> None:
    """What a run killed after writing its ok record left undone: its checkpoints and its
    marker (which would otherwise say "interrupted" beside a finished record forever)."""
    if clear_stale_marker(output_dir) and not cfg.trainer.keep_checkpoints:
        remove_checkpoints(output_dir)


def _error_text(error: BaseException) -> str:
    if isinstance(error, RunInterrupted):
        return str(error)
    name = type(error).__name__
    return f"{name}: {error}" if str(error) else name


def train(
    cfg: DictConfig, output_dir: Path | None = None, overrides: list[str] | None = None
) -> RunResult:
    """Run ``cfg.regime`` and write ``result.json``: status ok, failed with the error, or
    interrupted (SIGTERM, SIGINT: ``RunInterrupted`` is raised on after the record is written).

    A folder that already holds an ok record of this very config is not run again (a
    re-launched sweep skips its finished runs); a failed, killed or changed run is. Under
    ``trainer.seeds_per_fit`` the job may train further seeds of its config with it
    (``tasklab.fit.stacked``), each recorded in its own folder.
    """
    hydra_dir, hydra_overrides = _hydra_context()
    output_dir = Path(output_dir or hydra_dir or Path.cwd())
    overrides = overrides if overrides is not None else hydra_overrides
    with interruptible():
        return _train(cfg, output_dir, overrides)


def _train(cfg: DictConfig, output_dir: Path, overrides: list[str]) -> RunResult:
    key = config_key(cfg)
    done = finished_ok(output_dir, key)
    if done is not None:
        print(f"tasklab-train: skipped (finished earlier): {output_dir}")
        _finish_cleanup(cfg, output_dir)
        fields = set(RunResult.__dataclass_fields__)
        earlier = RunResult(**{k: v for k, v in done.items() if k in fields})
        earlier.skipped = True  # type: ignore[attr-defined]  # not a record field: never written
        return earlier
    group = stacked_group(cfg, output_dir)
    if group:
        stacked = _train_stacked(group)
        if stacked is not None:
            return stacked
    return _train_one(cfg, output_dir, overrides, key)


def _train_one(cfg: DictConfig, output_dir: Path, overrides: list[str], key: str) -> RunResult:
    start = time.perf_counter()
    result = _new_record(cfg, overrides, key)
    # Under DDP every process runs this function; only the first writes the run's files.
    writer = rank_zero_only.rank == 0
    if writer:
        _claim(output_dir, key)
    try:
        _check_processes_in_sweep(cfg)
        world, budgets = _prepare(cfg, result)
        group = cfg.logger.group or cfg.name
        ctx = RunContext(
            cfg=cfg,
            world=world,
            budgets=budgets,
            output_dir=output_dir,
            group=group,
            eval_cache=sweep_eval_cache(cfg.data, world),
        )
        fits = REGIMES.get(cfg.regime.name).target(ctx)
        if cfg.trainer.save_trunk and writer:
            save_trunk(output_dir, fits)
        _record_fits(result, ctx, fits, writer)
    except BaseException as error:  # an interrupt is recorded too, not left as error: null
        result.error = _error_text(error)
        if is_interruption(error):
            result.status = "interrupted"
        raise
    finally:
        if writer:
            _close(result, cfg, output_dir, start)
        else:
            result.wall_time_s = round(time.perf_counter() - start, 3)
    return result


def _train_stacked(members: list[Member]) -> RunResult | None:
    """Train ``members`` (seeds of one config, this job's first) as one stacked model and
    write each one's record; None when the fits cannot be stacked after all (said in one
    line): this job's seed then trains on its own and the others in their own jobs."""
    start = time.perf_counter()
    _claim(members[0].output_dir, config_key(members[0].cfg))  # as a run of its own would
    claimed = [members[0]]
    for member in members[1:]:
        try:
            _claim(member.output_dir, config_key(member.cfg))
            claimed.append(member)
        except RunInProgressError:  # another launch trains that seed now: leave it to it
            continue
    members = claimed
    if len(members) == 1:
        clear_running(members[0].output_dir)
        return None
    keys = [config_key(m.cfg) for m in members]
    results = [_new_record(m.cfg, m.overrides, k) for m, k in zip(members, keys, strict=True)]
    refused = False
    try:
        world, budgets = _prepare(members[0].cfg, results[0])
        for member, result in zip(members[1:], results[1:], strict=True):
            fit_data_to_world(member.cfg.data, world)
            result.config = OmegaConf.to_container(member.cfg, resolve=True)  # type: ignore[assignment]
            result.arm, result.arm_axes = results[0].arm, results[0].arm_axes
            result.arm_keys, result.threads = results[0].arm_keys, results[0].threads
            result.size_keys = results[0].size_keys
            result.reference_arm = results[0].reference_arm
            result.reference_effect = results[0].reference_effect
        group = members[0].cfg.logger.group or members[0].cfg.name
        shared = sweep_eval_cache(members[0].cfg.data, world)  # one rendering for all
        ctxs = [
            RunContext(
                world=world,
                budgets=budgets,
                group=group,
                eval_cache=shared,
                cfg=m.cfg,
                output_dir=m.output_dir,
            )
            for m in members
        ]
        stacked = REGIMES.get(members[0].cfg.regime.name).spec.stacked
        per_fit = stacked(ctxs)
        for k, (ctx, result) in enumerate(zip(ctxs, results, strict=True)):
            outcomes = [fit[k] for fit in per_fit]
            failure = next((o for o in outcomes if isinstance(o, str)), None)
            if failure is not None:
                result.error = failure
            else:
                _record_fits(result, ctx, outcomes, writer=True)  # type: ignore[arg-type]
    except StackingRefused as why:
        refused = True
        print(f"tasklab-train: trainer.seeds_per_fit: {why}; these seeds train one at a time")
    except BaseException as error:
        for result in results:
            if result.status != "ok" and result.error is None:
                result.error = _error_text(error)
                if is_interruption(error):
                    result.status = "interrupted"
        raise
    finally:
        for member, result in zip(members, results, strict=True):
            if refused:
                clear_running(member.output_dir)
            else:
                _close(result, member.cfg, member.output_dir, start, share=len(members))
    if not refused:
        print(
            f"tasklab-train: {len(members)} seeds trained as one stacked model "
            "(trainer.seeds_per_fit); each seed's record holds its share of the time"
        )
    return None if refused else results[0]


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
