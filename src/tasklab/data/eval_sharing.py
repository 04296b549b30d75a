"""Validation and test rows rendered once per sweep, not once per run.

A sweep run by the in-process launcher trains many runs of one world one after another; their
validation and test splits depend on the world alone (its settings and ``world_seed``), never
on a run's seed, sizes or regime. Keeping the last world's rendered splits lets the next run of
the same world reuse them (the driving world renders 5,000 evaluation scenes in ~2.5 s). Only
one world is kept, so memory stays that of one run's evaluation data. A world read from files
(``FiniteWorld``) is not shared: its file could change between runs.
"""

from __future__ import annotations

import json

from omegaconf import DictConfig, OmegaConf

from tasklab.data.batches import EvalCache
from tasklab.data.world import FiniteWorld, World

# data settings that choose a run's training rows or batches, never what the world renders
_PER_RUN = ("n_train", "label_rate", "batch_size", "materialise_max", "n_val", "n_test")

_last: tuple[str, EvalCache] | None = None


def sweep_eval_cache(data: DictConfig, world: World) -> EvalCache:
    """The evaluation cache for a run of ``world`` (built from ``data``): the previous run's,
    when it was of the same world, else a new one that replaces it."""
    global _last
    if isinstance(world, FiniteWorld):
        return {}
    settings = OmegaConf.to_container(data, resolve=True)
    assert isinstance(settings, dict)
    key = json.dumps(
        {k: v for k, v in settings.items() if k not in _PER_RUN}, sort_keys=True, default=str
    )
    if _last is None or _last[0] != key:
        _last = (key, {})
    return _last[1]
