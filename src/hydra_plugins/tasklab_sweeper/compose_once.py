"""Hydra's basic sweeper, composing each job's config once instead of twice: tasklab-train's
``hydra/sweeper=basic`` (``use_compose_once_sweeper``).

The basic sweeper composes every job of a batch before launching any (a bad override fails
the sweep before anything trains), and the basic launcher then composes each job again as it
runs it: ~0.15 s a job for tasklab's configs, twice. This sweeper keeps the first composition
and hands it to the in-process launcher; launchers that run jobs elsewhere (joblib, submitit)
compose as before. Everything else — grid expansion, batches, ``multirun.yaml`` — is the
basic sweeper's own. This module is found by Hydra's plugin scan of ``hydra_plugins`` in any
Hydra app, so it imports Hydra only (and no ``from __future__ import annotations``: the scan
builds the config dataclass before the module is registered, where string annotations fail).
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class ComposeOnceSweeperConf:
    _target_: str = "hydra_plugins.tasklab_sweeper.compose_once.ComposeOnceSweeper"
    max_batch_size: int | None = None
    params: dict[str, str] | None = None


def use_compose_once_sweeper() -> None:
    """Make ``hydra/sweeper=basic`` (Hydra's default) this sweeper, in this process only.
    Hydra's plugin scan re-registers the basic sweeper's config, so the scan runs first (it
    runs once per process; Hydra would run it anyway). Not a config-group override: one in
    the primary config would shadow every experiment's ``override /hydra/sweeper``."""
    Plugins.instance()
    ConfigStore.instance().store(
        group="hydra/sweeper", name="basic", node=ComposeOnceSweeperConf, provider="tasklab"
    )


# A composed tasklab config holds ~0.6 MB (measured with tracemalloc); the first this many
# jobs of a batch keep theirs (~40 MB), the rest are composed again when they run.
KEEP_AT_MOST = 64


class _KeptConfigs:
    """A config loader that answers a job's composition from the one the sweeper kept (once
    each), and passes everything else to Hydra's loader."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader
        self._kept: dict[tuple[str, ...], DictConfig] = {}

    def keep(self, overrides: Sequence[str], config: DictConfig) -> None:
        self._kept[tuple(overrides)] = config

    def load_sweep_config(
        self, master_config: DictConfig, sweep_overrides: list[str]
    ) -> DictConfig:
        kept = self._kept.pop(tuple(sweep_overrides), None)
        if kept is not None:
            return kept
        return self._loader.load_sweep_config(master_config, sweep_overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class ComposeOnceSweeper(BasicSweeper):
    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self._kept: _KeptConfigs | None = None
        if type(self.launcher) is BasicLauncher:  # jobs run in this process, one by one
            self._kept = _KeptConfigs(hydra_context.config_loader)
            self.launcher.hydra_context = dataclasses.replace(
                hydra_context, config_loader=self._kept
            )

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Every job of the batch composed before any runs, as the basic sweeper does; the
        first ``KEEP_AT_MOST`` compositions are kept for the launcher."""
        if self._kept is None:
            super().validate_batch_is_legal(batch)
            return
        assert self.hydra_context is not None and self.config is not None
        for index, overrides in enumerate(batch):
            config = self.hydra_context.config_loader.load_sweep_config(
                master_config=self.config, sweep_overrides=list(overrides)
            )
            if index < KEEP_AT_MOST:
                self._kept.keep(overrides, config)
