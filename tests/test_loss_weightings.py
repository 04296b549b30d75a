"""FAMO and random loss weighting: equal to TorchJD's scalarizers where those apply (every task
present, the same seed), tasks without labels left out, exact resumes, and FAMO's second look
at the batch leaving the network's statistics alone."""

from __future__ import annotations

import pytest
import torch

from tasklab.data.tasks import TaskSpec
from tasklab.fit.losses import masked_multitask_loss
from tasklab.fit.module import TaskLabModule
from tasklab.models.backbones import TrunkShape
from tasklab.models.multihead import build_net
from tasklab.weightings import step_seed
from tasklab.weightings.famo import Famo
from tasklab.weightings.rlw import RandomLossWeighting

TASKS = [TaskSpec("a"), TaskSpec("b"), TaskSpec("c")]


def _losses(values: list[float | None]) -> tuple[dict, dict]:
    """sums and counts as the loss gives them: mean loss ``v`` over 4 labelled rows, or none."""
    sums, counts = {}, {}
    for spec, value in zip(TASKS, values, strict=True):
        n = 0.0 if value is None else 4.0
        sums[spec.name] = torch.tensor(0.0 if value is None else 4.0 * value, requires_grad=True)
        counts[spec.name] = torch.tensor(n)
    return sums, counts


def test_famo_equals_torchjds_when_every_task_is_present():
    from torchjd.scalarization import FAMO

    ours, theirs = Famo(TASKS, lr=0.1, weight_decay=1e-3), FAMO(3, lr=0.1, weight_decay=1e-3)
    steps = [([0.9, 0.5, 2.0], [0.7, 0.49, 1.9]), ([0.7, 0.49, 1.9], [0.6, 0.45, 1.2])]
    for before, after in steps:
        sums, counts = _losses(before)
        total, weights = ours.combine(sums, counts, 12)
        values = torch.tensor(before, requires_grad=True)
        expected = theirs(values)
        assert float(total.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
        # the gradient of the step's loss in each task's loss: FAMO's task weights
        (grad,) = torch.autograd.grad(expected, values)
        assert [float(weights[n]) for n in "abc"] == pytest.approx(grad.tolist(), rel=1e-5)
        assert sum(float(w) for w in weights.values()) == pytest.approx(1.0, rel=1e-5)
        ours.after_step(*_losses(after))
        theirs.update(torch.tensor(after))
        torch.testing.assert_close(ours.logits.detach(), theirs._w.detach())
    assert not torch.allclose(ours.logits, torch.zeros(3))  # the logits did move


def test_famo_leaves_an_unlabelled_task_out_and_resumes_exactly():
    famo = Famo(TASKS)
    sums, counts = _losses([0.9, None, 2.0])
    total, weights = famo.combine(sums, counts, 8)
    assert set(weights) == {"a", "c"}
    (grad_b,) = torch.autograd.grad(total, sums["b"], allow_unused=True)
    assert grad_b is None or float(grad_b) == 0.0
    famo.after_step(*_losses([0.8, None, 1.5]))
    restored = Famo(TASKS)
    restored.set_extra_state(famo.get_extra_state())
    for weighting in (famo, restored):
        weighting.combine(*_losses([0.8, 0.3, 1.5]), 12)
        weighting.after_step(*_losses([0.7, 0.3, 1.4]))
    torch.testing.assert_close(restored.logits, famo.logits)


def test_famos_second_look_at_the_batch_leaves_batchnorm_statistics_alone():
    torch.manual_seed(0)
    tasks = [TaskSpec("a"), TaskSpec("b")]
    net = build_net("cnn", (1, 16, 16), TrunkShape(width=4, depth=1), tasks)
    module = TaskLabModule(net, tasks, lr=1e-2, weighting=Famo(tasks))
    batch = {
        "x": torch.randn(8, 1, 16, 16),
        "y": (torch.rand(8, 2) > 0.5).float(),
        "mask": torch.ones(8, 2, dtype=torch.bool),
    }
    net.train()
    net(batch["x"])  # the step's own forward moves the running statistics once
    before = [b.clone() for b in net.buffers()]
    sums, _ = module._losses_after_step(batch)
    for saved, now in zip(before, net.buffers(), strict=True):
        assert torch.equal(saved, now)
    _, expected, _ = masked_multitask_loss(tasks, net(batch["x"]), batch["y"], batch["mask"])
    torch.testing.assert_close(sums["a"], expected["a"].detach())


def test_rlw_draws_torchjds_weights_from_the_runs_and_steps_seed():
    from torchjd.scalarization import Random

    rlw = RandomLossWeighting(TASKS)
    values = [0.9, 0.5, 2.0]
    totals = []
    for step in range(3):
        total, weights = rlw.combine(*_losses(values), 12)
        assert sum(float(w) for w in weights.values()) == pytest.approx(1.0)
        torch.manual_seed(step_seed(rlw.base_seed, step))
        expected = Random()(torch.tensor(values))
        assert float(total) == pytest.approx(float(expected), rel=1e-6)
        totals.append(float(total))
    assert len(set(totals)) == 3  # new weights every step
    _, weights = rlw.combine(*_losses([0.9, None, 2.0]), 8)
    assert set(weights) == {"a", "c"}
