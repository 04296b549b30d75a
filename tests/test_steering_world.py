"""The steering world draws the geometry z says, and steers as its planner says."""

from __future__ import annotations

import pytest
import torch

from tasklab.data.steering import GEOMETRY, SteeringWorld, planned_steering
from tasklab.data.world import TEST_STREAM, as_model_input

QUIET = {"noise_std": 0.0, "n_clutter": 0}


def test_steering_is_the_planner_on_z_plus_its_noise():
    world = SteeringWorld(steering_noise=0.0)
    _, labels = world.render(TEST_STREAM, torch.arange(256))
    z, y = labels[:, :5], labels[:, 5]
    torch.testing.assert_close(y, planned_steering(z))
    noisy = SteeringWorld(steering_noise=0.02).render(TEST_STREAM, torch.arange(4096))[1]
    assert abs((noisy[:, 5] - planned_steering(noisy[:, :5])).std().item() - 0.02) < 0.002


def test_the_planner_follows_the_lane_and_passes_the_obstacle_on_its_free_side():
    # lane curving right ahead, obstacle far: steer right; an obstacle near on the right of
    # a straight lane: steer left, and more the nearer it is
    far, near, nearer = (
        torch.tensor([[0.0, 0.0, 0.2, 0.9, 0.1]]),
        torch.tensor([[0.0, 0.0, 0.0, 0.5, 0.1]]),
        torch.tensor([[0.0, 0.0, 0.0, 0.2, 0.1]]),
    )
    assert planned_steering(far).item() > 0
    assert planned_steering(nearer).item() < planned_steering(near).item() < 0
    mirrored = near * torch.tensor([1.0, 1, 1, 1, -1])
    torch.testing.assert_close(planned_steering(mirrored), -planned_steering(near))


@pytest.mark.slow
def test_z_is_drawn_uniformly_in_the_declared_ranges():
    world = SteeringWorld()
    labels = world.render(TEST_STREAM, torch.arange(20_000))[1]
    for k, name in enumerate(GEOMETRY):
        spec = world.task_specs[name]
        assert abs(labels[:, k].mean().item() - spec.loc) < 0.01, name
        assert abs(labels[:, k].std().item() / spec.scale - 1) < 0.03, name
    assert (labels[:, 4].abs() >= 0.03).all()  # never dead ahead


def test_the_obstacle_and_the_lane_are_where_z_puts_them():
    world = SteeringWorld(**QUIET)
    x, labels = world.render(TEST_STREAM, torch.arange(64))
    image = as_model_input(x)[:, 0]
    offset, heading, curvature, distance, beside = labels[:, :5].unbind(1)
    n = world.image_size
    centres = (torch.arange(n) + 0.5) / n
    bright = image >= 0.97 * image.amax(dim=(1, 2), keepdim=True)  # the obstacle's inside
    weight = bright.float()
    rows = (weight.sum(2) * centres).sum(1) / weight.sum((1, 2))
    cols = (weight.sum(1) * centres).sum(1) / weight.sum((1, 2))
    lane_there = 0.5 + offset + heading * distance + curvature * distance.square()
    torch.testing.assert_close(rows, 1 - distance, atol=1.5 / n, rtol=0)
    torch.testing.assert_close(cols, lane_there + beside, atol=1.5 / n, rtol=0)
    # the road in the row nearest the car is centred on the lane there
    bottom = image[:, -1] - image[:, -1].amin(dim=1, keepdim=True)
    centre = (bottom * centres).sum(1) / bottom.sum(1)
    ahead = 0.5 / n
    torch.testing.assert_close(
        centre, 0.5 + offset + heading * ahead + curvature * ahead**2, atol=1.0 / n, rtol=0
    )
