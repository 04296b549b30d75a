"""The jobs a sweep asked for, recomputed from the ``multirun.yaml`` Hydra saved beside them.

Hydra's basic sweeper expands the sweep's parameters (the experiment file's
``hydra.sweeper.params``, then the command line) into a grid; each job's folder is the hash of
its sorted overrides (``tasklab.runs.ids``). Using Hydra's own parser, expansion and
``override_dirname`` keeps this in step with what the launch did (hydra-core is pinned below
1.4, whose internals these are). A search sweeper (Optuna) draws its jobs as it goes and saves
no ``multirun.yaml``: its runs are listed as found, without a plan.
"""

from __future__ import annotations

from pathlib import Path

from hydra._internal.config_loader_impl import get_overrides_dirname
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from tasklab.runs.ids import register_run_id_resolver, run_id

MULTIRUN_FILE = "multirun.yaml"
# Hydra's basic sweeper, and tasklab's (the same grid, each job composed once)
_GRID_SWEEPERS = (
    "hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
    "hydra_plugins.tasklab_sweeper.compose_once.ComposeOnceSweeper",
)


def grid_jobs(hydra_cfg: DictConfig) -> dict[str, list[str]]:
    params = [f"{k}={v}" for k, v in (hydra_cfg.sweeper.get("params") or {}).items()]
    parser = OverridesParser.create()
    parsed = parser.parse_overrides([*params, *hydra_cfg.overrides.task])
    (batch,) = BasicSweeper.split_arguments(parsed, None)
    naming = hydra_cfg.job.config.override_dirname
    jobs = {}
    for overrides in batch:
        dirname = get_overrides_dirname(
            parser.parse_overrides(overrides),
            exclude_keys=list(naming.exclude_keys),
            item_sep=naming.item_sep,
            kv_sep=naming.kv_sep,
        )
        jobs[run_id(dirname)] = list(overrides)
    return jobs


def sweep_plan(sweep_dir: Path) -> dict[str, list[str]] | None:
    """The run folders the last grid launch into ``sweep_dir`` asked for, each with its
    overrides; None without a ``multirun.yaml`` of Hydra's basic sweeper."""
    path = Path(sweep_dir) / MULTIRUN_FILE
    if not path.is_file():
        return None
    register_run_id_resolver()  # the saved config names job folders through tasklab's resolvers
    hydra_cfg = OmegaConf.load(path).hydra
    return grid_jobs(hydra_cfg) if hydra_cfg.sweeper.get("_target_") in _GRID_SWEEPERS else None
