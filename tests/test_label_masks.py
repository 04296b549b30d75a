import torch

from tasklab.data.label_masks import TaskBudget, label_mask


def test_rate_and_size_are_respected():
    index = torch.arange(50_000)
    mask = label_mask(0, index, 2, TaskBudget(n_train=40_000, label_rate=0.3))
    assert not mask[40_000:].any()
    assert abs(float(mask[:40_000].float().mean()) - 0.3) < 0.01


def test_masks_are_nested_and_deterministic():
    index = torch.arange(10_000)
    small = label_mask(5, index, 0, TaskBudget(1_000, 0.5))
    large = label_mask(5, index, 0, TaskBudget(10_000, 0.5))
    assert torch.equal(small, label_mask(5, index, 0, TaskBudget(1_000, 0.5)))
    assert bool((large | ~small).all())  # every label kept at 1,000 is kept at 10,000


def test_tasks_and_seeds_hide_different_labels():
    index = torch.arange(10_000)
    budget = TaskBudget(10_000, 0.5)
    a, b = label_mask(0, index, 0, budget), label_mask(0, index, 1, budget)
    c = label_mask(1, index, 0, budget)
    assert 0.45 < float((a == b).float().mean()) < 0.55
    assert 0.45 < float((a == c).float().mean()) < 0.55


def test_rate_edges():
    index = torch.arange(1000)
    assert label_mask(0, index, 0, TaskBudget(1000, 1.0)).all()
    assert not label_mask(0, index, 0, TaskBudget(1000, 0.0)).any()
