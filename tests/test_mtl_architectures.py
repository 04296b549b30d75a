"""MMoE and cross-stitch: one output per task, learned sharing, parameter counts."""

from __future__ import annotations

import pytest
import torch

from tasklab.config_checks import ConfigError
from tasklab.data.tasks import TaskSpec
from tasklab.models.backbones import TrunkShape, build_backbone
from tasklab.models.mtl_architectures import CrossStitchNet, MMoENet, build_architecture
from tasklab.models.multihead import count_parameters
from tasklab.runner import train

from .conftest import TINY

TASKS = [
    TaskSpec("a", "binary"),
    TaskSpec("b", "multiclass", num_classes=5),
    TaskSpec("c", "regression", loc=3.0, scale=2.0),
]
SHAPE = TrunkShape(width=4, depth=2)


@pytest.mark.parametrize("architecture", ["hard", "mmoe", "cross_stitch"])
@pytest.mark.parametrize(("backbone", "input_shape"), [("cnn", (3, 16, 16)), ("mlp", (10,))])
def test_every_architecture_gives_one_output_per_task(architecture, backbone, input_shape):
    net = build_architecture(architecture, backbone, input_shape, SHAPE, TASKS, n_experts=3)
    out = net(torch.randn(7, *input_shape))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"a": (7,), "b": (7, 5), "c": (7,)}


def test_parameter_counts_follow_the_designs():
    trunk = count_parameters(build_backbone("mlp", (10,), SHAPE)[0])
    mmoe = MMoENet("mlp", (10,), SHAPE, TASKS, n_experts=3)
    heads = count_parameters(mmoe.heads)
    assert count_parameters(mmoe) == 3 * trunk + 3 * (10 * 3 + 3) + heads
    stitch = CrossStitchNet("mlp", (10,), SHAPE, TASKS)
    blocks = len(list(stitch.trunk[0].children()))
    assert count_parameters(stitch) == 3 * trunk + blocks * 9 + heads


def test_cross_stitch_starts_mostly_separate_and_learns_to_mix():
    net = CrossStitchNet("mlp", (10,), SHAPE, TASKS)
    first = net.stitches[0].detach()
    torch.testing.assert_close(first.diagonal(), torch.full((3,), 0.9))
    torch.testing.assert_close(first.sum(dim=1), torch.ones(3))
    out = net(torch.randn(4, 10))
    out["a"].sum().backward()  # task a's loss reaches task b's column through the stitches
    assert net.trunk[1][1][0].weight.grad.abs().sum() > 0
    assert net.stitches[0].grad[0].abs().sum() > 0


def test_mmoe_gates_are_a_mixture_per_task():
    net = MMoENet("mlp", (10,), SHAPE, TASKS, n_experts=3)
    x = torch.randn(4, 10)
    gate = torch.softmax(net.gates["b"](x), dim=1)
    torch.testing.assert_close(gate.sum(dim=1), torch.ones(4))
    features = torch.stack([e(x) for e in net.trunk], dim=1)
    expected = net.heads["b"]((gate.unsqueeze(-1) * features).sum(dim=1))
    torch.testing.assert_close(net(x)["b"], expected)


@pytest.mark.parametrize("model", ["mmoe", "cross_stitch"])
def test_a_multi_task_run_records_the_architectures_parameters(make_cfg, tmp_path, model):
    cfg = make_cfg(*TINY, f"model={model}", "model.width=4", "logger=none")
    result = train(cfg, output_dir=tmp_path)
    assert result.status == "ok" and result.params["total"] > 0
    assert result.config["model"]["architecture"] == model


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["model.architecture=tree"], "'tree' is not a registered architecture; registered:"),
        (["model=mmoe", "model.n_experts=0"], "model.n_experts=0 must be > 0"),
        (
            ["model=mmoe", "regime=transfer", "data.tasks=[car]", "regime.n_source=64"],
            "model.architecture=mmoe has no single trunk to hand between fits",
        ),
    ],
)
def test_bad_architecture_settings_are_one_line_errors(make_cfg, tmp_path, overrides, expected):
    cfg = make_cfg(*TINY, "logger=none", *overrides)
    with pytest.raises(ConfigError) as info:
        train(cfg, output_dir=tmp_path)
    assert expected in str(info.value) and "\n" not in str(info.value)
