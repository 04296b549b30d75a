"""``tasklab-train``: the Hydra app that runs one regime and writes its ``result.json``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from tasklab.config import register_configs
from tasklab.config_checks import ConfigError, check_choice, check_config
from tasklab.data.file_arrays import DataFileError
from tasklab.data.registry import WORLDS, build_world, fit_data_to_world, task_budgets
from tasklab.metrics import with_task_means
from tasklab.regimes import REGIME_CHECKS, REGIMES, describe_arm
from tasklab.regimes.fitting import FitOutcome, RunContext, set_threads
from tasklab.results import RunResult, git_state, package_versions, write_result

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def _hydra_context() -> tuple[Path | None, list[str]]:
    if not HydraConfig.initialized():
        return None, []
    hc = HydraConfig.get()
    return Path(hc.runtime.output_dir), list(hc.overrides.task)


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


def train(
    cfg: DictConfig, output_dir: Path | None = None, overrides: list[str] | None = None
) -> RunResult:
    """Run ``cfg.regime`` and write ``result.json`` (status ok, or failed with the error)."""
    hydra_dir, hydra_overrides = _hydra_context()
    output_dir = Path(output_dir or hydra_dir or Path.cwd())
    overrides = overrides if overrides is not None else hydra_overrides
    start = time.perf_counter()
    result = RunResult(
        status="failed",
        name=cfg.name,
        regime=cfg.regime.name,
        seed=cfg.seed,
        overrides=overrides,
        config=OmegaConf.to_container(cfg, resolve=True),  # type: ignore[arg-type]
        versions=package_versions(),
        git=git_state(),
    )
    try:
        check_choice("data.world", cfg.data.world, WORLDS)
        world = build_world(cfg.data, verbose=True)
        fit_data_to_world(cfg.data, world)
        result.config = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
        check_config(cfg, world, tuple(REGIMES))
        if cfg.regime.name in REGIME_CHECKS:
            REGIME_CHECKS[cfg.regime.name](cfg, world)
        result.arm, result.arm_axes = describe_arm(cfg)
        set_threads(cfg.trainer.threads)
        budgets = task_budgets(cfg.data)
        group = cfg.logger.group or cfg.name
        ctx = RunContext(cfg=cfg, world=world, budgets=budgets, output_dir=output_dir, group=group)
        fits = REGIMES[cfg.regime.name](ctx)
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
                **f.notes,
            }
            for f in fits
        ]
        result.status = "ok"
    except BaseException as error:  # an interrupt is recorded too, not left as error: null
        name = type(error).__name__
        result.error = f"{name}: {error}" if str(error) else name
        raise
    finally:
        result.wall_time_s = round(time.perf_counter() - start, 3)
        write_result(output_dir, result)
    return result


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    try:
        result = train(cfg)
    except (ConfigError, DataFileError) as error:
        # A bad value or data file is the user's to fix: one line, no traceback, non-zero exit.
        print(f"tasklab-train: error: {error}", file=sys.stderr)
        sys.exit(2)
    return result.metrics.get("val/mean/auroc")


def main() -> None:
    register_configs()
    _hydra_main()


if __name__ == "__main__":
    main()
