"""Training throughput of tasklab against a plain PyTorch loop, side by side in one process.

Both loops train the same network on the same batches (the DataModule's own iterator), with
the same masked loss and optimiser; only the driver differs. Time is taken between a warm-up
step and the last step, so start-up (imports, rendering, Trainer set-up) is excluded.
Repeats alternate the two drivers, starting and ending with the plain loop; each tasklab fit
gives one ratio, against the mean of the plain loops just before and after it (the machine's
speed changes less within that window than across the run, and a steady drift cancels); the
median and range of those are printed.

    python scripts/bench_throughput.py [--steps 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import Callback

from tasklab.config import LoggerConfig, TrainerConfig, data_schema
from tasklab.data.building import build_world
from tasklab.data.datamodule import WorldDataModule
from tasklab.data.driving import PRESENCE_TASKS, DrivingWorld
from tasklab.data.label_masks import TaskBudget
from tasklab.data.tasks import TaskSpec
from tasklab.data.vectors import VectorWorld
from tasklab.data.world import train_stream
from tasklab.fit.lightning_trainer import build_trainer, quiet_lightning, steps_per_call
from tasklab.fit.losses import masked_multitask_loss
from tasklab.fit.module import TaskLabModule
from tasklab.loggers import build_loggers, finish_wandb
from tasklab.models.backbones import TrunkShape
from tasklab.models.multihead import build_net

WARMUP = 20


class StepTimer(Callback):
    """Wall time from the start of the first training call at or after step WARMUP to the end
    of the last one, and the number of steps in between (a call may hold several steps)."""

    def __init__(self) -> None:
        self.start = self.end = 0.0
        self.start_step = self.end_step = -1

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.start_step < 0 and trainer.global_step >= WARMUP:
            self.start, self.start_step = time.perf_counter(), trainer.global_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.end, self.end_step = time.perf_counter(), trainer.global_step

    def samples_per_second(self, batch: int) -> float:
        return (self.end_step - self.start_step) * batch / (self.end - self.start)


CASES = (
    "driving_cnn",
    "driving_cnn_ckpt",
    "driving_cnn_prod",
    "vector_mlp",
    "vector_mlp_prod",
    "source_1m",
    "file_cnn",
    "file_cnn_mmap",
)
# driving_cnn_ckpt: the CNN with tasklab's periodic checkpoint (every 100 steps, the default),
# against the plain loop that saves nothing: what resumability costs. *_prod: tasklab with its
# production defaults (W&B offline + CSV, checkpoints, progress bar, deterministic).
FILE_ROWS = 20_000
_FILE_DIR = tempfile.TemporaryDirectory(prefix="tasklab-bench-")
FILE_PATH = Path(_FILE_DIR.name) / "scenes.npz"


def _write_file() -> None:
    """Driving scenes written to a user file once (uint8 images, presence labels with gaps)."""
    if not FILE_PATH.exists():
        world = DrivingWorld()
        x, y = world.render(train_stream(0), torch.arange(FILE_ROWS))
        y = y.numpy().astype(np.int64)
        y[np.random.default_rng(0).random(y.shape) < 0.3] = -1
        arrays = {"x": x.numpy()} | {f"y_{n}": y[:, i] for i, n in enumerate(PRESENCE_TASKS)}
        np.savez(FILE_PATH, **arrays)


def _file_arrays() -> dict[str, np.ndarray]:
    _write_file()
    with np.load(FILE_PATH) as archive:
        return {name: archive[name] for name in archive.files}


def _file_world(mapped: bool):
    _write_file()  # the world reads the file itself
    data = OmegaConf.structured(data_schema()(world="files"))
    data.files.train = str(FILE_PATH)
    data.files.mmap_min_mb = 0.0 if mapped else 1e9
    return build_world(data)


def _setup(case: str, steps: int, seed: int = 0):
    shape, n_train, rate = TrunkShape(width=16, depth=3), 4096, 0.7
    materialise_max = 300_000
    if case in ("file_cnn", "file_cnn_mmap"):
        # a user's file: in memory, or memory-mapped and read batch by batch
        world, names, backbone, batch = (
            _file_world(case.endswith("mmap")),
            PRESENCE_TASKS,
            "cnn",
            128,
        )
        n_train, rate = world.split_size("train"), 1.0
        materialise_max = 0 if case.endswith("mmap") else materialise_max
    elif case in ("driving_cnn", "driving_cnn_ckpt", "driving_cnn_prod"):
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
        materialise_max=materialise_max,
    )
    dm.setup()
    torch.manual_seed(seed)
    net = build_net(backbone, world.input_shape, shape, tasks)
    return dm, net, tasks, batch


def _plain_file_batches(steps: int, batch: int, mapped: bool):
    """What a user's own loop over the file does: load the arrays once (or map them), draw
    shuffled batches, mask the −1 labels, scale the pixels."""
    if mapped:
        x = np.load(FILE_PATH.with_suffix(".x.npy"), mmap_mode="r")
        arrays = {k: v for k, v in _file_arrays().items() if k != "x"}
    else:
        arrays = _file_arrays()
        x = torch.from_numpy(arrays.pop("x"))
    y = torch.from_numpy(np.stack([arrays[f"y_{n}"] for n in PRESENCE_TASKS], axis=1))
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(y), generator=generator)
    for step in range(steps):
        rows = order[(step * batch) % len(y) :][:batch]
        xb = torch.from_numpy(x[rows.numpy()]) if mapped else x[rows]
        labels = y[rows]
        mask = labels >= 0
        yield {
            "x": xb.to(torch.float32) / 255.0,
            "y": torch.where(mask, labels, 0).to(torch.float32),
            "mask": mask,
        }


def plain_loop(case: str, steps: int) -> float:
    # a user's own loop, whatever mode the last Trainer (``deterministic``) left torch in
    torch.use_deterministic_algorithms(False)
    dm, net, tasks, batch = _setup(case, steps)
    if case.startswith("file_cnn"):
        mapped = case.endswith("mmap")
        if mapped and not FILE_PATH.with_suffix(".x.npy").exists():
            np.save(FILE_PATH.with_suffix(".x.npy"), _file_arrays()["x"])
        batches = _plain_file_batches(steps, batch, mapped)
    else:
        batches = iter(dm.train_dataloader())
    optimiser = torch.optim.AdamW(net.parameters(), lr=3e-3)
    net.train()
    start = 0.0
    for step, data in enumerate(batches):
        if step == WARMUP:
            start = time.perf_counter()
        outputs = net(data["x"])
        loss, _, _ = masked_multitask_loss(tasks, outputs, data["y"], data["mask"])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return (steps - WARMUP) * batch / (time.perf_counter() - start)


def _trainer_settings(case: str, steps: int):
    """The ``trainer`` settings of a fit: the defaults (progress bar, checkpoints every 100
    steps, logging every 50) for ``*_prod``; otherwise no progress bar, and checkpoints only
    for ``driving_cnn_ckpt``. No validation inside the timed steps."""
    tc = OmegaConf.structured(TrainerConfig)
    tc.max_steps, tc.validations_per_fit, tc.log_every_n_steps = steps, 0, 50
    if not case.endswith("_prod"):
        tc.progress_bar = False
        tc.checkpoint_every_n_steps = 100 if case.endswith("_ckpt") else 0
    return tc


def tasklab_loop(case: str, steps: int) -> float:
    """tasklab's own fit: its Trainer (``build_trainer``), its loggers for ``*_prod`` (W&B
    offline and CSV), and as many steps per Lightning call as ``fit_tasks`` would take."""
    dm, net, tasks, batch = _setup(case, steps)
    tc = _trainer_settings(case, steps)
    dm.steps_per_batch = steps_per_call(tc, steps, 4 * batch * math.prod(dm.world.input_shape))
    module = TaskLabModule(net, tasks, lr=3e-3, log_every_n_steps=tc.log_every_n_steps)
    timer = StepTimer()
    with tempfile.TemporaryDirectory(prefix="tasklab-bench-run-") as out:
        loggers = []
        if case.endswith("_prod"):
            logger_cfg = OmegaConf.structured(LoggerConfig)
            loggers = build_loggers(logger_cfg, Path(out), "bench", "bench", "bench", {})
        with quiet_lightning():
            trainer = build_trainer(tc, loggers, Path(out), steps, "all", dm.steps_per_batch)
            trainer.callbacks.append(timer)
            trainer.fit(module, datamodule=dm)
        finish_wandb()
    return timer.samples_per_second(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, steps={args.steps}")
    for case in args.cases:
        # plain, tasklab, plain, tasklab, ..., plain: each tasklab fit is compared with the
        # mean of the plain loops on either side of it, which cancels a steady drift in the
        # machine's speed (on this 2-core machine a loop's speed wanders by ±15%)
        plain, lab = [plain_loop(case, args.steps)], []
        for _ in range(args.repeats):
            lab.append(tasklab_loop(case, args.steps))
            plain.append(plain_loop(case, args.steps))
        ratios = [2 * t / (plain[i] + plain[i + 1]) for i, t in enumerate(lab)]
        print(
            f"{case:16s} ratio {statistics.median(ratios):.3f} "
            f"[{min(ratios):.3f}, {max(ratios):.3f}] over {len(ratios)} paired repeats   "
            f"(samples/s: plain {[round(x) for x in plain]}, tasklab {[round(x) for x in lab]})"
        )


if __name__ == "__main__":
    main()
