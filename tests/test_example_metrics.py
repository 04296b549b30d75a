"""Metrics recomputed from stored predictions equal torchmetrics', and weights are draws."""

import numpy as np
import pytest
import torch

from tasklab.data.tasks import TaskSpec
from tasklab.fit.metrics import metric_collection
from tasklab.fit.prediction_collector import PredictionCollector
from tasklab.prediction_metrics import metric_value
from tasklab.predictions import TaskPredictions, load_predictions, save_predictions

SPECS = [
    TaskSpec("b", "binary"),
    TaskSpec("c", "multiclass", num_classes=4),
    TaskSpec("r", "regression"),
]


def _outputs(n: int, seed: int = 0) -> tuple[dict, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    targets = torch.stack(
        [
            torch.randint(0, 2, (n,), generator=g).float(),
            torch.randint(0, 4, (n,), generator=g).float(),
            torch.randn(n, generator=g) * 3 + 10,
        ],
        dim=1,
    )
    outputs = {
        # a few exactly tied scores, as a saturated model gives
        "b": torch.round(torch.randn(n, 1, generator=g) + targets[:, :1], decimals=1),
        "c": torch.randn(n, 4, generator=g) + torch.nn.functional.one_hot(targets[:, 1].long(), 4),
        "r": (targets[:, 2] + torch.randn(n, generator=g)).reshape(-1, 1),
    }
    mask = torch.rand(n, 3, generator=g) > 0.2
    return outputs, targets, mask


def test_recomputed_metrics_equal_torchmetrics_and_survive_the_file(tmp_path):
    outputs, targets, mask = _outputs(600)
    collector = PredictionCollector(SPECS)
    for rows in torch.arange(600).split(128):  # in batches, as an evaluation runs
        collector.update({k: v[rows] for k, v in outputs.items()}, targets[rows], mask[rows], rows)
    save_predictions(tmp_path, {"test": collector.result()})
    stored = load_predictions(tmp_path / "predictions.npz")["test"]
    for column, spec in enumerate(SPECS):
        known = mask[:, column]
        expected = metric_collection(spec)
        pred = outputs[spec.name][known]
        pred = torch.sigmoid(pred).reshape(-1) if spec.kind == "binary" else pred
        target = targets[known, column]
        expected.update(
            pred.reshape(-1) if spec.kind == "regression" else pred,
            target if spec.kind == "regression" else target.long(),
        )
        for name, value in expected.compute().items():
            got = float(metric_value(stored[spec.name], name)[0])
            assert got == pytest.approx(float(value), abs=1e-6), (spec.name, name)
        assert stored[spec.name].index.tolist() == torch.nonzero(known).flatten().tolist()


def test_counts_act_as_a_resample_of_the_examples():
    rng = np.random.default_rng(0)
    p = TaskPredictions(
        "binary", np.arange(50), rng.integers(0, 2, 50).astype(np.int16), rng.random(50)
    )
    draw = rng.integers(0, 50, 50)
    counts = np.bincount(draw, minlength=50)[:, None].astype(np.float64)
    resampled = TaskPredictions("binary", np.arange(50), p.target[draw], p.output[draw])
    for name in ("auroc", "accuracy", "f1"):
        assert metric_value(p, name, counts)[0] == pytest.approx(
            metric_value(resampled, name)[0], abs=1e-6
        )
