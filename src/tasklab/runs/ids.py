"""Names that make a sweep idempotent: a run's folder follows from what was asked for.

A job's folder is a hash of its overrides (Hydra's ``override_dirname``: the job's overrides,
sorted), so launching the same sweep again lands every job in the folder of its earlier run
and can skip it; a job's record also keeps a hash of its whole composed config, so a run is
only skipped when the config it would train is the one it trained.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

RUN_ID_RESOLVER = "tasklab_run_id"
RUN_ID_LENGTH = 12


def run_id(override_dirname: str) -> str:
    """The folder name of the job with these (sorted, joined) overrides."""
    return hashlib.sha256(str(override_dirname).encode("utf-8")).hexdigest()[:RUN_ID_LENGTH]


def register_run_id_resolver() -> None:
    """``${tasklab_run_id:${hydra.job.override_dirname}}`` in ``hydra.sweep.subdir``.

    Registered on import of ``tasklab.train``, so the workers of the joblib and submitit
    launchers (which import the task function) resolve it too.
    """
    if not OmegaConf.has_resolver(RUN_ID_RESOLVER):
        OmegaConf.register_new_resolver(RUN_ID_RESOLVER, run_id)


def config_key(cfg: DictConfig | dict[str, Any]) -> str:
    """A hash of the composed, resolved config: equal exactly when two runs train alike."""
    container = cfg if isinstance(cfg, dict) else OmegaConf.to_container(cfg, resolve=True)
    text = json.dumps(container, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
