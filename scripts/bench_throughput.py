"""Training throughput of tasklab against a plain PyTorch loop, side by side in one process.

Both loops train the same network on the same batches (the DataModule's own iterator), with
the same masked loss and optimiser; only the driver differs. Time is taken between a warm-up
step and the last step, so start-up (imports, rendering, Trainer set-up) is excluded. Repeats
alternate the two drivers and the medians are compared.

    python scripts/bench_throughput.py [--steps 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, TQDMProgressBar

from tasklab.data.datamodule import WorldDataModule
from tasklab.data.driving import PRESENCE_TASKS, DrivingWorld
from tasklab.data.label_masks import TaskBudget
from tasklab.data.tasks import TaskSpec
from tasklab.data.vectors import VectorWorld
from tasklab.losses import masked_multitask_loss
from tasklab.models.backbones import TrunkShape
from tasklab.models.multihead import build_net
from tasklab.module import TaskLabModule

WARMUP = 20


class StepTimer(Callback):
    """Wall time from the start of step WARMUP to the end of the last step."""

    def __init__(self) -> None:
        self.start = self.end = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == WARMUP:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.end = time.perf_counter()


CASES = ("driving_cnn", "vector_mlp", "source_1m")


def _setup(case: str, steps: int, seed: int = 0):
    shape, n_train, rate = TrunkShape(width=16, depth=3), 4096, 0.7
    if case == "driving_cnn":
        world, names, backbone, batch = DrivingWorld(), PRESENCE_TASKS, "cnn", 128
    elif case == "source_1m":
        # transfer's stage 1: 1,000,000 source examples rendered batch by batch, never stored
        world, names, backbone, batch = DrivingWorld(), PRESENCE_TASKS, "cnn", 128
        shape, n_train, rate = TrunkShape(16, 3, pool="grid", fc_width=64), 1_000_000, 1.0
    else:
        world = VectorWorld()
        names, backbone, batch = world.task_names, "mlp", 256
        shape = TrunkShape(width=64, depth=2)
    tasks = [TaskSpec(n) for n in names]
    budgets = {n: TaskBudget(n_train, rate) for n in names}
    dm = WorldDataModule(
        world,
        tasks,
        budgets,
        seed=seed,
        batch_size=batch,
        n_val=64,
        n_test=64,
        train_batches=steps,
    )
    dm.setup()
    torch.manual_seed(seed)
    net = build_net(backbone, world.input_shape, shape, tasks)
    return dm, net, tasks, batch


def plain_loop(case: str, steps: int) -> float:
    dm, net, tasks, batch = _setup(case, steps)
    optimiser = torch.optim.AdamW(net.parameters(), lr=3e-3)
    net.train()
    start = 0.0
    for step, data in enumerate(dm.train_dataloader()):
        if step == WARMUP:
            start = time.perf_counter()
        outputs = net(data["x"])
        loss, _, _ = masked_multitask_loss(tasks, outputs, data["y"], data["mask"])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return (steps - WARMUP) * batch / (time.perf_counter() - start)


def tasklab_loop(case: str, steps: int) -> float:
    dm, net, tasks, batch = _setup(case, steps)
    module = TaskLabModule(net, tasks, lr=3e-3, log_every_n_steps=50)
    timer = StepTimer()
    trainer = pl.Trainer(
        max_steps=steps,
        max_epochs=-1,
        accelerator="cpu",
        devices=1,
        logger=False,
        log_every_n_steps=50,
        check_val_every_n_epoch=None,
        val_check_interval=steps + 1,
        num_sanity_val_steps=0,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=[TQDMProgressBar(refresh_rate=20), timer],
    )
    trainer.fit(module, datamodule=dm)
    return (steps - WARMUP) * batch / (timer.end - timer.start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, steps={args.steps}")
    for case in args.cases:
        plain, lab = [], []
        for _ in range(args.repeats):
            plain.append(plain_loop(case, args.steps))
            lab.append(tasklab_loop(case, args.steps))
        p, t = statistics.median(plain), statistics.median(lab)
        print(
            f"{case:12s} plain {p:10.0f} samples/s   tasklab {t:10.0f} samples/s   "
            f"ratio {t / p:.3f}  (runs: plain {[round(x) for x in plain]}, "
            f"tasklab {[round(x) for x in lab]})"
        )


if __name__ == "__main__":
    main()
