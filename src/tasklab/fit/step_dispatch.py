"""A training step's backward pass and optimiser step, with Lightning's dispatch only when
it would do something.

With manual optimisation, ``manual_backward`` and ``LightningOptimizer.step`` route through
the strategy and the precision plugin, which call six hooks per step (before/after backward,
before the optimiser step, on every callback and on the module). On one device in full
precision, with no callback or module implementing those hooks, all that routing ends in
``loss.backward()`` and ``optimizer.step()``; for a small model on a CPU it costs ~5% of the
step (measured: ``scripts/bench_throughput.py``). ``PlainDispatch`` takes the direct path
then, and Lightning's own path whenever anything could differ: another strategy (DDP),
mixed precision (loss scaling), or any hook implemented.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.core.optimizer import LightningOptimizer
from pytorch_lightning.plugins.precision import Precision
from pytorch_lightning.strategies import SingleDeviceStrategy
from pytorch_lightning.utilities.model_helpers import is_overridden

STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def plain_dispatch_applies(trainer: pl.Trainer, module: pl.LightningModule) -> bool:
    """Whether Lightning's dispatch of a step would only reach ``backward`` and ``step``."""
    if type(trainer.strategy) is not SingleDeviceStrategy:
        return False
    if type(trainer.precision_plugin) is not Precision:  # 32-true only: no scaling, no casts
        return False
    for hook in STEP_HOOKS:
        if is_overridden(hook, module, parent=pl.LightningModule):
            return False
        if any(is_overridden(hook, cb, parent=Callback) for cb in trainer.callbacks):
            return False
    return True


class PlainDispatch:
    """``backward`` and ``step`` of one fit: direct where ``plain_dispatch_applies``, through
    Lightning otherwise. Decided at the start of training, when the callbacks are known."""

    def __init__(self) -> None:
        self.direct = False

    def decide(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.direct = plain_dispatch_applies(trainer, module)

    def backward(self, module: pl.LightningModule, loss: torch.Tensor) -> None:
        if self.direct:
            loss.backward()
        else:
            module.manual_backward(loss)

    def step(self, optimiser: LightningOptimizer) -> None:
        if self.direct:
            # the loop's own bookkeeping around a step (the step counter, its profiler span)
            optimiser._on_before_step()
            optimiser.optimizer.step()
            optimiser._on_after_step()
        else:
            optimiser.step()
