import math

import torch

from tasklab.data.tasks import TaskSpec
from tasklab.fit.losses import masked_multitask_loss

TASKS = [TaskSpec("a"), TaskSpec("b")]


def _bce(logit: float, label: float) -> float:
    return math.log1p(math.exp(-logit)) if label == 1 else math.log1p(math.exp(logit))


def test_masked_loss_equals_the_seed_formula_by_hand():
    logits_a = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    logits_b = torch.tensor([1.0, 0.0, -0.5], requires_grad=True)
    targets = torch.tensor([[1.0, 0.0], [0.0, float("nan")], [1.0, 1.0]])
    mask = torch.tensor([[True, True], [True, False], [True, True]])
    loss, _, counts = masked_multitask_loss(TASKS, {"a": logits_a, "b": logits_b}, targets, mask)
    by_hand = (
        _bce(0.5, 1) + _bce(-1.0, 0) + _bce(2.0, 1) + _bce(1.0, 0) + _bce(-0.5, 1)
    ) / 3  # (1/m) with m = 3 examples, summing over labelled (i, j) only
    torch.testing.assert_close(loss, torch.tensor(by_hand), rtol=1e-6, atol=1e-7)
    assert counts["a"] == 3 and counts["b"] == 2
    loss.backward()
    assert logits_b.grad is not None and logits_b.grad[1] == 0.0  # masked: zero gradient
    assert torch.isfinite(logits_b.grad).all()  # the NaN target did not leak
    # d/dz of BCE is sigmoid(z) - y, scaled by 1/m
    torch.testing.assert_close(
        logits_a.grad, (torch.sigmoid(logits_a.detach()) - targets[:, 0]) / 3
    )


def test_task_without_labels_in_batch_gives_no_nan_and_no_gradient():
    head = torch.nn.Linear(4, 2)
    x = torch.randn(5, 4)
    out = head(x)
    outputs = {"a": out[:, 0], "b": out[:, 1]}
    targets = torch.zeros(5, 2)
    mask = torch.zeros(5, 2, dtype=torch.bool)
    mask[:, 0] = True  # task b has no label at all in this batch
    loss, sums, counts = masked_multitask_loss(TASKS, outputs, targets, mask)
    assert torch.isfinite(loss) and sums["b"] == 0 and counts["b"] == 0
    loss.backward()
    assert head.weight.grad is not None
    assert torch.count_nonzero(head.weight.grad[1]) == 0  # b's head untouched
    assert torch.count_nonzero(head.weight.grad[0]) > 0


def test_regression_and_multiclass_kinds():
    tasks = [TaskSpec("r", kind="regression"), TaskSpec("c", kind="multiclass", num_classes=3)]
    outputs = {"r": torch.tensor([1.0, 2.0]), "c": torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])}
    targets = torch.tensor([[0.0, 0.0], [4.0, 2.0]])
    mask = torch.tensor([[True, True], [True, False]])
    loss, sums, _ = masked_multitask_loss(tasks, outputs, targets, mask)
    ce = -math.log(math.exp(2) / (math.exp(2) + 2))
    torch.testing.assert_close(sums["r"], torch.tensor(1.0 + 4.0))
    torch.testing.assert_close(sums["c"], torch.tensor(ce))
    torch.testing.assert_close(loss, torch.tensor((5.0 + ce) / 2))


def test_regression_loss_is_measured_in_units_of_the_targets_spread():
    # age in years (spread 5) and a length in fractions (spread 0.1): by hand, each squared
    # error is divided by its task's spread squared, then the sum by the batch size
    tasks = [
        TaskSpec("age", "regression", loc=9.5, scale=5.0),
        TaskSpec("length", "regression", loc=0.3, scale=0.1),
    ]
    outputs = {"age": torch.tensor([10.0, 4.0]), "length": torch.tensor([0.35, 0.2])}
    targets = torch.tensor([[12.0, 0.30], [5.0, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])
    total, sums, counts = masked_multitask_loss(tasks, outputs, targets, mask)
    by_hand_age = ((10 - 12) / 5) ** 2 + ((4 - 5) / 5) ** 2
    by_hand_length = ((0.35 - 0.30) / 0.1) ** 2
    assert math.isclose(float(sums["age"]), by_hand_age, rel_tol=1e-5)
    assert math.isclose(float(sums["length"]), by_hand_length, rel_tol=1e-5)
    assert math.isclose(float(total), (by_hand_age + by_hand_length) / 2, rel_tol=1e-5)
    assert counts["length"] == 1


def test_regression_heads_predict_in_the_targets_units():
    from tasklab.models.multihead import MultiHeadNet

    spec = TaskSpec("age", "regression", loc=9.5, scale=5.0)
    net = MultiHeadNet(torch.nn.Identity(), 3, [spec])
    torch.nn.init.zeros_(net.heads["age"][0].weight)
    torch.nn.init.zeros_(net.heads["age"][0].bias)
    # a fresh head with zero output predicts the typical age, not 0 years
    torch.testing.assert_close(net(torch.randn(4, 3))["age"], torch.full((4,), 9.5))
