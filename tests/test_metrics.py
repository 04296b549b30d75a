import torch

from tasklab.data.tasks import TaskSpec
from tasklab.fit.metrics import TaskMetrics, with_task_means


def test_metrics_use_labelled_entries_only():
    metrics = TaskMetrics([TaskSpec("a"), TaskSpec("b")])
    # logits: a ranks its labelled entries perfectly; the unlabelled entry of a would ruin it
    outputs = {"a": torch.tensor([3.0, -3.0, 5.0, -2.0]), "b": torch.tensor([1.0, 1.0, -1.0, -1.0])}
    targets = torch.tensor([[1.0, 1.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    mask = torch.tensor([[True, True], [True, True], [False, True], [True, True]])
    metrics.update(outputs, targets, mask)
    values = metrics.compute("val")
    assert values["val/a/auroc"] == 1.0 and values["val/a/accuracy"] == 1.0
    # b: predictions (p>0.5) = [1, 1, 0, 0] vs labels [1, 0, 1, 0] -> accuracy 0.5
    assert values["val/b/accuracy"] == 0.5
    assert values["val/b/auroc"] == 0.5
    assert values["val/mean/auroc"] == 0.75


def test_task_never_labelled_is_left_out_not_zero():
    metrics = TaskMetrics([TaskSpec("a"), TaskSpec("b")])
    mask = torch.tensor([[True, False], [True, False]])
    metrics.update(
        {"a": torch.tensor([1.0, -1.0]), "b": torch.zeros(2)},
        torch.tensor([[1.0, 0], [0, 0]]),
        mask,
    )
    values = metrics.compute("test")
    assert "test/b/auroc" not in values and values["test/mean/auroc"] == 1.0


def test_with_task_means_recomputes_over_all_tasks():
    merged = with_task_means(
        {"test/a/auroc": 0.8, "test/mean/auroc": 0.8, "test/b/auroc": 0.6, "val/a/f1": 0.5}
    )
    assert merged["test/mean/auroc"] == 0.7 and merged["val/mean/f1"] == 0.5
