"""The steering world: a road seen from above (x), the scene's geometry (z), a steering command (y).

The classic "less promising" end-to-end example: learning steering straight from pixels
against a pipeline that first finds the lane and the obstacle ahead and then plans. A 32x32
image shows a lane that bends away from the car (offset, heading and curvature of its centre
line), a car-sized obstacle somewhere in it, and a few round distractors that matter to
nothing. z is the geometry a perception stage would report; y is what a fixed planner steers:
towards the lane's centre at a look-ahead distance, and away from the obstacle, the more
urgently the nearer it is.

Unlike ``bone_age`` and ``face_id``, z carries everything y depends on (y is a function of z
plus a little noise), so a pipeline with perfect stages would be the best there is; with
learnt stages it is only as good as they are, which is what lets end to end catch up as
(image, steering) pairs grow.

z: ``lane_offset``, ``lane_heading``, ``lane_curvature`` (the centre line's column at distance t
ahead is 0.5 + offset + heading t + curvature t², in fractions of the side),
``obstacle_distance`` (t of the obstacle, 0 at the car, 1 at the top edge) and
``obstacle_offset`` (its column relative to the lane's centre there); y: ``steering``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from tasklab.data.counter_rng import SampleRandomness
from tasklab.data.tasks import TaskSpec
from tasklab.registry import WORLDS
from tasklab.settings import setting

GEOMETRY: tuple[str, ...] = (
    "lane_offset",
    "lane_heading",
    "lane_curvature",
    "obstacle_distance",
    "obstacle_offset",
)
TARGET = "steering"
LOOKAHEAD = 0.5  # the planner aims at the lane's centre this far ahead
CLEARANCE = 0.17  # it passes the obstacle with the car's centre this far from the obstacle's
_HALF_LANE, _EDGE = 0.18, 0.025
_OBSTACLE_HALF = (0.06, 0.05)  # half width, half length
_RANGES = {"lane_offset": 0.1, "lane_heading": 0.2, "lane_curvature": 0.2}
_OBSTACLE_T, _OBSTACLE_OFFSET = (0.15, 0.9), (0.03, 0.14)
_F_GEOMETRY, _F_SIGN, _F_CLUTTER, _F_LEVEL, _F_STEER, _F_NOISE = 1, 2, 3, 4, 5, 6


def planned_steering(z: torch.Tensor) -> torch.Tensor:
    """The planner's command (B,) from the geometry z (B, 5), before noise: follow the lane's
    centre at ``LOOKAHEAD`` and pass the obstacle at ``CLEARANCE`` on the side away from it,
    with an urgency that decays with its distance."""
    offset, heading, curvature, distance, beside = z.unbind(dim=1)
    follow = 2.0 * (offset + heading * LOOKAHEAD + curvature * LOOKAHEAD**2)
    urgency = torch.exp(-(distance - _OBSTACLE_T[0]) / 0.25)
    avoid = 2.5 * urgency * (beside - CLEARANCE * torch.sign(beside))
    return follow + avoid


def _soft_line(coord: torch.Tensor, centre: torch.Tensor, half: float, size: int) -> torch.Tensor:
    """Coverage in [0, 1] of each pixel by [centre - half, centre + half], anti-aliased."""
    return ((coord - centre + half) * size + 0.5).clamp(0, 1) * (
        (centre + half - coord) * size + 0.5
    ).clamp(0, 1)


@dataclass
class SteeringSettings:
    """The road scenes' knobs (``data.steering.*``)."""

    image_size: int = setting(32, low=16, high=256)
    noise_std: float = setting(0.08, low=0)
    n_clutter: int = setting(3, low=0, high=20, doc="round distractors, anywhere")
    steering_noise: float = setting(0.02, low=0, doc="sd of the planner's noise")


@WORLDS.register("steering", settings=SteeringSettings)
@dataclass
class SteeringWorld(SteeringSettings):
    seed: int = 0

    @property
    def task_names(self) -> tuple[str, ...]:
        return (*GEOMETRY, TARGET)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (1, self.image_size, self.image_size)

    @property
    def task_specs(self) -> dict[str, TaskSpec]:
        # loc and scale: each value's mean and standard deviation under the world's ranges
        uniform_sd = 1 / 12**0.5
        specs = {
            name: TaskSpec(name, "regression", loc=0.0, scale=2 * r * uniform_sd)
            for name, r in _RANGES.items()
        }
        lo, hi = _OBSTACLE_T
        specs["obstacle_distance"] = TaskSpec(
            "obstacle_distance", "regression", loc=(lo + hi) / 2, scale=(hi - lo) * uniform_sd
        )
        lo, hi = _OBSTACLE_OFFSET
        specs["obstacle_offset"] = TaskSpec(
            "obstacle_offset", "regression", loc=0.0, scale=math.sqrt((lo**2 + lo * hi + hi**2) / 3)
        )
        return specs | {TARGET: TaskSpec(TARGET, "regression", loc=0.0, scale=0.2)}

    @property
    def intermediate_tasks(self) -> tuple[str, ...]:
        return GEOMETRY

    @property
    def target_task(self) -> str:
        return TARGET

    @property
    def stage2_input_shape(self) -> tuple[int, ...]:
        return (len(GEOMETRY),)

    def stage2_input(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The geometry itself: stage 2 is the planner, learnt from (z, steering) records."""
        del x
        return z

    def geometry(self, rng: SampleRandomness) -> torch.Tensor:
        """z (B, 5): the lane's centre line and the obstacle, drawn uniformly in their ranges;
        the obstacle is never dead ahead, where the side to pass it would be a coin toss."""
        lane = [r * (2 * rng.uniform(_F_GEOMETRY, k) - 1) for k, r in enumerate(_RANGES.values())]
        lo, hi = _OBSTACLE_T
        distance = lo + (hi - lo) * rng.uniform(_F_GEOMETRY, 3)
        lo, hi = _OBSTACLE_OFFSET
        side = torch.where(rng.uniform(_F_SIGN) < 0.5, -1.0, 1.0)
        beside = side * (lo + (hi - lo) * rng.uniform(_F_GEOMETRY, 4))
        return torch.stack([*lane, distance, beside], dim=1)

    def render(self, stream: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 1, H, W) uint8 and labels (B, 6): the geometry, then the steering."""
        index = index.to(torch.int64)
        rng = SampleRandomness(self.seed, stream, index)
        z = self.geometry(rng)
        offset, heading, curvature, distance, beside = (v.view(-1, 1, 1) for v in z.unbind(1))
        n = self.image_size
        centres = (torch.arange(n, device=index.device, dtype=torch.float32) + 0.5) / n
        rows, cols = centres.view(1, n, 1), centres.view(1, 1, n)
        ahead = 1 - rows  # distance ahead of the car, which sits at the bottom centre
        centre = 0.5 + offset + heading * ahead + curvature * ahead.square()
        road = _soft_line(cols, centre, _HALF_LANE, n)
        edges = torch.maximum(
            _soft_line(cols, centre - _HALF_LANE, _EDGE, n),
            _soft_line(cols, centre + _HALF_LANE, _EDGE, n),
        )
        obstacle_row = 1 - distance
        obstacle_col = 0.5 + offset + heading * distance + curvature * distance.square() + beside
        obstacle = _soft_line(cols, obstacle_col, _OBSTACLE_HALF[0], n) * _soft_line(
            rows, obstacle_row, _OBSTACLE_HALF[1], n
        )
        clutter = torch.zeros_like(road.expand(len(index), n, n))
        for k in range(self.n_clutter):
            cy = rng.uniform(_F_CLUTTER, 2 * k).view(-1, 1, 1)
            cx = rng.uniform(_F_CLUTTER, 2 * k + 1).view(-1, 1, 1)
            inside = ((rows - cy).square() + (cols - cx).square()).sqrt() <= 0.045
            clutter = torch.maximum(clutter, inside.to(torch.float32))
        exposure = (0.85 + 0.3 * rng.uniform(_F_LEVEL, 0)).view(-1, 1, 1)
        image = 0.12 + 0.18 * road + 0.5 * edges
        image = torch.maximum(image, 0.55 * clutter)
        image = torch.maximum(image, 0.95 * obstacle)
        image = image * exposure + self.noise_std * rng.pixel_noise(_F_NOISE, (len(index), n, n))
        quantised = (image.clamp(0, 1) * 255).round().to(torch.uint8).unsqueeze(1)
        steering = planned_steering(z) + self.steering_noise * rng.normal(_F_STEER)
        return quantised, torch.cat([z, steering.unsqueeze(1)], dim=1)
