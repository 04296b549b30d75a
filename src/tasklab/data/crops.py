"""A differentiable fixed-size crop around a predicted location, kept inside the image.

A staged face pipeline crops around the location stage 1 predicts; to fine-tune the composed
pipeline end to end, the crop must pass gradients back to that location, so it samples the
image bilinearly (``grid_sample``) instead of slicing at integer offsets. A centre near the
border is moved inwards so the window never leaves the image: a face at the edge is cropped
with the image's own pixels, never with padding.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def window_corner(centres: torch.Tensor, image_size: int, crop_size: int) -> torch.Tensor:
    """Top-left corner (B, 2) in pixels (row, col) of the window of side ``crop_size`` around
    ``centres`` (B, 2) given as fractions of the image side, clamped into the image."""
    corner = centres * image_size - crop_size / 2
    return corner.clamp(0.0, float(image_size - crop_size))


def crop_at(images: torch.Tensor, centres: torch.Tensor, crop_size: int) -> torch.Tensor:
    """Crops (B, C, crop_size, crop_size) of square ``images`` (B, C, H, H) around ``centres``.

    At integer pixel corners the crop equals the slice ``images[..., r:r+s, c:c+s]`` exactly;
    between them it interpolates, and its gradient reaches ``centres``.
    """
    batch, _, size, width = images.shape
    if size != width:
        raise ValueError(f"crop_at needs square images, got {size}x{width}")
    if not 0 < crop_size <= size:
        raise ValueError(f"crop size {crop_size} must be in [1, {size}]")
    corner = window_corner(centres.to(images.dtype), size, crop_size)
    offsets = torch.arange(crop_size, device=images.device, dtype=images.dtype) + 0.5
    # Pixel k covers [k, k + 1); with align_corners=False its centre k + 0.5 maps to
    # 2 (k + 0.5) / size - 1 in grid_sample's [-1, 1] coordinates.
    rows = (corner[:, 0:1] + offsets) * (2.0 / size) - 1.0  # (B, s)
    cols = (corner[:, 1:2] + offsets) * (2.0 / size) - 1.0
    grid = torch.stack(
        [
            cols.unsqueeze(1).expand(batch, crop_size, crop_size),
            rows.unsqueeze(2).expand(batch, crop_size, crop_size),
        ],
        dim=-1,
    )
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
