"""Cost per training step of every loss weighting against equal weighting, side by side in one
process: the same network, batches and optimiser, only ``mtl/weighting`` differs.

Each repeat runs every weighting once, in turn; a weighting's ratio is the median over repeats
of (equal's time per step) / (its time per step) in the same repeat, so a slower machine in one
repeat slows both sides of its ratios. Gradient aggregations take one backward pass per task
on the shared trunk besides the usual one; FAMO a second forward pass.

    python scripts/bench_weightings.py [--case vector_mlp|driving_cnn] [--steps 300] [--only …]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_throughput import WARMUP, StepTimer, _setup
from tasklab.fit.lightning_trainer import quiet_lightning
from tasklab.fit.module import TaskLabModule
from tasklab.registry import WEIGHTINGS
from tasklab.weightings import build_weighting, weighting_settings


def seconds_per_step(case: str, name: str, steps: int) -> float:
    dm, net, tasks, _ = _setup(case, steps)
    values = {"weights": {t.name: 1.0 for t in tasks}} if name == "static" else {}
    settings = weighting_settings(name)(name=name, **values)
    module = TaskLabModule(
        net, tasks, lr=3e-3, log_every_n_steps=50, weighting=build_weighting(settings, tasks)
    )
    timer = StepTimer()
    trainer = pl.Trainer(
        max_steps=steps,
        max_epochs=-1,
        accelerator="cpu",
        devices=1,
        logger=False,
        check_val_every_n_epoch=None,
        val_check_interval=steps + 1,
        num_sanity_val_steps=0,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        callbacks=[timer],
    )
    with quiet_lightning():
        trainer.fit(module, datamodule=dm)
    return (timer.end - timer.start) / (steps - WARMUP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default="vector_mlp", choices=("vector_mlp", "driving_cnn"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", nargs="+", help="these weightings (and equal)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    names = ["equal", *(n for n in WEIGHTINGS.names() if n != "equal")]
    if args.only:
        names = ["equal", *(n for n in args.only if n != "equal")]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, case={args.case}, "
        f"steps={args.steps}, repeats={args.repeats}"
    )
    times: dict[str, list[float]] = {n: [] for n in names}
    seconds_per_step(args.case, "equal", args.steps)  # warm-up: first-call costs, not timed
    for _ in range(args.repeats):
        for name in names:
            times[name].append(seconds_per_step(args.case, name, args.steps))
    equal = times["equal"]
    print(f"{'weighting':12s} {'ms/step':>8s} {'equal/it':>9s}  (per repeat, ms)")
    for name in names:
        ratios = [e / t for e, t in zip(equal, times[name], strict=True)]
        print(
            f"{name:12s} {1000 * statistics.median(times[name]):8.2f} "
            f"{statistics.median(ratios):9.3f}  {[round(1000 * t, 2) for t in times[name]]}"
        )


if __name__ == "__main__":
    main()
