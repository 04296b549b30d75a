"""Stacked seeds against one seed at a time, side by side in one process.

For K = 1, 2, 4, 8, 16 members, tasklab's stacked fit (``trainer.seeds_per_fit``: the
Lightning module of ``tasklab.fit.stacked``) trains K seeds of one config at once; the baseline
is a plain PyTorch loop training one seed, which K sequential seeds repeat K times. Printed,
for the vector MLP and the driving CNN: the speed-up, K sequential plain fits' time over the
stacked fit's (K x samples per second per member, stacked / plain); each repeat pairs a plain
run with a stacked one per K, and the median and range over repeats are shown. ``--grid``
also times a 10-seed grid cell end to end (``tasklab-train -m`` in a fresh process), with
and without stacking.

On a GPU (``--accelerator gpu``) the data are rendered on the device by the world itself,
for the plain loop as for tasklab, and steps are timed after a device synchronisation.

    python scripts/bench_stacking.py [--repeats 3] [--members 1 2 4 8 16] [--grid]
                                     [--accelerator gpu]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_throughput import WARMUP, StepTimer, _trainer_settings
from tasklab.data.datamodule import WorldDataModule
from tasklab.data.driving import PRESENCE_TASKS, DrivingWorld
from tasklab.data.label_masks import TaskBudget
from tasklab.data.tasks import TaskSpec
from tasklab.data.vectors import VectorWorld
from tasklab.fit.lightning_trainer import build_trainer, quiet_lightning, steps_per_call
from tasklab.fit.losses import masked_multitask_loss
from tasklab.fit.stacked.data import StackedDataModule
from tasklab.fit.stacked.module import StackedSeedsModule
from tasklab.fit.stacked.net import StackedNet
from tasklab.models.backbones import TrunkShape
from tasklab.models.multihead import build_net

MODELS = {  # world, backbone, trunk, batch size, steps
    "vector_mlp": (VectorWorld, "mlp", TrunkShape(width=64, depth=2), 256, 200),
    "driving_cnn": (DrivingWorld, "cnn", TrunkShape(width=16, depth=3), 128, 40),
}


ACCELERATOR = "cpu"


def _device() -> torch.device:
    return torch.device("cuda" if ACCELERATOR == "gpu" else "cpu")


def _sync() -> None:
    if ACCELERATOR == "gpu":
        torch.cuda.synchronize()


class SyncedStepTimer(StepTimer):
    """``StepTimer`` that waits for the device first (GPU work is asynchronous)."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        _sync()
        super().on_train_batch_start(trainer, pl_module, batch, batch_idx)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        _sync()
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


class _OnDevice:
    """What ``WorldDataModule`` asks of a trainer (its device, rank, steps done), so the plain
    loop's data are rendered where tasklab's are."""

    def __init__(self, device: torch.device) -> None:
        self.strategy = type("Strategy", (), {"root_device": device})()
        self.global_step, self.global_rank, self.world_size = 0, 0, 1


def _member(model: str, seed: int):
    world_type, backbone, shape, batch, steps = MODELS[model]
    world = world_type()
    names = PRESENCE_TASKS if world_type is DrivingWorld else world.task_names
    tasks = [TaskSpec(n) for n in names]
    dm = WorldDataModule(
        world,
        tasks,
        {n: TaskBudget(4096, 1.0) for n in names},
        seed=seed,
        batch_size=batch,
        n_val=64,
        n_test=64,
        train_batches=steps,
    )
    torch.manual_seed(seed)
    return dm, build_net(backbone, world.input_shape, shape, tasks), tasks


def plain_rate(model: str) -> float:
    """Samples per second of a plain loop training one seed."""
    dm, net, tasks = _member(model, 0)
    dm.trainer = _OnDevice(_device())  # type: ignore[assignment]
    dm.setup()
    net = net.to(_device())
    steps, batch = MODELS[model][4], MODELS[model][3]
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-3)
    net.train()
    start = 0.0
    for step, data in enumerate(dm.train_dataloader()):
        if step == WARMUP:
            _sync()
            start = time.perf_counter()
        loss, _, _ = masked_multitask_loss(tasks, net(data["x"]), data["y"], data["mask"])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    _sync()
    return (steps - WARMUP) * batch / (time.perf_counter() - start)


def stacked_rate(model: str, members: int) -> float:
    """Samples per second per member of tasklab's stacked fit of ``members`` seeds."""
    built = [_member(model, seed) for seed in range(members)]
    tasks = built[0][2]
    module = StackedSeedsModule(StackedNet([net for _, net, _ in built]), tasks, lr=1e-3)
    steps, batch = MODELS[model][4], MODELS[model][3]
    tc = _trainer_settings("stacked", steps)  # tasklab's Trainer, no bar, no checkpoints
    tc.accelerator = ACCELERATOR
    group = steps_per_call(tc, steps)  # as many steps per call as a stacked fit takes
    timer = SyncedStepTimer()
    with tempfile.TemporaryDirectory() as out, quiet_lightning():
        trainer = build_trainer(tc, [], Path(out), steps, "all", group)
        trainer.callbacks.append(timer)
        members = StackedDataModule([dm for dm, _, _ in built], steps_per_batch=group)
        trainer.fit(module, datamodule=members)
    return (steps - WARMUP) * batch / (timer.end - timer.start)


def grid_cell_seconds(seeds_per_fit: int) -> float:
    """Wall time of ``tasklab-train -m`` over 10 seeds of one vectors config, in a fresh
    process (start-up included: what a user waits for)."""
    with tempfile.TemporaryDirectory() as sweep:
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tasklab.train",
                "-m",
                "experiment=vectors_mtl_related_tasks",
                "regime=multi_task",
                "data.vectors.n_tasks=4",
                "seed=0,1,2,3,4,5,6,7,8,9",
                f"trainer.seeds_per_fit={seeds_per_fit}",
                f"trainer.accelerator={ACCELERATOR}",
                "trainer.progress_bar=false",
                "logger.wandb=false",
                f"hydra.sweep.dir={sweep}",
            ],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--members", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--grid", action="store_true", help="also time a 10-seed grid cell")
    parser.add_argument("--accelerator", choices=("cpu", "gpu"), default="cpu")
    args = parser.parse_args()
    global ACCELERATOR
    ACCELERATOR = args.accelerator
    warnings.filterwarnings("ignore")
    where = torch.cuda.get_device_name() if ACCELERATOR == "gpu" else "CPU"
    print(f"torch {torch.__version__}, {where}, {torch.get_num_threads()} threads")
    for model in args.models:
        ratios: dict[int, list[float]] = {k: [] for k in args.members}
        for _ in range(args.repeats):
            for k in args.members:  # each K paired with a plain run just before it
                plain = plain_rate(model)
                ratios[k].append(k * stacked_rate(model, k) / plain)
        for k, values in ratios.items():
            print(
                f"{model:12s} K={k:2d}  speed-up over {k} sequential plain fits "
                f"{statistics.median(values):.2f} [{min(values):.2f}, {max(values):.2f}] "
                f"over {len(values)} paired repeats"
            )
    if args.grid:
        one, stacked = [], []
        for _ in range(args.repeats):
            one.append(grid_cell_seconds(1))
            stacked.append(grid_cell_seconds(10))
        ratios_grid = [s / o for o, s in zip(one, stacked, strict=True)]
        print(
            f"10-seed grid cell (vectors, multi_task): one seed at a time "
            f"{statistics.median(one):.1f} s, stacked {statistics.median(stacked):.1f} s; "
            f"stacked / sequential {statistics.median(ratios_grid):.2f} "
            f"[{min(ratios_grid):.2f}, {max(ratios_grid):.2f}]"
        )


if __name__ == "__main__":
    main()
