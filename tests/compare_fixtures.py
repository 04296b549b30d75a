"""A sweep directory with known numbers, for the tasklab-compare tests.

``mtl_sweep`` writes a multi- vs single-task learning curve over three training sizes and four
seeds, with two tasks, where multi-task is better at 100 and 1,000 examples and single-task at
10,000 (so the curves cross between 1,000 and 10,000), plus one record of each kind that must
be skipped with its reason: unreadable JSON, a failed run, a record cut short, and a job folder
whose run never wrote one. ``transfer_sweep`` writes scratch, a helpful and a harmful source at
two target sizes.
"""

from __future__ import annotations

from pathlib import Path

from tasklab.results import RunResult, write_result

SEEDS = (0, 1, 2, 3)
SIZES = (100, 1000, 10000)
# size -> arm -> task -> values by seed
MTL_VALUES = {
    100: {
        "single_task": {"a": [0.60, 0.62, 0.58, 0.61], "b": [0.70, 0.69, 0.72, 0.70]},
        "multi_task": {"a": [0.66, 0.67, 0.65, 0.68], "b": [0.74, 0.73, 0.75, 0.74]},
    },
    1000: {
        "single_task": {"a": [0.75, 0.77, 0.74, 0.76], "b": [0.80, 0.81, 0.79, 0.80]},
        "multi_task": {"a": [0.78, 0.79, 0.77, 0.78], "b": [0.82, 0.82, 0.81, 0.82]},
    },
    10000: {
        "single_task": {"a": [0.92, 0.93, 0.91, 0.92], "b": [0.95, 0.94, 0.95, 0.96]},
        "multi_task": {"a": [0.88, 0.89, 0.87, 0.88], "b": [0.91, 0.91, 0.90, 0.91]},
    },
}
TRANSFER_VALUES = {  # n_target -> arm -> values by seed
    100: {
        "scratch": [0.60, 0.65, 0.62, 0.63],
        "related/full n_source=10000": [0.70, 0.74, 0.73, 0.72],
        "control/full n_source=10000": [0.50, 0.55, 0.51, 0.52],
    },
    1000: {
        "scratch": [0.80, 0.82, 0.81, 0.80],
        "related/full n_source=10000": [0.83, 0.84, 0.84, 0.83],
        "control/full n_source=10000": [0.78, 0.80, 0.79, 0.77],
    },
}


def _config(n_train: int, logger_wandb: bool = False) -> dict:
    return {
        "data": {"n_train": n_train, "label_rate": 1.0},
        "logger": {"wandb": logger_wandb, "wandb_mode": "offline", "project": "tasklab"},
    }


DECLARED_SIZES = ("data.n_train", "data.n_train_by_task", "regime.n_source")
# what each regime declares as its reference arm and effect (tasklab.registry.RegimeSpec)
DECLARED_REFERENCES = {
    "multi_task": ("single_task", "delta_m"),
    "single_task": ("single_task", "delta_m"),
    "transfer": ("scratch", "gain"),
    "pipeline": ("end_to_end", ""),
}


def write_ok(folder: Path, name: str, arm: str, seed: int, overrides: list[str], **fields) -> None:
    """A finished run's record: ``arm`` is also its regime unless ``regime`` is given."""
    fields.setdefault("regime", arm)
    fields.setdefault("size_keys", list(DECLARED_SIZES))  # as the runner declares them
    reference, effect = DECLARED_REFERENCES.get(fields["regime"], ("", ""))
    fields.setdefault("reference_arm", reference)
    fields.setdefault("reference_effect", effect)
    result = RunResult(
        status="ok",
        name=name,
        seed=seed,
        arm=arm,
        overrides=[*overrides, f"seed={seed}"],
        **fields,
    )
    write_result(folder, result)


def mtl_sweep(root: Path, logger_wandb: bool = False) -> Path:
    job = 0
    for size, arms in MTL_VALUES.items():
        for arm, tasks in arms.items():
            for i, seed in enumerate(SEEDS):
                metrics = {f"test/{task}/auroc": values[i] for task, values in tasks.items()}
                metrics["test/mean/auroc"] = sum(metrics.values()) / len(tasks)
                write_ok(
                    root / str(job),
                    "mtl_curve",
                    arm,
                    seed,
                    [f"regime={arm}", f"data.n_train={size}"],
                    arm_axes=["regime"],
                    metrics=metrics,
                    config=_config(size, logger_wandb),
                )
                job += 1
    (root / "broken").mkdir()
    (root / "broken" / "result.json").write_text('{"status": "ok", "metr')
    failed = RunResult(status="failed", name="mtl_curve", regime="multi_task", seed=7)
    failed.error = "ConfigError: data.label_rate=7.0 is outside [0, 1]"
    write_result(root / "failed", failed)
    (root / "partial").mkdir()
    (root / "partial" / "result.json").write_text('{"status": "ok", "name": "mtl_curve"}')
    (root / "killed" / ".hydra").mkdir(parents=True)
    (root / "killed" / ".hydra" / "config.yaml").write_text("seed: 5\n")
    return root


def transfer_sweep(root: Path) -> Path:
    job = 0
    axes = ["regime.n_source", "regime.source", "regime.mode"]
    for n_target, arms in TRANSFER_VALUES.items():
        for arm, values in arms.items():
            for seed, value in zip(SEEDS, values, strict=True):
                source = arm.split("/")[0] if arm != "scratch" else "related"
                n_source = 0 if arm == "scratch" else 10000
                overrides = [
                    f"regime.n_source={n_source}",
                    f"regime.source={source}",
                    f"data.n_train={n_target}",
                ]
                write_ok(
                    root / str(job),
                    "transfer_curve",
                    arm,
                    seed,
                    overrides,
                    regime="transfer",
                    arm_axes=axes,
                    arm_keys=[] if arm == "scratch" else axes,
                    metrics={"test/mean/auroc": value, "test/t/auroc": value},
                    config=_config(n_target),
                )
                job += 1
    return root
