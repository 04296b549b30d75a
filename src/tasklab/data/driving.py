"""The driving-scenes world: small RGB street scenes with four object kinds to detect.

One image carries four 0/1 labels (pedestrian, car, stop sign, traffic light), each object kind
with its own shape and colour family, at a random position and size, over a random background
with clutter and pixel noise. Clutter is built to defeat shortcuts: distractors reuse the
objects' colour families in other shapes and the objects' shapes in other colours, so a label
needs the conjunction of shape and colour that a small CNN learns and a linear model does not.

``decoy_rate`` sets how related the four tasks are. Every real object carries the same
low-level marker, a thin rim: its outline colour lightened towards white by ``rim_contrast``
(1 = white and easy to learn; small = a faint cue that takes many labels). A decoy is an exact
copy of an object kind without the rim. With decoys present, every task needs the same shared
feature (the rim) besides its own shape and colour, which is the condition under which a
shared trunk can pool labels across tasks; at 0 the rim is redundant and the tasks share little.

Sample *i* of a stream is a pure function of (world seed, stream, i) — see ``counter_rng`` — so
any index up to 10,000,000 is addressable without storing data.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tasklab.data import shapes
from tasklab.data.counter_rng import SampleRandomness
from tasklab.data.tasks import TaskSpec, binary_specs
from tasklab.registry import WORLDS
from tasklab.settings import require, setting

PRESENCE_TASKS: tuple[str, ...] = ("pedestrian", "car", "stop_sign", "traffic_light")
# A spatial relation on the same images: needs the pedestrian and car detectors of the presence
# tasks, but a different answer (where they are), so it is the natural transfer target.
RELATION_TASKS: tuple[str, ...] = ("ped_left_of_car",)
# The objects' total area in pixels (the sum of their squared sizes): a regression target whose
# loss is deliberately left in its own units (squared pixels², thousands of times a logistic
# loss), the case that multi-task loss weightings are meant for.
SCALE_TASKS: tuple[str, ...] = ("object_area",)
TASK_NAMES: tuple[str, ...] = PRESENCE_TASKS + RELATION_TASKS + SCALE_TASKS

# Colour families (RGB in [0, 1]); each object kind jitters around its own.
_FAMILIES = torch.tensor(
    [
        [0.95, 0.62, 0.25],  # pedestrian: orange clothing
        [0.15, 0.35, 0.90],  # car: blue
        [0.90, 0.08, 0.10],  # stop sign: red
        [0.10, 0.85, 0.25],  # traffic light: green lamp
    ]
)
_DARK = torch.tensor([0.08, 0.08, 0.08])
_WHITE = torch.tensor([0.97, 0.97, 0.97])

# Field identifiers: each random quantity of a sample hashes its own field.
_F_PRESENT, _F_OBJECT = 1, 4  # an object's geometry uses its field, its colour field + 1
_F_BG, _F_CLUTTER, _F_NOISE, _F_DECOY = 10, 20, 30, 40


@dataclass
class DrivingSettings:
    """Knobs that set how hard the four detection tasks are (``data.driving.*``).

    ``object_size`` is the object's height as a fraction of the image side (min, max);
    ``presence_prob`` is each object's independent probability of appearing.
    """

    image_size: int = setting(32, low=8, high=256)
    noise_std: float = setting(0.10, low=0)
    n_clutter: int = setting(4, low=0, high=24)
    presence_prob: float = setting(0.5, low=0, high=1)
    min_object_size: float = setting(0.22, above=0)
    max_object_size: float = setting(0.40, high=1)
    colour_jitter: float = setting(0.10, low=0)
    decoy_rate: float = setting(0.0, low=0, high=1)
    rim_contrast: float = setting(1.0, low=0, high=1)

    def check(self, path: str) -> None:
        require(
            self.min_object_size <= self.max_object_size,
            f"{path}.min_object_size={self.min_object_size} exceeds max_object_size="
            f"{self.max_object_size}; need 0 < min <= max <= 1",
        )


@WORLDS.register("driving", settings=DrivingSettings)
@dataclass
class DrivingWorld(DrivingSettings):
    seed: int = 0

    @property
    def task_names(self) -> tuple[str, ...]:
        return TASK_NAMES

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (3, self.image_size, self.image_size)

    @property
    def task_specs(self) -> dict[str, TaskSpec]:
        specs = binary_specs(PRESENCE_TASKS + RELATION_TASKS)
        # the typical area for the head's start; scale 1 keeps the loss unnormalised
        mean_side = 0.5 * (self.min_object_size + self.max_object_size) * self.image_size
        loc = len(PRESENCE_TASKS) * self.presence_prob * mean_side**2
        specs["object_area"] = TaskSpec("object_area", "regression", loc=loc, scale=1.0)
        return specs

    def labels(self, stream: int, index: torch.Tensor) -> torch.Tensor:
        """All labels (B, len(TASK_NAMES)): 0/1 flags, then the area; no image is drawn."""
        return self._labels(SampleRandomness(self.seed, stream, index))

    def _labels(self, rng: SampleRandomness) -> torch.Tensor:
        present = [rng.uniform(_F_PRESENT, k) < self.presence_prob for k in range(4)]
        ped_x, car_x = self._centre_x(rng, _F_OBJECT, 0), self._centre_x(rng, _F_OBJECT, 1)
        left_of = present[0] & present[1] & (ped_x < car_x)
        area = sum(
            present[k].to(torch.float32) * (self._size(rng, _F_OBJECT, k) * self.image_size) ** 2
            for k in range(len(PRESENCE_TASKS))
        )
        flags = torch.stack([*present, left_of], dim=1).to(torch.float32)
        return torch.cat([flags, area.unsqueeze(1)], dim=1)

    def _size(self, rng: SampleRandomness, field: int, kind: int) -> torch.Tensor:
        lo, hi = self.min_object_size, self.max_object_size
        return lo + (hi - lo) * rng.uniform(field, kind, 0)

    def _centre_x(self, rng: SampleRandomness, field: int, kind: int) -> torch.Tensor:
        margin = 0.5 * self._size(rng, field, kind)
        return margin + (1 - 2 * margin) * rng.uniform(field, kind, 1)

    def render(self, stream: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 3, H, W) as uint8 and labels (B, len(TASK_NAMES)), on ``index``'s device."""
        index = index.to(torch.int64)
        rows, cols = shapes.pixel_grid(self.image_size, index.device)
        canvas = shapes.LayerCanvas(index.shape[0], self.image_size, index.device)
        rng = SampleRandomness(self.seed, stream, index)
        self._clutter(rng, rows, cols, canvas)
        labels = self._labels(rng)
        for kind in range(len(PRESENCE_TASKS)):
            self._draw_object(rng, kind, labels[:, kind] > 0, rows, cols, canvas)
        images = canvas.compose(self._background(rng, rows))
        images = images + self.noise_std * rng.pixel_noise(_F_NOISE, images.shape)
        quantised = (images.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
        return quantised, labels

    def _background(self, rng: SampleRandomness, rows) -> torch.Tensor:
        base = 0.30 + 0.35 * rng.uniform(_F_BG, 0)
        tint = (torch.stack([rng.uniform(_F_BG, c) for c in (1, 2, 3)], 1) - 0.5) * 0.12
        slope = (rng.uniform(_F_BG, 4) - 0.5) * 0.4
        colour = (base.view(-1, 1) + tint).view(-1, 3, 1, 1)
        gradient = slope.view(-1, 1, 1, 1) * (rows - 0.5).unsqueeze(0)
        return (colour + gradient).expand(-1, -1, self.image_size, self.image_size)

    def _colour(self, rng: SampleRandomness, field, slot, family: torch.Tensor) -> torch.Tensor:
        jitter = torch.stack([rng.uniform(field, slot, c) for c in range(3)], dim=1)
        return (family.to(jitter.device) + (jitter - 0.5) * 2 * self.colour_jitter).clamp(0, 1)

    def _clutter(self, rng: SampleRandomness, rows, cols, canvas: shapes.LayerCanvas) -> None:
        """Distractors: object colours in non-object shapes, object shapes in grey tones, and
        (with probability ``decoy_rate``) decoys: exact objects without the shared rim."""
        for slot in range(self.n_clutter):
            u = [rng.uniform(_F_CLUTTER, slot, k) for k in range(8)]
            cx, cy = 0.1 + 0.8 * u[0], 0.1 + 0.8 * u[1]
            lo, hi = self.min_object_size, self.max_object_size
            size = 0.5 * (lo + (hi - lo) * u[2])
            family = _FAMILIES.to(rows.device)[(u[3] * 4).long().clamp(max=3)]
            object_colour = self._colour(rng, _F_CLUTTER, 100 + slot, family)
            grey = (0.2 + 0.6 * u[5]).view(-1, 1).expand(-1, 3)
            decoy = u[6] < self.decoy_rate
            # kind 0: coloured square, 1: coloured triangle, 2: grey octagon, 3: grey wide box
            kind = (u[4] * 4).long().clamp(max=3)
            layer = canvas.add_layer(torch.where((kind < 2).view(-1, 1), object_colour, grey))
            masks = (
                shapes.rect_mask(rows, cols, cx, cy, size * 0.8, size * 0.8),
                shapes.triangle_mask(rows, cols, cx, cy, size),
                shapes.octagon_mask(rows, cols, cx, cy, size * 0.8),
                shapes.rect_mask(rows, cols, cx, cy, size, size * 0.5),
            )
            for k, mask in enumerate(masks):
                canvas.paint(mask, layer, (kind == k) & ~decoy)
            decoy_kind = (u[7] * 4).long().clamp(max=3)
            for k in range(4):
                self._draw_kind(
                    rng,
                    _F_DECOY + 10 * slot,
                    k,
                    decoy & (decoy_kind == k),
                    rows,
                    cols,
                    canvas,
                    rim=False,
                )

    def _draw_object(self, rng: SampleRandomness, kind, present, rows, cols, canvas) -> None:
        self._draw_kind(rng, _F_OBJECT, kind, present, rows, cols, canvas, rim=True)

    def _draw_kind(self, rng, field, kind, visible, rows, cols, canvas, rim: bool) -> None:
        """Draw object ``kind`` where ``visible``; real objects get the shared white rim."""
        size = self._size(rng, field, kind)
        margin = 0.5 * size
        cx = self._centre_x(rng, field, kind)
        cy = margin + (1 - 2 * margin) * rng.uniform(field, kind, 2)
        body_colour = self._colour(rng, field + 1, kind, _FAMILIES[kind])
        dark_colour = _DARK.to(rows.device).expand(visible.shape[0], 3)
        colour, dark = canvas.add_layer(body_colour), canvas.add_layer(dark_colour)
        if rim:
            # the rim lightens the colour of the object's outline (the housing of a light)
            outer = dark_colour if kind == 3 else body_colour
            white = _WHITE.to(rows.device)
            white = canvas.add_layer(outer + self.rim_contrast * (white - outer))
            grown = self._kind_parts(kind, rows, cols, cx, cy, size, grow=1.0 / self.image_size)
            halo = grown[0][0]
            for mask, _ in grown[1:]:
                halo = halo | mask
            canvas.paint(halo, white, visible)
        for mask, part in self._kind_parts(kind, rows, cols, cx, cy, size, grow=0.0):
            canvas.paint(mask, colour if part == "body" else dark, visible)

    @staticmethod
    def _kind_parts(kind, rows, cols, cx, cy, size, grow: float) -> list:
        """(mask, part) pairs in painting order; ``grow`` widens every part (for the rim)."""
        g = grow
        if kind == 0:  # pedestrian: a narrow body with a head on top
            body = shapes.rect_mask(
                rows, cols, cx, cy + 0.15 * size, 0.13 * size + g, 0.35 * size + g
            )
            head = shapes.disc_mask(rows, cols, cx, cy - 0.32 * size, 0.14 * size + g)
            return [(body | head, "body")]
        if kind == 1:  # car: a wide body with two dark wheels
            body = shapes.rect_mask(rows, cols, cx, cy, 0.5 * size + g, 0.25 * size + g)
            wheel_y, wheel_r = cy + 0.25 * size, 0.12 * size + g
            wheels = shapes.disc_mask(rows, cols, cx - 0.28 * size, wheel_y, wheel_r)
            wheels |= shapes.disc_mask(rows, cols, cx + 0.28 * size, wheel_y, wheel_r)
            return [(body, "body"), (wheels, "dark")]
        if kind == 2:  # stop sign: a red octagon on a thin dark post
            post = shapes.rect_mask(
                rows, cols, cx, cy + 0.3 * size, 0.04 * size + g, 0.2 * size + g
            )
            sign = shapes.octagon_mask(rows, cols, cx, cy - 0.1 * size, 0.3 * size + g)
            return [(post, "dark"), (sign, "body")]
        # traffic light: a dark housing with one lit lamp near the top
        housing = shapes.rect_mask(rows, cols, cx, cy, 0.17 * size + g, 0.5 * size + g)
        lamp = shapes.disc_mask(rows, cols, cx, cy - 0.25 * size, 0.12 * size)
        return [(housing, "dark"), (lamp, "body")]
