"""Time ``tasklab-compare`` on 10,000 result files against the floor of merely reading them.

Writes a sweep of realistic records (the resolved config of a real transfer run, 24 metrics
each) — 8 arms × 5 target sizes × 25 learning rates × 10 seeds = 10,000 runs — then times,
side by side in one process: a plain loop of ``json.load`` over the files, the comparison
without fitted curves (``--no-curves``: reading, grouping, intervals, verdicts, CSV,
Markdown, PNG plots and report.html; W&B off), and the whole comparison (with fitted learning
curves on the declared size axis, their draws, crossovers and data units). Target: the
curves add at most half, a ratio of 1.5.

    python scripts/bench_compare.py [--learning-rates 25] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from tasklab.report.compare import main as compare
from tasklab.results import RESULT_FILE, RunResult, write_result

ARMS = ["scratch"] + [
    f"{source}/{mode} n_source={n}"
    for source, mode, n in [
        ("related", "full", 1000),
        ("related", "full", 100000),
        ("related", "linear_probe", 1000),
        ("related", "linear_probe", 100000),
        ("related", "partial(k=2)", 100000),
        ("control", "full", 100000),
        ("control", "linear_probe", 100000),
    ]
]
SIZES = (100, 300, 1000, 3000, 10000)
SEEDS = range(10)
CURVES_RATIO = 1.5  # the fitted curves, crossovers and data units may add half


def _config(n_train: int, lr: float) -> dict:
    """Shaped like a real record's resolved config (about 2 KB of JSON)."""
    return {
        "name": "bench_transfer",
        "seed": 0,
        "data": {
            "world": "driving",
            "tasks": ["ped_left_of_car"],
            "n_train": n_train,
            "n_val": 2000,
            "n_test": 4000,
            "label_rate": 1.0,
            "batch_size": 128,
            "n_train_by_task": {},
            "label_rate_by_task": {},
            "driving": {"decoy_rate": 0.5, "rim_contrast": 0.3, "noise_std": 0.1, "size": 32},
        },
        "model": {"name": "cnn", "width": 16, "depth": 3, "pool": "grid", "fc_width": 64},
        "optim": {"name": "adam", "lr": lr, "weight_decay": 0.0},
        "regime": {"name": "transfer", "n_source": 100000, "source": "related", "mode": "full"},
        "trainer": {"max_steps": 600, "accelerator": "cpu", "precision": "32-true"},
        "logger": {"wandb": False, "wandb_mode": "offline", "project": "tasklab", "csv": False},
    }


def write_sweep(root: Path, lrs: int) -> int:
    rng = random.Random(0)
    job = 0
    for lr_index in range(lrs):
        lr = 1e-4 * (1.3**lr_index)
        for size in SIZES:
            for arm_index, arm in enumerate(ARMS):
                base = 0.55 + 0.08 * (size / 1000) ** 0.3 + 0.02 * arm_index * (size < 1000)
                for seed in SEEDS:
                    value = min(base + rng.gauss(0, 0.02), 1.0)
                    metrics = {
                        f"{split}/{task}/{name}": value - 0.01 * k
                        for split in ("val", "test")
                        for task in ("mean", "ped_left_of_car", "other", "third")
                        for k, name in enumerate(("auroc", "accuracy", "f1"))
                    }
                    record = RunResult(
                        status="ok",
                        name="bench_transfer",
                        regime="transfer",
                        seed=seed,
                        arm=arm,
                        arm_axes=["regime.n_source", "regime.source", "regime.mode"],
                        size_keys=["data.n_train", "data.n_train_by_task", "regime.n_source"],
                        overrides=[f"data.n_train={size}", f"optim.lr={lr:.6g}", f"seed={seed}"],
                        metrics=metrics,
                        config=_config(size, float(f"{lr:.6g}")),
                        wall_time_s=30.0,
                    )
                    write_result(root / str(job), record)
                    job += 1
    return job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learning-rates", type=int, default=25, help="facets of the grid")
    parser.add_argument("--keep", type=Path, help="write the sweep here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="tasklab-bench-compare-"))
    try:
        started = time.perf_counter()
        n = write_sweep(root / "sweep", args.learning_rates)
        print(f"wrote {n} result files in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        loaded = [json.loads(p.read_text()) for p in sorted(root.rglob(RESULT_FILE))]
        floor = time.perf_counter() - started
        assert len(loaded) == n
        del loaded

        times = {}
        for label, extra in (("without curves", ["--no-curves"]), ("whole report", [])):
            started = time.perf_counter()
            out = root / f"compare-{len(times)}"
            code = compare([str(root / "sweep"), "--out", str(out), "--wandb", "off", *extra])
            times[label] = time.perf_counter() - started
            assert code == 0, "the comparison failed"
        full, plain = times["whole report"], times["without curves"]
        print(f"plain json.load loop over {n} files:   {floor:6.2f} s")
        print(f"tasklab-compare --no-curves:          {plain:6.2f} s")
        print(f"tasklab-compare, whole report:        {full:6.2f} s")
        print(f"ratio compare / reading alone:        {full / floor:6.2f}")
        ratio = full / plain
        verdict = "OK" if ratio <= CURVES_RATIO else "OVER"
        print(f"ratio with / without fitted curves:   {ratio:6.2f} (≤ {CURVES_RATIO}: {verdict})")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
