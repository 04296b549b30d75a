"""The config schema: the shared settings here, each component's own from the registries.

Registered in Hydra's ConfigStore before composition, so a misspelt key or a value of the
wrong type fails before any training starts. ``data.<world>`` holds one registered world's
settings each; ``regime`` and ``mtl.weighting`` take the settings class of the regime or
weighting chosen (each registered as an option of its group: ``regime=transfer``). Ranges and
allowed values are declared on the fields (``tasklab.settings.setting``) and checked by
``config_checks``; defaults live only here and beside the components, never in YAML.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

from tasklab.models.backbones import POOLS
from tasklab.registry import REGIMES, WEIGHTINGS, WORLDS
from tasklab.settings import setting
from tasklab.weightings import WeightingSettings

# the files trainer.resume_from reads in a run folder (runs/checkpoints.py's layout)
RESUMED_CHECKPOINTS = "checkpoints/*/last.ckpt"

SCHEDULES: tuple[str, ...] = ("constant", "cosine")
ACCELERATORS: tuple[str, ...] = ("auto", "cpu", "gpu", "cuda", "mps")
# Lightning's precision names (and their short aliases)
PRECISIONS: tuple[str, ...] = (
    "32-true",
    "32",
    "16-mixed",
    "16",
    "bf16-mixed",
    "bf16",
    "16-true",
    "bf16-true",
    "64-true",
    "64",
)
MAX_SEED = 2**31 - 1  # every stream of random numbers is keyed by it; negatives would alias


@dataclass
class DataSettings:
    """What every world shares: which tasks, how many labels, batch and evaluation sizes."""

    world: str = "driving"
    world_seed: int = setting(0, low=0, high=MAX_SEED)
    tasks: list[str] = setting(factory=list)
    n_train: int = setting(1000, size=True, doc="training examples per task")
    label_rate: float = setting(1.0, low=0, high=1, doc="the fraction of labels kept")
    # Per-task exceptions to n_train / label_rate; new keys take a +, as in
    # +data.n_train_by_task.car=1000000
    n_train_by_task: dict[str, int] = setting(factory=dict, size=True)
    label_rate_by_task: dict[str, float] = setting(factory=dict)
    batch_size: int = setting(128, above=0)
    n_val: int = setting(1000, above=0)
    n_test: int = setting(4000, above=0)
    materialise_max: int = setting(300_000, low=0)


@dataclass
class ModelConfig:
    backbone: str = "cnn"  # a registered backbone (models/backbones.py)
    width: int = setting(16, above=0)
    depth: int = setting(3, low=0)
    # cnn, cnn1d: avg (global) or grid (4x4 cells, keeps where things are)
    pool: str = setting("avg", choices=POOLS)
    fc_width: int = setting(0, low=0, doc="units of a hidden layer after pooling (cnn)")
    # multi-task sharing: hard (one trunk), mmoe (gated experts), cross_stitch (a trunk per
    # task, mixed after every block); see models/mtl_architectures.py
    architecture: str = "hard"
    n_experts: int = setting(4, above=0, doc="mmoe only")
    # model=torchvision / model=timm: the library's model name (resnet18, efficientnet_b0, …)
    arch: str = ""
    # the trunk's starting weights: a .safetensors / .pt / .pth state dict (its content joins
    # the run's identity), or torchvision:DEFAULT / timm:pretrained (the library's own cache)
    weights: str = setting("", reads=True)
    # checkpoint key prefixes renamed before loading, e.g. {"backbone.": ""}
    weights_prefix: dict[str, str] = setting(factory=dict)


@dataclass
class OptimConfig:
    lr: float = setting(3e-3, above=0)
    weight_decay: float = setting(0.0, low=0)
    # constant, or cosine: the learning rate decays to 0 over each fit's steps (a precise final
    # iterate matters for regression, where no checkpoint is selected)
    schedule: str = setting("constant", choices=SCHEDULES)


@dataclass
class RegimeSettings:
    """What every regime has: its name (``regime=NAME`` sets it)."""

    name: str = "multi_task"


@dataclass
class TrainerConfig:
    max_steps: int = setting(300, above=0)
    # trainer=smoke: every fit of every regime (stage 1, pipeline stages, fine-tuning) takes at
    # most max_steps steps and renders training rows on demand — "does this config run?"
    smoke: bool = False
    accelerator: str = setting("auto", choices=ACCELERATORS)
    devices: int = setting(1, above=0)
    precision: str = setting("32-true", choices=PRECISIONS)
    deterministic: bool = True
    log_every_n_steps: int = setting(50, above=0, identity=False)
    # Validation passes spread evenly over each fit, the last at its end: the report's
    # validation curves. They change no result (tests/test_validation_curves.py).
    validations_per_fit: int = setting(5, low=0, identity=False, doc="0: once, after training")
    val_every_n_steps: int | None = setting(
        None, above=0, doc="null: from validations_per_fit; set, it replaces it"
    )
    progress_bar: bool = setting(True, identity=False)
    progress_refresh_rate: int = setting(20, above=0, identity=False)
    threads: int | None = setting(None, low=1, identity=False, doc="null: torch's default")
    # Optimiser steps per call of Lightning's training loop: its per-call cost (hooks, logger
    # and checkpoint checks) shared by several steps. 0 (auto): the most, up to 16, that keep
    # every logging, validation and checkpoint boundary where it was; results are identical.
    steps_per_call: int = setting(0, low=0, identity=False, doc="0: auto; 1: one per call")
    # In a sweep, up to this many seeds of one config train as one stacked model in the job
    # of the first of them (tasklab.fit.stacked); each seed still gets its own result.json.
    # 0 (auto): 16 where stacking measured faster (MLP and linear networks on a CPU), else 1.
    seeds_per_fit: int = setting(0, low=0, identity=False, doc="0: auto; 1: every seed on its own")
    # a checkpoint every this many steps, resumed from when a killed run is launched again
    # (0: none); a run that ends ok deletes them unless keep_checkpoints
    checkpoint_every_n_steps: int = setting(100, low=0, identity=False)
    keep_checkpoints: bool = setting(False, identity=False)
    # write the final network's trunk weights to <run dir>/trunk.pt: a checkpoint that
    # model.weights or regime.checkpoint (source=checkpoint) can start another run from
    save_trunk: bool = setting(False, identity=False)
    # another run's folder whose kept checkpoints (keep_checkpoints=true) this run's fits start
    # from, e.g. to train a finished run further with a larger max_steps
    resume_from: str | None = setting(None, reads=RESUMED_CHECKPOINTS)
    # one run over several processes, GPUs or nodes (trainer=ddp): a Lightning strategy
    strategy: str = "auto"
    num_nodes: int = setting(1, above=0)


@dataclass
class LoggerConfig:
    wandb: bool = setting(True, identity=False)
    wandb_mode: str = setting("offline", choices=("offline", "online", "disabled"), identity=False)
    project: str = setting("tasklab", identity=False)
    group: str | None = setting(None, identity=False)
    csv: bool = setting(True, identity=False)


@dataclass
class MtlConfig:
    weighting: WeightingSettings = field(default_factory=WeightingSettings)
    # inter-task affinity by lookahead (tasklab.fit.affinity), measured every this many steps of
    # a fit of several tasks and kept in the run record; it changes no result (tested)
    affinity_every: int = setting(0, low=0, identity=False, doc="0: not measured")


@dataclass
class TrainSettings:
    name: str = "default"
    seed: int = setting(0, low=0, high=MAX_SEED)
    # the metric a hyperparameter search (hparams_search=...) optimises
    objective: str = setting("val/mean/auroc", identity=False)
    regime: RegimeSettings = field(default_factory=RegimeSettings)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    mtl: MtlConfig = field(default_factory=MtlConfig)


@functools.cache
def data_schema() -> type:
    """``DataSettings`` with one field per registered world, ``data.<world>`` (built once:
    Hydra merges nodes of one class only)."""
    worlds = [(w.name, w.settings, field(default_factory=w.settings)) for w in WORLDS]
    schema = dataclasses.make_dataclass("DataConfig", worlds, bases=(DataSettings,))
    schema.__module__ = __name__  # pickled configs (joblib workers) find it through __getattr__
    return schema


@functools.cache
def train_schema() -> type:
    """The root schema: ``TrainSettings`` with the data schema of the registered worlds."""
    data = data_schema()
    fields: list[Any] = [("data", data, field(default_factory=data))]
    schema = dataclasses.make_dataclass("TrainConfig", fields, bases=(TrainSettings,))
    schema.__module__ = __name__
    return schema


def __getattr__(name: str) -> type:
    """``tasklab.config.DataConfig`` / ``TrainConfig``: the schemas built from the registries."""
    if name == "DataConfig":
        return data_schema()
    if name == "TrainConfig":
        return train_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register_configs() -> None:
    """Register the schemas the YAML files extend, and each registered regime and loss
    weighting as an option of its group (called before Hydra composes)."""
    store = ConfigStore.instance()
    store.store(name="train_schema", node=train_schema())
    store.store(group="data", name="data_schema", node=data_schema())
    store.store(group="model", name="model_schema", node=ModelConfig)
    store.store(group="trainer", name="trainer_schema", node=TrainerConfig)
    store.store(group="logger", name="logger_schema", node=LoggerConfig)
    for regime in REGIMES:
        settings = regime.settings or RegimeSettings
        store.store(group="regime", name=regime.name, node=settings(name=regime.name))
    for weighting in WEIGHTINGS:
        settings = weighting.settings or WeightingSettings
        store.store(group="mtl/weighting", name=weighting.name, node=settings(name=weighting.name))
