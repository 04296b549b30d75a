"""The bone-age world: a synthetic hand x-ray, its bone lengths (z) and the child's age (y).

An image shows four finger bones over a hand silhouette. Each bone's shaft grows with age on
its own curve: the first matures early, the last keeps growing (time constants 2, 5, 10 and 20
years), times the child's body size (shared by all bones: ``size_sd``) and a small variation of
its own (``bone_sd``). Body size hides age in any one length, so age is read from how the
lengths compare: z → y is a smooth but nonlinear function of the four lengths that an MLP
learns from plentiful (z, y) records, while end to end a network must also learn to measure
them from pixels.

The image also holds a cue that z leaves out, as real pipelines do: a growth-plate gap between
each shaft and its cap that narrows with age and closes at ``plate_closure_age``. Only x → y
can use it, so with enough (x, y) pairs end-to-end learning can overtake the pipeline;
``plate_gap=0`` removes the cue and z then carries all there is to know.

z: ``bone_0`` … ``bone_3``, shaft lengths as fractions of the image side; y: ``age`` in years.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from tasklab.data import shapes
from tasklab.data.counter_rng import SampleRandomness
from tasklab.data.tasks import TaskSpec
from tasklab.registry import WORLDS
from tasklab.settings import require, setting

BONES: tuple[str, ...] = ("bone_0", "bone_1", "bone_2", "bone_3")
TARGET = "age"
_ADULT_LENGTH = (0.40, 0.46, 0.43, 0.36)  # adult shaft lengths at body size 1
_GROWTH_YEARS = (2.0, 5.0, 10.0, 20.0)  # each bone's growth time constant
_COLUMN = (0.26, 0.42, 0.58, 0.74)
_BASE_ROW, _CAP, _HALF_WIDTH = 0.86, 0.04, 0.028
_F_AGE, _F_SIZE, _F_BONE, _F_COL, _F_LEVEL, _F_NOISE = 1, 2, 3, 4, 5, 6


def growth(age: torch.Tensor, years: float, age_max: float) -> torch.Tensor:
    """Fraction of adult length at ``age``: 0.35 at birth, 1 at ``age_max``, saturating."""
    return 0.35 + 0.65 * (1 - torch.exp(-age / years)) / (1 - math.exp(-age_max / years))


def _soft_band(coord: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, size: int) -> torch.Tensor:
    """Coverage in [0, 1] of each pixel by the interval [lo, hi] (anti-aliased over one pixel),
    so that lengths below a pixel still change the image."""
    lo, hi = lo.view(-1, 1, 1), hi.view(-1, 1, 1)
    return ((coord - lo) * size + 0.5).clamp(0, 1) * ((hi - coord) * size + 0.5).clamp(0, 1)


@dataclass
class BoneAgeSettings:
    """The hand x-rays' knobs (``data.bone_age.*``)."""

    image_size: int = setting(32, low=16, high=256)
    noise_std: float = setting(0.08, low=0)
    age_min: float = setting(1.0, low=0)
    age_max: float = 18.0
    size_sd: float = setting(0.15, low=0)
    bone_sd: float = setting(0.02, low=0)
    plate_gap: float = setting(0.05, low=0, high=0.1, doc="wider would not fit the image")
    plate_closure_age: float = setting(15.0, above=0)

    def check(self, path: str) -> None:
        require(
            self.age_min < self.age_max,
            f"{path}.age_min={self.age_min}, age_max={self.age_max}: need 0 <= min < max",
        )


@WORLDS.register("bone_age", settings=BoneAgeSettings)
@dataclass
class BoneAgeWorld(BoneAgeSettings):
    seed: int = 0

    @property
    def task_names(self) -> tuple[str, ...]:
        return (*BONES, TARGET)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (1, self.image_size, self.image_size)

    @property
    def task_specs(self) -> dict[str, TaskSpec]:
        specs = {name: TaskSpec(name, "regression", loc=0.35, scale=0.08) for name in BONES}
        mid, spread = (self.age_min + self.age_max) / 2, (self.age_max - self.age_min) / 12**0.5
        return specs | {TARGET: TaskSpec(TARGET, "regression", loc=mid, scale=spread)}

    @property
    def intermediate_tasks(self) -> tuple[str, ...]:
        return BONES

    @property
    def target_task(self) -> str:
        return TARGET

    @property
    def stage2_input_shape(self) -> tuple[int, ...]:
        return (len(BONES),)

    def stage2_input(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The measurements themselves: stage 2 maps four lengths to an age."""
        del x
        return z

    def _anatomy(self, rng: SampleRandomness) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Age (B,), body size (B,) and shaft lengths (B, 4)."""
        age = self.age_min + (self.age_max - self.age_min) * rng.uniform(_F_AGE)
        size = torch.exp(self.size_sd * rng.normal(_F_SIZE).clamp(-2.5, 2.5))
        lengths = torch.stack(
            [
                adult
                * growth(age, years, self.age_max)
                * size
                * torch.exp(self.bone_sd * rng.normal(_F_BONE, k).clamp(-3, 3))
                for k, (adult, years) in enumerate(zip(_ADULT_LENGTH, _GROWTH_YEARS, strict=True))
            ],
            dim=1,
        )
        return age, size, lengths

    def render(self, stream: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 1, H, W) uint8 and labels (B, 5): four lengths, then age in years."""
        index = index.to(torch.int64)
        rng = SampleRandomness(self.seed, stream, index)
        age, size, lengths = self._anatomy(rng)
        rows, cols = shapes.pixel_grid(self.image_size, index.device)
        n = self.image_size
        exposure = 0.85 + 0.3 * rng.uniform(_F_LEVEL, 0)
        background = (0.10 + 0.08 * rng.uniform(_F_LEVEL, 1)).view(-1, 1, 1)
        image = background.expand(-1, n, n).clone()
        base = torch.full_like(age, _BASE_ROW)
        gap = self.plate_gap * (1 - age / self.plate_closure_age).clamp(min=0)
        tissue = _soft_band(rows, base - 0.06, torch.full_like(age, 1.0), n) * _soft_band(
            cols, torch.full_like(age, 0.14), torch.full_like(age, 0.86), n
        )
        bone = torch.zeros_like(image)
        for k in range(len(BONES)):
            centre = _COLUMN[k] + 0.03 * (rng.uniform(_F_COL, k) - 0.5)
            half = _HALF_WIDTH * size
            across = _soft_band(cols, centre - 2.2 * half, centre + 2.2 * half, n)
            top = base - lengths[:, k]
            cap_low = top - gap
            tissue = torch.maximum(
                tissue, across * _soft_band(rows, cap_low - _CAP - 0.04, base, n)
            )
            across = _soft_band(cols, centre - half, centre + half, n)
            shaft = _soft_band(rows, top, base, n)
            cap = _soft_band(rows, cap_low - _CAP, cap_low, n)
            bone = torch.maximum(bone, across * torch.maximum(shaft, cap))
        image = image + 0.22 * tissue + 0.5 * bone
        image = image * exposure.view(-1, 1, 1)
        image = image + self.noise_std * rng.pixel_noise(_F_NOISE, image.shape)
        quantised = (image.clamp(0, 1) * 255).round().to(torch.uint8).unsqueeze(1)
        return quantised, torch.cat([lengths, age.unsqueeze(1)], dim=1)
