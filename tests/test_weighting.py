"""Loss weightings against hand computations, and tasks without labels left out."""

from __future__ import annotations

import math

import pytest
import torch

from tasklab.config_checks import ConfigError
from tasklab.data.tasks import TaskSpec
from tasklab.fit.losses import masked_multitask_loss
from tasklab.fit.module import TaskLabModule
from tasklab.models.backbones import TrunkShape
from tasklab.models.multihead import build_net
from tasklab.runner import train
from tasklab.weightings import step_seed
from tasklab.weightings.dwa import DynamicWeightAverage
from tasklab.weightings.equal import EqualWeighting
from tasklab.weightings.gradnorm import GradNorm
from tasklab.weightings.pcgrad import PCGrad
from tasklab.weightings.static import StaticWeighting
from tasklab.weightings.uncertainty import UncertaintyWeighting

from .conftest import TINY

TASKS = [TaskSpec("a", "binary"), TaskSpec("b", "regression", scale=2.0), TaskSpec("c")]


def _batch(seed: int = 0, c_labelled: bool = False):
    """Six rows, three tasks; task c has no label in the batch unless asked for."""
    generator = torch.Generator().manual_seed(seed)
    net = build_net("mlp", (5,), TrunkShape(width=8, depth=1), TASKS)
    x = torch.randn(6, 5, generator=generator)
    y = torch.stack(
        [
            (torch.rand(6, generator=generator) > 0.5).float(),
            3 * torch.randn(6, generator=generator),
            (torch.rand(6, generator=generator) > 0.5).float(),
        ],
        dim=1,
    )
    mask = torch.ones(6, 3, dtype=torch.bool)
    mask[::2, 0] = False  # a labelled on 3 rows
    mask[:, 2] = c_labelled
    outputs = net(x)
    _, sums, counts = masked_multitask_loss(TASKS, outputs, y, mask)
    return net, sums, counts


def test_equal_is_the_seeds_formula():
    _, sums, counts = _batch()
    total, weights = EqualWeighting(TASKS).combine(sums, counts, batch_size=6)
    torch.testing.assert_close(total, (sums["a"] + sums["b"]) / 6)
    assert set(weights) == {"a", "b"}


def test_static_weighs_each_tasks_mean_loss():
    _, sums, counts = _batch()
    total, weights = StaticWeighting(TASKS, {"a": 2.0, "b": 0.5, "c": 9.0}).combine(sums, counts, 6)
    expected = 2.0 * sums["a"] / 3 + 0.5 * sums["b"] / 6
    torch.testing.assert_close(total, expected)
    assert {k: float(v) for k, v in weights.items()} == {"a": 2.0, "b": 0.5}


def test_uncertainty_loss_and_its_gradient_in_the_log_variances():
    _, sums, counts = _batch()
    weighting = UncertaintyWeighting(TASKS)
    with torch.no_grad():
        weighting.log_vars.copy_(torch.tensor([0.3, -0.4, 0.7]))
    total, weights = weighting.combine(sums, counts, 6)
    la, lb = float(sums["a"].detach() / 3), float(sums["b"].detach() / 6)
    s_a, s_b = 0.3, -0.4
    expected = math.exp(-s_a) * la + 0.5 * s_a + 0.5 * math.exp(-s_b) * lb + 0.5 * s_b
    assert float(total.detach()) == pytest.approx(expected, rel=1e-6)
    (grad,) = torch.autograd.grad(total, weighting.log_vars)
    assert grad.tolist() == pytest.approx(
        [-math.exp(-s_a) * la + 0.5, -0.5 * math.exp(-s_b) * lb + 0.5, 0.0], rel=1e-5
    )
    assert float(weights["b"]) == pytest.approx(0.5 * math.exp(0.4)) and "c" not in weights


def test_dwa_weights_follow_the_ratio_of_the_last_two_windows():
    weighting = DynamicWeightAverage(TASKS, period=2, temperature=2.0)
    ones = {n: torch.tensor(1.0) for n in ("a", "b", "c")}
    assert weighting.current_weights() == [1.0, 1.0, 1.0]
    for losses in ([4.0, 2.0, 1.0], [4.0, 2.0, 1.0], [2.0, 2.0, 2.0], [2.0, 2.0, 2.0]):
        weighting.record({n: torch.tensor(v) for n, v in zip("abc", losses, strict=True)}, ones)
    ratios = [2.0 / 4.0, 2.0 / 2.0, 2.0 / 1.0]
    exps = [math.exp(r / 2.0) for r in ratios]
    expected = [3 * e / sum(exps) for e in exps]
    assert weighting.current_weights() == pytest.approx(expected)
    assert sum(weighting.current_weights()) == pytest.approx(3.0)


@pytest.mark.parametrize(
    "weighting",
    [
        EqualWeighting(TASKS),
        StaticWeighting(TASKS, {"a": 1.0, "b": 1.0, "c": 1.0}),
        UncertaintyWeighting(TASKS),
        DynamicWeightAverage(TASKS, period=1, temperature=2.0),
        GradNorm(TASKS, alpha=1.5),
        PCGrad(TASKS),
    ],
    ids=["equal", "static", "uncertainty", "dwa", "gradnorm", "pcgrad"],
)
def test_a_task_without_labels_gets_no_weight_and_no_gradient(weighting):
    net, sums, counts = _batch()
    total, weights = weighting.combine(sums, counts, 6)
    assert "c" not in weights
    total.backward()
    head_c = net.heads["c"].weight.grad
    assert head_c is None or not head_c.any()
    assert net.heads["a"].weight.grad is not None and net.heads["a"].weight.grad.any()
    if isinstance(weighting, UncertaintyWeighting):
        assert float(weighting.log_vars.grad[2]) == 0.0


def reference_pcgrad(grads: list[torch.Tensor], seed: int) -> torch.Tensor:
    """PCGrad as its paper's Algorithm 1 states it (tasklab's own implementation before it used
    TorchJD's): each gradient projected off every other one it conflicts with, in a random
    order drawn per task from a generator seeded with ``seed``; the projections summed."""
    generator = torch.Generator().manual_seed(seed)
    projected = []
    for i, grad in enumerate(grads):
        g = grad.clone()
        for j in torch.randperm(len(grads), generator=generator).tolist():
            dot = torch.dot(g, grads[j])
            if j != i and dot < 0:
                g = g - dot / torch.dot(grads[j], grads[j]) * grads[j]
        projected.append(g)
    return torch.stack(projected).sum(dim=0)


def test_pcgrad_leaves_no_conflict_between_two_tasks_and_agreeing_ones_alone():
    weighting = PCGrad(TASKS)
    g1, g2 = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([-2.0, 1.0, 0.5])
    assert float(g1 @ g2) < 0
    direction, _ = weighting.aggregate(("a", "b"), torch.stack([g1, g2]))
    p1 = g1 - (g1 @ g2) / (g2 @ g2) * g2
    p2 = g2 - (g2 @ g1) / (g1 @ g1) * g1
    torch.testing.assert_close(direction, p1 + p2)
    agreeing = torch.stack([g1, torch.tensor([1.0, 1.0, 1.0])])
    torch.testing.assert_close(weighting.aggregate(("a", "b"), agreeing)[0], agreeing.sum(0))


def test_pcgrad_backward_sets_the_trunk_to_the_projected_sum_and_heads_as_usual():
    torch.manual_seed(0)  # a network whose tasks conflict on this batch (checked below)
    net, sums, counts = _batch(c_labelled=True)
    weighting = PCGrad(TASKS)
    total, _ = weighting.combine(sums, counts, 6)
    shared = list(net.trunk.parameters())
    per_task = []
    for name in ("a", "b", "c"):
        grads = torch.autograd.grad(sums[name] / counts[name], shared, retain_graph=True)
        per_task.append(torch.cat([g.reshape(-1) for g in grads]))
    heads = torch.autograd.grad(total, [net.heads["a"].weight], retain_graph=True)[0]
    weighting.backward(total, sums, counts, shared, lambda loss: loss.backward())
    # TorchJD's PCGrad, in the order the run's and step's seed draws, is the paper's
    expected = reference_pcgrad(per_task, seed=step_seed(weighting.base_seed, 1))
    torch.testing.assert_close(torch.cat([p.grad.reshape(-1) for p in shared]), expected)
    torch.testing.assert_close(net.heads["a"].weight.grad, heads)
    assert not torch.allclose(expected, sum(per_task))  # the batch's tasks did conflict


def test_gradnorm_moves_weights_towards_equal_gradient_norms():
    net, sums, counts = _batch(c_labelled=True)
    weighting = GradNorm(TASKS, alpha=1.5)
    total, _ = weighting.combine(sums, counts, 6)
    layer = [p for p in net.trunk.parameters() if p.dim() > 1][-1]
    norms = []
    for name in ("a", "b", "c"):
        (grad,) = torch.autograd.grad(sums[name] / counts[name], layer, retain_graph=True)
        norms.append(float(grad.norm()))
    mean = sum(norms) / 3  # first step: every rate is 1, so the target is the mean norm
    head = torch.autograd.grad(total, [net.heads["a"].weight], retain_graph=True)[0]
    weighting.backward(total, sums, counts, list(net.trunk.parameters()), lambda t: t.backward())
    expected = [math.copysign(n, n - mean) for n in norms]
    assert weighting.task_weights.grad.tolist() == pytest.approx(expected, rel=1e-4)
    torch.testing.assert_close(net.heads["a"].weight.grad, head)  # network: Σ w·L, w fixed
    with torch.no_grad():
        weighting.task_weights.copy_(torch.tensor([2.0, 1.0, 3.0]))
    weighting.combine(sums, counts, 6)
    assert weighting.task_weights.tolist() == pytest.approx([1.0, 0.5, 1.5])


def test_learned_weights_train_at_their_own_rate():
    net, _, _ = _batch()
    weighting = UncertaintyWeighting(TASKS)
    weighting.lr_scale = 10.0
    module = TaskLabModule(net, TASKS, lr=1e-3, weighting=weighting)
    groups = module.configure_optimizers().param_groups
    rates = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert rates[id(weighting.log_vars)] == pytest.approx(1e-2)
    assert rates[id(net.heads["a"].weight)] == pytest.approx(1e-3)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "static",
        "uncertainty",
        "dwa",
        "gradnorm",
        "pcgrad",
        "upgrad",
        "mgda",
        "cagrad",
        "imtl_g",
        "nash_mtl",
        "dualproj",
        "graddrop",
        "aligned_mtl",
        "famo",
        "rlw",
    ],
)
def test_each_weighting_trains_a_multi_task_run_and_logs_weights(make_cfg, tmp_path, name):
    extra = ["+mtl.weighting.weights={t0: 1, t1: 2, t2: 1, t3: 1}"] if name == "static" else []
    cfg = make_cfg(
        *TINY,
        "data=vectors",
        "model=mlp",
        f"mtl/weighting={name}",
        *extra,
        "trainer.max_steps=6",
        "trainer.log_every_n_steps=3",
        *(["mtl.weighting.period=2"] if name == "dwa" else []),
        "logger.wandb=false",
    )
    result = train(cfg, output_dir=tmp_path)
    assert result.status == "ok"
    header = next((tmp_path / "csv").rglob("metrics.csv")).read_text().splitlines()[0]
    assert all(f"train/t{k}/weight" in header for k in range(4))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["mtl.weighting.name=gradmagic"],
            "mtl.weighting.name='gradmagic' is not a registered loss weighting; registered:",
        ),
        (
            ["mtl/weighting=static", "+mtl.weighting.weights={t0: 1, t1: 1}"],
            "mtl.weighting.weights has no weight for ['t2', 't3']; name every task",
        ),
        (
            ["mtl/weighting=static", "+mtl.weighting.weights={t0: 1, t1: -1, t2: 1, t3: 1}"],
            "mtl.weighting.weights.t1=-1.0 must be >= 0",
        ),
        (["mtl/weighting=dwa", "mtl.weighting.temperature=0"], "temperature=0.0 must be > 0"),
        (["mtl/weighting=pcgrad", "model=linear"], "model.backbone=linear has none; use"),
        (
            ["mtl/weighting=gradnorm", "mtl.weighting.lr_scale=0"],
            "mtl.weighting.lr_scale=0.0 must be > 0",
        ),
    ],
)
def test_bad_weighting_settings_are_one_line_errors(make_cfg, tmp_path, overrides, expected):
    cfg = make_cfg(*TINY, "data=vectors", "model=mlp", "logger=none", *overrides)
    with pytest.raises(ConfigError) as info:
        train(cfg, output_dir=tmp_path)
    assert expected in str(info.value) and "\n" not in str(info.value)
