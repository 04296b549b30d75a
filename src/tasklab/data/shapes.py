"""Vectorised shape masks and painting on a batch of images.

Every function takes per-image parameters of shape (B,) and returns masks of shape (B, H, W),
so a whole batch is drawn with broadcasting and no per-sample Python loop. Coordinates are
fractions of the image side in [0, 1]; y grows downwards.
"""

from __future__ import annotations

import torch


def pixel_grid(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates as (1, H, 1) rows and (1, 1, W) columns."""
    centres = (torch.arange(size, device=device, dtype=torch.float32) + 0.5) / size
    return centres.view(1, size, 1), centres.view(1, 1, size)


def _b(values: torch.Tensor) -> torch.Tensor:
    return values.view(-1, 1, 1)


def rect_mask(
    rows: torch.Tensor,
    cols: torch.Tensor,
    cx: torch.Tensor,
    cy: torch.Tensor,
    half_w: torch.Tensor,
    half_h: torch.Tensor,
) -> torch.Tensor:
    return ((cols - _b(cx)).abs() <= _b(half_w)) & ((rows - _b(cy)).abs() <= _b(half_h))


def disc_mask(
    rows: torch.Tensor, cols: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, radius: torch.Tensor
) -> torch.Tensor:
    return (cols - _b(cx)).square() + (rows - _b(cy)).square() <= _b(radius).square()


def octagon_mask(
    rows: torch.Tensor, cols: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, radius: torch.Tensor
) -> torch.Tensor:
    """A regular-looking octagon: the intersection of a square and a diamond."""
    dx, dy = (cols - _b(cx)).abs(), (rows - _b(cy)).abs()
    r = _b(radius)
    return (dx <= r) & (dy <= r) & (dx + dy <= 1.4 * r)


def triangle_mask(
    rows: torch.Tensor, cols: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, radius: torch.Tensor
) -> torch.Tensor:
    """An upward-pointing isosceles triangle inscribed in the square of half-side ``radius``."""
    dx, dy = (cols - _b(cx)).abs(), rows - _b(cy)
    r = _b(radius)
    return (dy <= r) & (dy >= -r) & (dx <= (dy + r) * 0.5)


class LayerCanvas:
    """Paints by layer number instead of colour, then looks colours up once at the end.

    Why: painting RGB floats costs a full (B, 3, H, W) pass per shape; painting a one-channel
    uint8 layer map costs a twelfth of that, and the final colour lookup is a single gather.
    """

    def __init__(self, batch: int, size: int, device: torch.device) -> None:
        self.layer = torch.zeros(batch, size, size, dtype=torch.uint8, device=device)
        self.colours: list[torch.Tensor] = []

    def add_layer(self, colour: torch.Tensor) -> int:
        """Register a (B, 3) colour for a new layer and return its number (background is 0)."""
        if len(self.colours) >= 255:
            raise ValueError("more than 255 layers in one scene; lower data.driving.n_clutter")
        self.colours.append(colour)
        return len(self.colours)

    def paint(self, mask: torch.Tensor, layer: int, visible: torch.Tensor) -> None:
        """Put ``layer`` where ``mask`` (B, H, W) holds and the image's ``visible`` flag is set."""
        self.layer.masked_fill_(mask & visible.view(-1, 1, 1), layer)

    def compose(self, background: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W): the background where layer 0, else the layer's colour."""
        batch = self.layer.shape[0]
        table = torch.stack(self.colours, dim=1)  # (B, L, 3)
        table = torch.cat([torch.zeros_like(table[:, :1]), table], dim=1).reshape(-1, 3)
        offsets = torch.arange(batch, device=self.layer.device).view(-1, 1, 1) * (
            len(self.colours) + 1
        )
        flat = self.layer.long() + offsets
        painted = table.index_select(0, flat.reshape(-1)).view(*flat.shape, 3)
        painted = painted.permute(0, 3, 1, 2)
        return torch.where((self.layer == 0).unsqueeze(1), background, painted)
