"""Is the on-disk image loader the bottleneck? Images/s of the loader alone, of ResNet-18
training alone, and of training fed by the loader, side by side in one process.

The folder is written once (the x-ray-like example at 160 px, PNG), so every image is decoded
and resized for real. "loader" drains ``data=images``'s streamed training batches (decoded in
DataLoader workers, nothing cached) without a model; "model" trains ResNet-18 (forward,
backward, Adam) on batches already in memory; "fed" trains it on the loader's batches. The
loader is not the bottleneck when loader/model is well above 1 and fed/model is close to 1.
Repeats alternate the three; medians and ranges of the ratios are printed. On a GPU the model
runs in bf16 autocast with channels-last inputs, and batches are pinned.

Needs the vision extra:  .venv-vision/bin/python scripts/bench_image_loader.py [--sizes 64 128]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from tasklab.data.batches import BatchStream, RenderedSplit
from tasklab.data.image_source import ImagesSettings, build_image_world
from tasklab.data.worker_loading import WorkerBatches
from tasklab.data.world import train_stream
from tasklab.examples.xray import make_xray_folder
from tasklab.models.backbones import TrunkShape, build_backbone

BATCH = 64
WARMUP = 3


def _stream(world, batches: int, workers: int, pin: bool) -> WorkerBatches:
    n = world.split_size("train")
    index = torch.arange(n)
    mask = torch.ones(n, 1, dtype=torch.bool)
    split = RenderedSplit(world, train_stream(0), index, torch.tensor([0]), mask, False)
    stream = BatchStream(split, BATCH, True, 0, total_batches=batches + WARMUP)
    return WorkerBatches(stream, workers, pin_memory=pin)


def _timed(batches: Iterator, step) -> float:
    """Images per second after WARMUP batches."""
    start, images = 0.0, 0
    for i, batch in enumerate(batches):
        if i == WARMUP:
            start = time.perf_counter()
        step(batch)
        if i >= WARMUP:
            images += len(batch["x"])
    if device.type == "cuda":
        torch.cuda.synchronize()
    return images / (time.perf_counter() - start)


device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _trainer(size: int):
    trunk, features = build_backbone("torchvision", (3, size, size), TrunkShape(arch="resnet18"))
    net = nn.Sequential(trunk, nn.Linear(features, 1)).to(device)
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(net.parameters(), 1e-3)

    def step(batch: dict[str, torch.Tensor]) -> None:
        x = batch["x"].to(device, non_blocking=True)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        y = batch["y"][:, :1].to(device, non_blocking=True)
        with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
            loss = nn.functional.binary_cross_entropy_with_logits(net(x), y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    return step


def measure(world, size: int, batches: int, workers: int) -> dict[str, float]:
    pin = device.type == "cuda"
    step = _trainer(size)
    in_memory = next(iter(_stream(world, 1, workers, pin)))
    rates = {"loader": _timed(iter(_stream(world, batches, workers, pin)), lambda b: None)}
    rates["model"] = _timed(iter([in_memory] * (batches + WARMUP)), step)
    rates["fed"] = _timed(iter(_stream(world, batches, workers, pin)), step)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tasklab-bench-images-"))
    manifest = make_xray_folder(folder, n_patients=700, size=160)
    print(f"device: {device}; {args.workers} loader workers; batch {BATCH}; torch threads "
          f"{torch.get_num_threads()}; folder: {manifest}")  # fmt: skip
    for size in args.sizes:
        settings = ImagesSettings(manifest=str(manifest), size=size, cache_mb=0,
                                  loader_workers=args.workers, val_fraction=0.05,
                                  test_fraction=0.05)  # fmt: skip
        world = build_image_world(settings, verbose=False)
        runs = [measure(world, size, args.batches, args.workers) for _ in range(args.repeats)]
        for name in ("loader", "model", "fed"):
            values = [r[name] for r in runs]
            print(f"  {size} px  {name:6s} images/s: median {statistics.median(values):7.1f}  "
                  f"({min(values):.1f}–{max(values):.1f})")  # fmt: skip
        for top, bottom in (("loader", "model"), ("fed", "model")):
            ratios = [r[top] / r[bottom] for r in runs]
            print(f"  {size} px  {top}/{bottom}: median {statistics.median(ratios):.2f}  "
                  f"({min(ratios):.2f}–{max(ratios):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
