"""Structured configs: the schema every composed config is checked against.

Registered in Hydra's ConfigStore and named first in each YAML's defaults list, so a misspelt
key or a value of the wrong type fails at composition, before any training starts. Range and
cross-field checks (a label rate outside [0, 1], an unknown task) live in ``config_checks``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class DrivingWorldConfig:
    image_size: int = 32
    noise_std: float = 0.10
    n_clutter: int = 4
    presence_prob: float = 0.5
    min_object_size: float = 0.22
    max_object_size: float = 0.40
    colour_jitter: float = 0.10
    decoy_rate: float = 0.0
    rim_contrast: float = 1.0


@dataclass
class VectorWorldConfig:
    n_features: int = 32
    n_hidden: int = 16
    n_tasks: int = 4
    label_noise: float = 0.05


@dataclass
class BoneAgeWorldConfig:
    image_size: int = 32
    noise_std: float = 0.08
    age_min: float = 1.0
    age_max: float = 18.0
    size_sd: float = 0.15
    bone_sd: float = 0.02
    plate_gap: float = 0.05
    plate_closure_age: float = 15.0


@dataclass
class FaceIdWorldConfig:
    image_size: int = 48
    n_identities: int = 10
    min_face: float = 0.22
    max_face: float = 0.30
    identity_jitter: float = 0.25
    n_clutter: int = 8
    noise_std: float = 0.06
    crop_size: int = 16
    body_cue: float = 0.3


@dataclass
class FilesDataConfig:
    """A user's data (``data=files``); the README's "Bring your own data" shows the formats.

    ``train`` alone is one file split by the fractions below (seeded by ``split_seed``); a
    ``val`` or ``test`` file replaces that part of the split. Paths are relative to the
    directory the command runs in.
    """

    train: str = ""
    val: str = ""
    test: str = ""
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    split_seed: int = 0
    # .csv: the label columns (tasks), z columns (intermediates) and input columns (features;
    # empty: every other column). .npz: every y_<task> / z_<name> array is read.
    tasks: list[str] = field(default_factory=list)
    intermediates: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    # per task: binary, multiclass or regression, and a class count; the rest is inferred
    kinds: dict[str, str] = field(default_factory=dict)
    num_classes: dict[str, int] = field(default_factory=dict)
    input_shape: list[int] = field(default_factory=list)  # checked against the file; []: any
    stratify: str = ""  # a class task whose proportions every training subset keeps
    mmap_min_mb: float = 256.0  # uncompressed .npz inputs this large are memory-mapped


@dataclass
class DataConfig:
    world: str = "driving"
    world_seed: int = 0
    tasks: list[str] = field(default_factory=list)
    n_train: int = 1000
    label_rate: float = 1.0
    # Per-task exceptions to n_train / label_rate; new keys take a +, as in
    # +data.n_train_by_task.car=1000000
    n_train_by_task: dict[str, int] = field(default_factory=dict)
    label_rate_by_task: dict[str, float] = field(default_factory=dict)
    batch_size: int = 128
    n_val: int = 1000
    n_test: int = 4000
    materialise_max: int = 300_000
    driving: DrivingWorldConfig = field(default_factory=DrivingWorldConfig)
    vectors: VectorWorldConfig = field(default_factory=VectorWorldConfig)
    bone_age: BoneAgeWorldConfig = field(default_factory=BoneAgeWorldConfig)
    face_id: FaceIdWorldConfig = field(default_factory=FaceIdWorldConfig)
    files: FilesDataConfig = field(default_factory=FilesDataConfig)


@dataclass
class ModelConfig:
    backbone: str = "cnn"
    width: int = 16
    depth: int = 3
    pool: str = "avg"  # cnn only: avg (global) or grid (4x4 cells, keeps where things are)
    fc_width: int = 0  # cnn only: units of a hidden fully connected block after pooling
    # multi-task sharing: hard (one trunk), mmoe (gated experts), cross_stitch (a trunk per
    # task, mixed after every block); see models/mtl_architectures.py
    architecture: str = "hard"
    n_experts: int = 4  # mmoe only


@dataclass
class OptimConfig:
    lr: float = 3e-3
    weight_decay: float = 0.0
    # constant, or cosine: the learning rate decays to 0 over each fit's steps (a precise final
    # iterate matters for regression, where no checkpoint is selected)
    schedule: str = "constant"


@dataclass
class RegimeConfig:
    name: str = "multi_task"


@dataclass
class TransferRegimeConfig(RegimeConfig):
    """Stage 1 pre-trains on ``source_tasks`` with ``n_source`` examples; stage 2 trains on
    ``data.tasks`` with ``data.n_train`` examples (the target budget) from the stage-1 trunk."""

    name: str = "transfer"
    source_tasks: list[str] = field(
        default_factory=lambda: ["pedestrian", "car", "stop_sign", "traffic_light"]
    )
    n_source: int = 100_000  # 0: no pre-training, the scratch arm
    source: str = "related"  # related, or control: the same images with other images' labels
    # Overrides of the data config for the source world only, e.g. {driving: {noise_std: 0.4}}
    # for a source with other rendering statistics; its inputs must have the target's shape.
    source_data: dict[str, Any] = field(default_factory=dict)
    mode: str = "full"  # full, linear_probe (trunk frozen), partial (first frozen_blocks frozen)
    frozen_blocks: int = 1
    trunk_lr_scale: float = 1.0  # the fine-tuned trunk learns at optim.lr times this
    # Stage-1 steps: source_epochs passes over n_source, at least source_min_steps, at most
    # source_max_steps (0: no cap).
    source_epochs: float = 1.0
    source_min_steps: int = 500
    source_max_steps: int = 0
    cache_dir: str = "cache/stage1"


@dataclass
class PipelineRegimeConfig(RegimeConfig):
    """x → y learned directly, or through an intermediate z (``regimes/pipeline.py``).

    ``data.n_train`` is the number of end-to-end (x, y) pairs; the sub-steps have their own,
    usually larger, amounts: ``n_stage1`` inputs labelled with z, ``n_stage2`` (z, y) records.
    """

    name: str = "pipeline"
    arm: str = "end_to_end"  # end_to_end, staged, hybrid, staged_finetune, oracle_z
    n_stage1: int = 20_000
    n_stage2: int = 20_000
    stage1_steps: int = 2000
    stage2_steps: int = 2000
    # Stage 2's network (z → y, or crop → y); stage 1 and end-to-end networks use model.*
    stage2_model: ModelConfig = field(
        default_factory=lambda: ModelConfig(backbone="mlp", width=64, depth=2)
    )
    aux_weight: float = 1.0  # hybrid: weight of the auxiliary z loss against the target's
    # hybrid: share of every batch given to the (x, y) pairs (0: all rows sampled alike, and
    # a few pairs among many z-labelled inputs are then seen a handful of times in a fit)
    pair_share: float = 0.5
    finetune_lr_scale: float = 0.1  # staged_finetune: the composed stages learn at lr × this
    cache_dir: str = "cache/stages"


@dataclass
class TrainerConfig:
    max_steps: int = 300
    accelerator: str = "auto"
    devices: int = 1
    precision: str = "32-true"
    deterministic: bool = True
    log_every_n_steps: int = 50
    val_every_n_steps: int | None = None
    progress_bar: bool = True
    progress_refresh_rate: int = 20
    threads: int | None = None
    # a checkpoint every this many steps, resumed from when a killed run is launched again
    # (0: none); a run that ends ok deletes them unless keep_checkpoints
    checkpoint_every_n_steps: int = 100
    keep_checkpoints: bool = False
    # another run's folder whose kept checkpoints (keep_checkpoints=true) this run's fits start
    # from, e.g. to train a finished run further with a larger max_steps
    resume_from: str | None = None
    # one run over several processes, GPUs or nodes (trainer=ddp): a Lightning strategy
    strategy: str = "auto"
    num_nodes: int = 1


@dataclass
class LoggerConfig:
    wandb: bool = True
    wandb_mode: str = "offline"
    project: str = "tasklab"
    group: str | None = None
    csv: bool = True


@dataclass
class WeightingConfig:
    """How a multi-task fit weighs its task losses (``tasklab/weighting.py``)."""

    name: str = "equal"  # equal, static, uncertainty, dwa, gradnorm, pcgrad
    weights: dict[str, float] = field(default_factory=dict)  # static: one per task
    period: int = 50  # dwa: steps per window (the paper's epoch)
    temperature: float = 2.0  # dwa: softmax temperature
    alpha: float = 1.5  # gradnorm: how strongly slower tasks are pushed
    lr_scale: float = 1.0  # uncertainty, gradnorm: learned weights train at optim.lr × this


@dataclass
class MtlConfig:
    weighting: WeightingConfig = field(default_factory=WeightingConfig)


@dataclass
class TrainConfig:
    name: str = "default"
    seed: int = 0
    # the metric a hyperparameter search (hparams_search=...) optimises
    objective: str = "val/mean/auroc"
    regime: RegimeConfig = field(default_factory=RegimeConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    mtl: MtlConfig = field(default_factory=MtlConfig)


def register_configs() -> None:
    """Register the schemas that ``conf/*.yaml`` extend (called before Hydra composes)."""
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    store.store(group="data", name="data_schema", node=DataConfig)
    store.store(group="model", name="model_schema", node=ModelConfig)
    store.store(group="regime", name="regime_schema", node=RegimeConfig)
    store.store(group="regime", name="transfer_schema", node=TransferRegimeConfig)
    store.store(group="regime", name="pipeline_schema", node=PipelineRegimeConfig)
    store.store(group="trainer", name="trainer_schema", node=TrainerConfig)
    store.store(group="logger", name="logger_schema", node=LoggerConfig)
    store.store(group="mtl/weighting", name="weighting_schema", node=WeightingConfig)
