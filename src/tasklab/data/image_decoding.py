"""Decodes a user's image files into model-sized uint8 arrays with Pillow.

Pillow is the decoder because it is already installed (matplotlib depends on it) and it
releases the GIL while it decodes and resizes, so a batch is decoded by a few threads in
parallel; DataLoader worker processes (``data.images.loader_workers``) add more on top.
Images stay uint8 (C, H, W) until the batch reaches the model: a quarter of float32's memory.
An image of more than 8 bits per pixel (16-bit PNG or TIFF x-rays, 32-bit or float images) is
rescaled from its own range to 0–255 first: Pillow's own conversion would clip it to white.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tasklab.data.file_arrays import DataFileError

MODES = {1: "L", 3: "RGB"}
WIDE_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})  # more than 8 bits a pixel


class ImageDecodeError(DataFileError):
    """An image file is missing or cannot be decoded; the message names it."""


def _problem(path: Path, error: Exception) -> ImageDecodeError:
    what = "is missing" if isinstance(error, FileNotFoundError) else "cannot be decoded"
    return ImageDecodeError(
        f"{path}: {what} ({type(error).__name__}: {error}); fix or remove it, or set "
        "data.images.on_error=skip to leave unreadable images out"
    )


def decode_image(path: Path, size: int, channels: int) -> np.ndarray:
    """One image as uint8 (channels, size, size): converted to grey or RGB, resized
    bilinearly (a different aspect ratio is stretched, as torchvision's Resize((s, s)) does)."""
    try:
        with Image.open(path) as image:
            if image.mode in WIDE_MODES:
                image = _to_8_bits(image)
            image = image.convert(MODES[channels])
            if image.size != (size, size):
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
        raise _problem(path, error) from error
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def _to_8_bits(image: Image.Image) -> Image.Image:
    """A wide grey image rescaled from its own minimum and maximum to 0–255."""
    values = np.asarray(image, dtype=np.float32)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
    return Image.fromarray(np.round(scaled).astype(np.uint8), mode="L")


def unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be used as an image, or None: it exists and its header names an
    image format (the pixels are checked when they are decoded)."""
    try:
        with Image.open(path) as image:
            image.size  # noqa: B018 - reading the header is the check
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
        return f"{type(error).__name__}: {error}"
    return None


_pools: dict[int, ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    """One pool per process (a forked DataLoader worker must not reuse its parent's)."""
    key = os.getpid() * 1000 + threads
    if key not in _pools:
        _pools[key] = ThreadPoolExecutor(threads, thread_name_prefix="tasklab-decode")
    return _pools[key]


def decode_batch(paths: Sequence[Path], size: int, channels: int, threads: int) -> np.ndarray:
    """The images of ``paths`` as one uint8 array (B, channels, size, size), in order."""
    out = np.empty((len(paths), channels, size, size), dtype=np.uint8)
    if threads <= 1 or len(paths) < 2 * threads:
        for i, path in enumerate(paths):
            out[i] = decode_image(path, size, channels)
        return out

    def fill(i: int) -> None:
        out[i] = decode_image(paths[i], size, channels)

    for done in _pool(threads).map(fill, range(len(paths))):
        del done
    return out
