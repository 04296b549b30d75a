"""TorchJD's gradient aggregators behind ``mtl/weighting=``: each against the property its paper
states, tasks without labels left out, reproducible random draws, and exact resumes."""

from __future__ import annotations

import pytest
import torch

from tasklab.registry import WEIGHTINGS
from tasklab.weightings import weighting_settings
from tasklab.weightings.jacobian import JacobianWeighting, task_jacobian

from .test_weighting import TASKS, _batch

AGGREGATORS = [
    "upgrad",
    "mgda",
    "cagrad",
    "imtl_g",
    "nash_mtl",
    "dualproj",
    "graddrop",
    "aligned_mtl",
    "pcgrad",
]
G1, G2 = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([-2.0, 1.0, 0.5])  # they conflict
CONFLICTING = torch.stack([G1, G2])


def build(name: str, **settings) -> JacobianWeighting:
    defaults = weighting_settings(name)()
    values = {k: v for k, v in vars(defaults).items() if k != "name"}
    return WEIGHTINGS.get(name).target(TASKS, **{**values, **settings})


def test_every_aggregator_is_registered_as_a_gradient_weighting():
    for name in AGGREGATORS:
        assert issubclass(WEIGHTINGS.get(name).target, JacobianWeighting), name


@pytest.mark.parametrize("name", AGGREGATORS)
def test_a_task_without_labels_has_no_row_and_no_weight(name):
    torch.manual_seed(0)
    net, sums, counts = _batch()  # task c has no label in the batch
    weighting = build(name)
    total, _ = weighting.combine(sums, counts, 6)
    shared = list(net.trunk.parameters())
    expected_rows = task_jacobian([sums["a"] / counts["a"], sums["b"] / counts["b"]], shared)
    weights = weighting.backward(total, sums, counts, shared, lambda loss: loss.backward())
    head_c = net.heads["c"].weight.grad
    assert head_c is None or not head_c.any()
    if weights is not None:
        assert set(weights) == {"a", "b"}
    trunk = torch.cat([p.grad.reshape(-1) for p in shared])
    assert torch.isfinite(trunk).all() and trunk.any()
    # the update lies in the span of the present tasks' gradients: c took no part
    solution = torch.linalg.lstsq(expected_rows.T, trunk.unsqueeze(1)).solution
    if name != "graddrop":  # GradDrop masks coordinates: its update leaves the span
        torch.testing.assert_close(
            (expected_rows.T @ solution).squeeze(1), trunk, atol=1e-5, rtol=1e-4
        )


@pytest.mark.parametrize("name", AGGREGATORS)
def test_one_present_task_steps_along_its_own_gradient(name):
    net, sums, counts = _batch()
    counts["b"] = torch.zeros_like(counts["b"])  # only a is labelled
    sums["b"] = sums["b"] * 0
    weighting = build(name)
    total, _ = weighting.combine(sums, counts, 6)
    shared = list(net.trunk.parameters())
    own = task_jacobian([sums["a"] / counts["a"]], shared)[0]
    assert weighting.backward(total, sums, counts, shared, lambda loss: loss.backward()) is None
    torch.testing.assert_close(torch.cat([p.grad.reshape(-1) for p in shared]), own)


@pytest.mark.parametrize("name", ["upgrad", "dualproj", "mgda", "nash_mtl"])
def test_the_update_conflicts_with_no_task(name):
    direction, _ = build(name).aggregate(("a", "b"), CONFLICTING)
    assert float(direction @ G1) > 0 and float(direction @ G2) > 0
    assert float(CONFLICTING.sum(0) @ G1) > 0 > float(torch.tensor([-3.0, 1.0, 0.0]) @ G1)


def test_mgda_is_the_minimum_norm_point_of_the_gradients_hull():
    w = float(((G2 - G1) @ G2) / ((G1 - G2) @ (G1 - G2)))
    direction, weights = build("mgda").aggregate(("a", "b"), CONFLICTING)
    torch.testing.assert_close(direction, w * G1 + (1 - w) * G2, atol=1e-4, rtol=1e-4)
    assert weights.tolist() == pytest.approx([w, 1 - w], abs=1e-4)


def test_imtl_g_projects_equally_onto_every_tasks_unit_gradient():
    direction, _ = build("imtl_g").aggregate(("a", "b"), CONFLICTING)
    assert float(direction @ G1 / G1.norm()) == pytest.approx(float(direction @ G2 / G2.norm()))


def test_cagrad_with_c_zero_is_the_mean_gradient():
    direction, _ = build("cagrad", c=0.0).aggregate(("a", "b"), CONFLICTING)
    torch.testing.assert_close(direction, CONFLICTING.mean(0))


def test_aligned_mtl_makes_the_tasks_gradients_equally_long_and_orthogonal():
    direction, weights = build("aligned_mtl").aggregate(("a", "b"), CONFLICTING)
    # J = U S Vᵀ made orthogonal with every singular value the smallest (scale_mode=min):
    # the update is the mean of those aligned gradients, not of the raw ones
    u, s, vh = torch.linalg.svd(CONFLICTING, full_matrices=False)
    torch.testing.assert_close(direction, (s.min() * u @ vh).mean(0))
    assert weights is not None and not torch.allclose(direction, CONFLICTING.mean(0))


def test_random_draws_follow_the_runs_seed_and_the_step_not_the_global_generator():
    jacobian = torch.randn(3, 50, generator=torch.Generator().manual_seed(1))
    first, second = build("graddrop"), build("graddrop")
    state = torch.get_rng_state()
    a = first.aggregate(("a", "b", "c"), jacobian)[0]
    assert torch.equal(torch.get_rng_state(), state)  # the global stream is untouched
    torch.manual_seed(123)  # whatever else the process draws
    torch.testing.assert_close(second.aggregate(("a", "b", "c"), jacobian)[0], a)
    second.steps += 1
    assert not torch.equal(second.aggregate(("a", "b", "c"), jacobian)[0], a)


@pytest.mark.parametrize("name", ["graddrop", "nash_mtl"])
def test_a_restored_weighting_continues_as_the_unbroken_one(name):
    torch.manual_seed(7)
    jacobians = [torch.randn(3, 20) for _ in range(4)]
    unbroken, broken = build(name), build(name)
    present = ("a", "b", "c")
    for weighting in (unbroken, broken):
        for jacobian in jacobians[:2]:
            weighting.aggregate(present, jacobian)
            weighting.steps += 1
    restored = build(name)
    restored.set_extra_state(broken.get_extra_state())
    for jacobian in jacobians[2:]:
        expected = unbroken.aggregate(present, jacobian)[0]
        unbroken.steps += 1
        got = restored.aggregate(present, jacobian)[0]
        restored.steps += 1
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-3)


def test_nash_mtl_keeps_a_state_per_set_of_present_tasks():
    weighting = build("nash_mtl")
    weighting.aggregate(("a", "b", "c"), torch.randn(3, 10))
    weighting.aggregate(("a", "b"), torch.randn(2, 10))  # c unlabelled in this batch
    assert set(weighting._aggregators) == {("a", "b", "c"), ("a", "b")}
    stateless = build("upgrad")
    stateless.aggregate(("a", "b", "c"), torch.randn(3, 10))
    stateless.aggregate(("a", "b"), torch.randn(2, 10))
    assert set(stateless._aggregators) == {()}  # one for every set
