"""What determines the weights of a fit: the fields a cached stage's key is made of.

By the identity policy of ``runs/ids.py``: the settings that differ from their declared
defaults, plus ``TRAINING_VERSION``; a user's files by their content (``world_knobs``: the
paths declared ``reads=`` carry their fingerprints).
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from tasklab.fit.fitting import bounded_steps
from tasklab.runs.ids import TRAINING_VERSION, identity


def fit_fields(cfg: DictConfig, data: DictConfig, model: DictConfig, steps: int) -> dict[str, Any]:
    """What determines the weights of a fit on ``data``'s world with ``model`` for ``steps``
    steps (the part of a cached stage's key that every kind of stage shares)."""
    return {
        "world": data.world,
        "world_seed": data.world_seed,
        "world_knobs": identity(data[data.world]),
        "model": identity(model),
        "optim": identity(cfg.optim),
        "schedule": {
            "steps": bounded_steps(cfg, steps),  # a smoke run's stage is not the real one
            "batch_size": data.batch_size,
            "precision": cfg.trainer.precision,
        },
        "seed": cfg.seed,
        "version": TRAINING_VERSION,
    } | (
        # a weighting other than equal changes what a multi-task fit learns
        {"mtl": identity(cfg.mtl)} if cfg.mtl.weighting.name != "equal" else {}
    )
