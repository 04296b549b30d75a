"""The face-identification world: find a small face in a cluttered scene, then say whose it is.

A grayscale scene (48×48 by default) holds one face-like sprite of one of ``n_identities``
people at a random place, among clutter: featureless ovals of a face's size and tone, bars and
blobs. An identity is a fixed set of facial proportions drawn from the world seed (eye spacing,
height and size, mouth width and height, nose length, hairline, skin tone); each appearance
jitters them a little (``identity_jitter``) and scales the face (``min_face``–``max_face`` of
the side), so telling people apart takes a look at a few pixels in the right place.

Below the face, on a neck, each person wears their own shirt: a tone and a number of stripes
fixed per identity (``body_cue`` scales how much they differ; 0 dresses everyone alike). The
shirt starts one pixel below the crop window around the true face, so a tight face crop never
sees it: context that the pipeline's z throws away and that a network looking at the whole
scene can use, as clothing and hair do in real photographs. Without it the crop holds all there
is to know and a pipeline with plentiful sub-step data cannot be beaten, only matched.

z: ``face_row``, ``face_col``, the face's centre as fractions of the side; y: ``identity``.
The pipeline crops ``crop_size`` pixels around z (``crops.crop_at``, kept inside the image)
and identifies the crop; end to end, one network must find and identify at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tasklab.data import shapes
from tasklab.data.counter_rng import SampleRandomness, uniform
from tasklab.data.crops import crop_at
from tasklab.data.tasks import TaskSpec
from tasklab.registry import WORLDS
from tasklab.settings import require, setting

LOCATION: tuple[str, ...] = ("face_row", "face_col")
TARGET = "identity"
_IDENTITY_STREAM = 0x46414345  # "FACE": identity proportions, apart from every sample stream
# Proportion ranges in face units (the face's half-height is 1): low, high.
_TRAITS = {
    "eye_dx": (0.22, 0.48),
    "eye_y": (-0.40, -0.05),
    "eye_r": (0.10, 0.22),
    "mouth_w": (0.18, 0.58),
    "mouth_y": (0.30, 0.60),
    "nose": (0.0, 0.35),
    "hair": (0.05, 0.65),
    "skin": (0.55, 0.90),
}
# The shirt: tone (low, high) and stripe count (0 to 3, drawn from 4 equal bins).
_SHIRT_TONE, _SHIRT_STRIPES, _PLAIN_SHIRT = (0.30, 0.95), 4, 0.6
_SHIRT_HEIGHT = 0.16  # of the side
_SHIRT_JITTER = 0.04  # per appearance, of the tone range: lighting, not identity
_NECK_WIDTH = 0.3  # of the face's half-height
_F_ID, _F_POS, _F_SIZE, _F_JITTER, _F_SHIRT = 1, 2, 3, 4, 5
_F_CLUTTER, _F_BG, _F_NOISE = 10, 20, 30


def _soft(signed_px: torch.Tensor) -> torch.Tensor:
    """Pixel coverage from a signed distance inside a shape, in pixels (anti-aliased edge)."""
    return (signed_px + 0.5).clamp(0, 1)


def _ellipse(rows, cols, cy, cx, ry, rx, size: int) -> torch.Tensor:
    """Coverage of ellipses with centres (cy, cx) and radii (ry, rx), all (B,) fractions."""
    v = (rows - cy.view(-1, 1, 1)) / ry.view(-1, 1, 1)
    u = (cols - cx.view(-1, 1, 1)) / rx.view(-1, 1, 1)
    radius = torch.minimum(ry, rx).view(-1, 1, 1) * size
    return _soft((1 - torch.sqrt(u * u + v * v)) * radius)


def _paint(image: torch.Tensor, coverage: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    return image * (1 - coverage) + level.view(-1, 1, 1) * coverage


@dataclass
class FaceIdSettings:
    """The scenes' knobs (``data.face_id.*``); ``body_cue`` 0 dresses everyone alike."""

    image_size: int = setting(48, low=8, high=256)
    n_identities: int = setting(10, low=2, high=1000)
    min_face: float = setting(0.22, above=0)
    max_face: float = setting(0.30, high=0.9)
    identity_jitter: float = setting(0.25, low=0)
    n_clutter: int = setting(8, low=0, high=24)
    noise_std: float = setting(0.06, low=0)
    crop_size: int = setting(16, low=4)
    body_cue: float = setting(0.3, low=0, high=1)

    def check(self, path: str) -> None:
        require(
            self.min_face <= self.max_face,
            f"{path}.min_face={self.min_face} exceeds max_face={self.max_face}; need "
            "0 < min <= max <= 0.9",
        )
        require(
            self.crop_size <= self.image_size,
            f"{path}.crop_size={self.crop_size} must be in [4, {path}.image_size]",
        )


@WORLDS.register("face_id", settings=FaceIdSettings)
@dataclass
class FaceIdWorld(FaceIdSettings):
    seed: int = 0

    @property
    def task_names(self) -> tuple[str, ...]:
        return (*LOCATION, TARGET)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (1, self.image_size, self.image_size)

    @property
    def task_specs(self) -> dict[str, TaskSpec]:
        specs = {name: TaskSpec(name, "regression", loc=0.5, scale=0.25) for name in LOCATION}
        return specs | {TARGET: TaskSpec(TARGET, "multiclass", num_classes=self.n_identities)}

    @property
    def intermediate_tasks(self) -> tuple[str, ...]:
        return LOCATION

    @property
    def target_task(self) -> str:
        return TARGET

    @property
    def stage2_input_shape(self) -> tuple[int, ...]:
        return (1, self.crop_size, self.crop_size)

    def stage2_input(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The ``crop_size`` window of x around the location z, kept inside the image."""
        return crop_at(x, z, self.crop_size)

    def traits(self, identity: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each identity's proportions (B,), fixed by the world seed."""
        ident = identity.to(torch.int64)
        return {
            name: lo + (hi - lo) * uniform(self.seed, _IDENTITY_STREAM, ident, k)
            for k, (name, (lo, hi)) in enumerate(_TRAITS.items())
        }

    def shirt(self, identity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each identity's shirt tone and stripe count (B,), fixed by the world seed."""
        ident = identity.to(torch.int64)
        lo, hi = _SHIRT_TONE
        tone = lo + (hi - lo) * uniform(self.seed, _IDENTITY_STREAM, ident, len(_TRAITS))
        bins = uniform(self.seed, _IDENTITY_STREAM, ident, len(_TRAITS) + 1) * _SHIRT_STRIPES
        return tone, bins.floor().clamp(max=_SHIRT_STRIPES - 1)

    def shirt_top(self, centre_row: torch.Tensor) -> torch.Tensor:
        """Where the shirt starts (fraction of the side): one pixel below the crop window
        around the face, wherever the border moved that window to."""
        n, c = self.image_size, self.crop_size
        window_top = (centre_row * n - c / 2).clamp(0.0, float(n - c))
        return (window_top + c + 1) / n

    def render(self, stream: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 1, H, W) uint8 and labels (B, 3): row, column, identity (as a float)."""
        index = index.to(torch.int64)
        n = self.image_size
        rng = SampleRandomness(self.seed, stream, index)
        rows, cols = shapes.pixel_grid(n, index.device)
        identity = (rng.uniform(_F_ID) * self.n_identities).floor().clamp(max=self.n_identities - 1)
        half = 0.5 * (self.min_face + (self.max_face - self.min_face) * rng.uniform(_F_SIZE))
        # Room below for the neck and shirt: the face's centre stays in the upper part.
        lowest = half.clamp(min=1 - _SHIRT_HEIGHT - (self.crop_size / 2 + 1) / n)
        centre_row = half + (lowest - half) * rng.uniform(_F_POS, 0)
        centre_col = half + (1 - 2 * half) * rng.uniform(_F_POS, 1)
        image = self._background(rng, rows)
        image = self._clutter(rng, rows, cols, image)
        image = self._body(rng, rows, cols, image, identity, half, centre_row, centre_col)
        image = self._face(rng, rows, cols, image, identity, half, centre_row, centre_col)
        image = image + self.noise_std * rng.pixel_noise(_F_NOISE, image.shape)
        quantised = (image.clamp(0, 1) * 255).round().to(torch.uint8).unsqueeze(1)
        return quantised, torch.stack([centre_row, centre_col, identity], dim=1)

    def _background(self, rng: SampleRandomness, rows: torch.Tensor) -> torch.Tensor:
        level = 0.25 + 0.3 * rng.uniform(_F_BG, 0)
        slope = (rng.uniform(_F_BG, 1) - 0.5) * 0.3
        n = self.image_size
        return (level.view(-1, 1, 1) + slope.view(-1, 1, 1) * (rows - 0.5)).expand(-1, n, n)

    def _clutter(self, rng, rows, cols, image: torch.Tensor) -> torch.Tensor:
        """Featureless face-sized ovals in skin tones, and bars: shapes a locator must reject."""
        lo, hi = _TRAITS["skin"]
        for c in range(self.n_clutter):
            cy, cx = rng.uniform(_F_CLUTTER, c, 0), rng.uniform(_F_CLUTTER, c, 1)
            r = 0.5 * (
                self.min_face + (self.max_face - self.min_face) * rng.uniform(_F_CLUTTER, c, 2)
            )
            level = lo + (hi - lo) * rng.uniform(_F_CLUTTER, c, 3)
            if c % 2 == 0:
                shape = _ellipse(rows, cols, cy, cx, r, 0.8 * r, self.image_size)
            else:
                long, thin = r * (1 + rng.uniform(_F_CLUTTER, c, 4)), 0.25 * r
                vertical = rng.uniform(_F_CLUTTER, c, 5) < 0.5
                ry, rx = torch.where(vertical, long, thin), torch.where(vertical, thin, long)
                shape = shapes.rect_mask(rows, cols, cx, cy, rx, ry).to(torch.float32)
            image = _paint(image, shape, level)
        return image

    def _body(self, rng, rows, cols, image, identity, half, cy, cx) -> torch.Tensor:
        """The identity's shirt (tone and stripes); the neck above it is drawn with the face."""
        tone, stripes = self.shirt(identity)
        lo, hi = _SHIRT_TONE
        tone = tone + _SHIRT_JITTER * (hi - lo) * rng.normal(_F_SHIRT, 0).clamp(-3, 3)
        tone = _PLAIN_SHIRT + self.body_cue * (tone.clamp(lo, hi) - _PLAIN_SHIRT)
        top = self.shirt_top(cy)
        shirt = shapes.rect_mask(
            rows,
            cols,
            cx,
            top + _SHIRT_HEIGHT / 2,
            1.5 * half,
            torch.full_like(half, _SHIRT_HEIGHT / 2),
        ).to(torch.float32)
        # Stripe k of 2s+1 equal bands down the shirt is dark when k is odd: s stripes.
        bands = 2 * stripes.view(-1, 1, 1) + 1
        band = ((rows - top.view(-1, 1, 1)) / _SHIRT_HEIGHT * bands).floor()
        dark = (band.remainder(2) == 1).to(torch.float32)
        level = tone.view(-1, 1, 1) - 0.3 * self.body_cue * dark
        return image * (1 - shirt) + level * shirt

    def _face(self, rng, rows, cols, image, identity, half, cy, cx) -> torch.Tensor:
        traits = self.traits(identity)
        for k, (name, (lo, hi)) in enumerate(_TRAITS.items()):
            jitter = self.identity_jitter * (hi - lo) * rng.normal(_F_JITTER, k).clamp(-3, 3)
            traits[name] = (traits[name] + jitter).clamp(lo, hi)
        n = self.image_size
        skin, dark = traits["skin"], torch.full_like(half, 0.08)
        # The neck shares this appearance's skin tone: drawn in the identity's own tone, it
        # would show inside the crop what the jitter hides on the face.
        top = self.shirt_top(cy)
        neck_half_w = _NECK_WIDTH * half + 0.5 / n
        neck = shapes.rect_mask(rows, cols, cx, 0.5 * (cy + top), neck_half_w, 0.5 * (top - cy))
        image = _paint(image, neck.to(torch.float32), skin)
        face = _ellipse(rows, cols, cy, cx, half, 0.8 * half, n)
        image = _paint(image, face, skin)
        hairline = cy - half + traits["hair"] * half
        hair = face * _soft((hairline.view(-1, 1, 1) - rows) * n)
        image = _paint(image, hair, torch.full_like(half, 0.15))
        eye_y, eye_r = cy + traits["eye_y"] * half, traits["eye_r"] * half
        for side in (-1.0, 1.0):
            eye_x = cx + side * traits["eye_dx"] * half
            image = _paint(image, _ellipse(rows, cols, eye_y, eye_x, eye_r, eye_r, n), dark)
        nose_half = 0.5 * traits["nose"] * half + 1e-3
        nose = _ellipse(rows, cols, eye_y + nose_half, cx, nose_half, 0.07 * half + 0.5 / n, n)
        image = _paint(image, nose, skin - 0.25)
        mouth_y, mouth_w = cy + traits["mouth_y"] * half, traits["mouth_w"] * half
        mouth = _ellipse(rows, cols, mouth_y, cx, 0.09 * half + 0.5 / n, mouth_w, n)
        return _paint(image, mouth, dark)
