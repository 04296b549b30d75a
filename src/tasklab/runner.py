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
from tasklab.data.registry import build_world, fit_data_to_world, task_budgets
from tasklab.metrics import with_task_means
from tasklab.predictions import PREDICTIONS_FILE, matching_predictions, save_predictions
from tasklab.regimes import describe_arm
from tasklab.regimes.fitting import FitOutcome, RunContext, set_threads
from tasklab.registry import REGIMES
from tasklab.report.example_metrics import reproduces
from tasklab.results import (
    RunResult,
    git_state,
    package_versions,
    remove_temporaries,
    source_digest,
    write_result,
)
from tasklab.runs.checkpoints import claim_checkpoints, remove_checkpoints
from tasklab.runs.ids import config_key, register_run_id_resolver
from tasklab.runs.markers import (
    claim_running,
    clear_running,
    finished_ok,
)
from tasklab.runs.threads import job_threads

register_run_id_resolver()  # launcher workers import this module and resolve run ids


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


def train(
    cfg: DictConfig, output_dir: Path | None = None, overrides: list[str] | None = None
) -> RunResult:
    """Run ``cfg.regime`` and write ``result.json`` (status ok, or failed with the error).

    A folder that already holds an ok record of this very config is not run again (a
    re-launched sweep skips its finished runs); a failed, killed or changed run is.
    """
    hydra_dir, hydra_overrides = _hydra_context()
    output_dir = Path(output_dir or hydra_dir or Path.cwd())
    overrides = overrides if overrides is not None else hydra_overrides
    composed = OmegaConf.to_container(cfg, resolve=True)
    key = config_key(cfg)
    done = finished_ok(output_dir, key)
    if done is not None:
        print(f"tasklab-train: {output_dir} already holds this run (status ok); skipped")
        fields = set(RunResult.__dataclass_fields__)
        return RunResult(**{k: v for k, v in done.items() if k in fields})
    start = time.perf_counter()
    result = RunResult(
        status="failed",
        name=cfg.name,
        regime=cfg.regime.name,
        seed=cfg.seed,
        overrides=overrides,
        config=composed,  # type: ignore[arg-type]
        config_key=key,
        versions=package_versions(),
        git=git_state(),
        source_digest=source_digest(),
    )
    # Under DDP every process runs this function; only the first writes the run's files.
    writer = rank_zero_only.rank == 0
    if writer:
        claim_running(output_dir)
        remove_temporaries(output_dir)  # of a record or predictions a kill cut short
        claim_checkpoints(output_dir, key)
    try:
        _check_processes_in_sweep(cfg)
        world = build_world(cfg.data, verbose=True)
        fit_data_to_world(cfg.data, world)
        result.config = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
        check_config(cfg, world)
        result.arm, result.arm_axes, result.arm_keys = describe_arm(cfg)
        set_threads(job_threads(cfg.trainer.threads, _launcher_config()))
        result.threads = torch.get_num_threads()
        budgets = task_budgets(cfg.data)
        group = cfg.logger.group or cfg.name
        ctx = RunContext(cfg=cfg, world=world, budgets=budgets, output_dir=output_dir, group=group)
        fits = REGIMES.get(cfg.regime.name).target(ctx)
        result.metrics, result.params, labelled = _summarise(fits)
        result.data = {
            "world": cfg.data.world,
            "n_train": {t: b.n_train for t, b in budgets.items()},
            "label_rate": {t: b.label_rate for t, b in budgets.items()},
            "n_labelled": labelled,
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
            result.predictions = _keep_predictions(output_dir, fits, result.metrics)
        result.status = "ok"
    except BaseException as error:  # an interrupt is recorded too, not left as error: null
        name = type(error).__name__
        result.error = f"{name}: {error}" if str(error) else name
        raise
    finally:
        result.wall_time_s = round(time.perf_counter() - start, 3)
        if writer:
            write_result(output_dir, result)  # on disk before the checkpoints may go
            if result.status == "ok" and not cfg.trainer.keep_checkpoints:
                remove_checkpoints(output_dir)
            clear_running(output_dir)
    return result


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
