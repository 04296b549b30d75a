"""Inter-task affinity by lookahead: the formula against a hand-made step, a measured run that
trains exactly like an unmeasured one, and the matrix in the comparison report."""

from __future__ import annotations

import copy

import pytest
import torch

from tasklab.data.tasks import TaskSpec
from tasklab.fit.affinity import lookahead_affinity
from tasklab.fit.losses import masked_multitask_loss
from tasklab.models.backbones import TrunkShape
from tasklab.models.multihead import build_net
from tasklab.report.affinity_plots import mean_relative_affinity, run_affinity
from tasklab.report.compare import main
from tasklab.runner import train

from .conftest import TINY

TASKS = [TaskSpec("a"), TaskSpec("b"), TaskSpec("c")]


def _batch():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(16, 5, generator=generator)
    y = (torch.rand(16, 3, generator=generator) > 0.5).float()
    mask = torch.ones(16, 3, dtype=torch.bool)
    mask[:, 2] = False  # c has no label: no row, no column
    return {"x": x, "y": y, "mask": mask}


def test_the_lookahead_is_one_plain_step_of_the_trunk_along_one_tasks_gradient():
    torch.manual_seed(0)
    net = build_net("mlp", (5,), TrunkShape(width=8, depth=2), TASKS)
    batch, lr = _batch(), 0.5
    _, sums, counts = masked_multitask_loss(TASKS, net(batch["x"]), batch["y"], batch["mask"])
    losses = {n: sums[n] / counts[n] for n in ("a", "b")}
    got = lookahead_affinity(net, TASKS, batch, losses, list(net.trunk.parameters()), lr)
    assert set(got) == {("a", "a"), ("a", "b"), ("b", "a"), ("b", "b")}
    for i in ("a", "b"):
        stepped = copy.deepcopy(net)
        grads = torch.autograd.grad(losses[i], list(net.trunk.parameters()), retain_graph=True)
        with torch.no_grad():
            for param, grad in zip(stepped.trunk.parameters(), grads, strict=True):
                param -= lr * grad
            _, after, n = masked_multitask_loss(
                TASKS, stepped(batch["x"]), batch["y"], batch["mask"]
            )
        for j in ("a", "b"):
            expected = 1 - float(after[j] / n[j]) / float(losses[j].detach())
            assert got[(i, j)] == pytest.approx(expected, rel=1e-5, abs=1e-7)
    assert got[("a", "a")] > 0 and got[("b", "b")] > 0  # a task's own step lowers its loss


def test_the_report_shows_each_step_relative_to_the_tasks_own():
    matrices = [{"a": {"a": 0.2, "b": 0.1}, "b": {"a": -0.1, "b": 0.4}}]
    matrices.append({"a": {"a": 0.4, "b": 0.1}, "b": {"a": -0.1, "b": 0.4}})
    tasks, values = mean_relative_affinity(matrices)
    assert tasks == ["a", "b"]
    assert values == [[1.0, pytest.approx(0.25)], [pytest.approx(-1 / 3), 1.0]]


@pytest.mark.slow
def test_measuring_affinity_changes_no_result_and_is_kept_in_the_record(make_cfg, tmp_path):
    base = [*TINY, "logger.wandb=false", "trainer.max_steps=6", "data.tasks=[car,stop_sign]"]
    plain = train(make_cfg(*base), output_dir=tmp_path / "plain")
    measured = train(make_cfg(*base, "mtl.affinity_every=2"), output_dir=tmp_path / "sweep" / "a")
    assert measured.metrics == plain.metrics and measured.config_key == plain.config_key
    affinity = measured.fits[0]["affinity"]
    assert set(affinity) == {"car", "stop_sign"} and set(affinity["car"]) == {"car", "stop_sign"}
    assert "affinity" not in plain.fits[0]
    single = train(
        make_cfg(*base, "regime=single_task", "mtl.affinity_every=2"),
        output_dir=tmp_path / "sweep" / "s",
    )
    assert all("affinity" not in fit for fit in single.fits)  # one task per fit: nothing to say
    assert run_affinity(tmp_path / "sweep" / "a") == affinity
    out = tmp_path / "out"
    assert main([str(tmp_path / "sweep"), "--out", str(out), "--wandb", "off"]) == 0
    assert (out / "default__task_affinity.png").read_bytes()[:4] == b"\x89PNG"
    assert "which tasks help which" in (out / "report.html").read_text()
