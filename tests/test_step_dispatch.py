"""A step's backward and optimiser step skip Lightning's dispatch only where nothing listens:
the same weights and step count either way, and every hook still called when one is there."""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from tasklab.data.tasks import TaskSpec
from tasklab.fit.module import TaskLabModule
from tasklab.models.backbones import TrunkShape
from tasklab.models.multihead import build_net

from .conftest import bare_trainer

STEPS = 6


class _Batches:
    def __len__(self) -> int:
        return STEPS

    def __iter__(self):
        generator = torch.Generator().manual_seed(1)
        for _ in range(STEPS):
            x = torch.randn(8, 3, generator=generator)
            y = (x[:, :1] > 0).float()
            yield {"x": x, "y": y, "mask": torch.ones(8, 1, dtype=torch.bool)}


class _CountsHooks(pl.Callback):
    def __init__(self) -> None:
        self.calls = {"before": 0, "after": 0, "optimizer": 0}

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        self.calls["before"] += 1

    def on_after_backward(self, trainer, pl_module) -> None:
        self.calls["after"] += 1

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.calls["optimizer"] += 1


class _ModuleWithHook(TaskLabModule):
    optimizer_hooks = 0

    def on_before_optimizer_step(self, optimizer) -> None:
        type(self).optimizer_hooks += 1


def _fit(module_type=TaskLabModule, callbacks=(), precision="32-true") -> TaskLabModule:
    tasks = [TaskSpec("a")]
    torch.manual_seed(0)
    net = build_net("mlp", (3,), TrunkShape(width=8, depth=1), tasks)
    module = module_type(net, tasks, lr=1e-2, log_every_n_steps=2)
    trainer = bare_trainer(STEPS, precision=precision, callbacks=list(callbacks))
    trainer.fit(module, train_dataloaders=_Batches())
    assert trainer.global_step == STEPS  # the step counter moves on either path
    return module


def _weights(module: TaskLabModule) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.net.parameters()]


def test_direct_steps_end_with_the_weights_of_lightnings_dispatch():
    direct = _fit()
    hooks = _CountsHooks()
    dispatched = _fit(callbacks=[hooks])
    assert direct.dispatch.direct and not dispatched.dispatch.direct
    assert hooks.calls == {"before": STEPS, "after": STEPS, "optimizer": STEPS}
    pairs = zip(_weights(direct), _weights(dispatched), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert direct.latest == dispatched.latest


def test_a_hook_on_the_module_keeps_lightnings_dispatch():
    _ModuleWithHook.optimizer_hooks = 0
    module = _fit(_ModuleWithHook)
    assert not module.dispatch.direct
    assert _ModuleWithHook.optimizer_hooks == STEPS


def test_mixed_precision_keeps_lightnings_dispatch():
    assert not _fit(precision="bf16-mixed").dispatch.direct
