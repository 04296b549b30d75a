"""How the task losses of a multi-task step become one loss: the loss weightings.

Each weighting is one module of this package: a ``LossWeighting`` subclass registered with
``@WEIGHTINGS.register(name, settings=...)`` and its settings dataclass (a subclass of
``WeightingSettings``: the schema of ``mtl.weighting``, with each field's checks and whether
it defines an arm). ``mtl/weighting=NAME`` selects one; the module is found by itself.

Every weighting sees only the tasks that have at least one label in the batch: a task without
labels gets no weight, no loss and no gradient. ``equal`` is the plain masked multi-task
loss, the summed loss over labelled entries divided by the batch size; the others weigh each
task's *mean* loss over its labelled entries, which is what their papers define.

Loss-based weightings work wherever Lightning does (any strategy, any precision). Those that
declare ``shared_gradients = True`` (GradNorm, PCGrad) take per-task gradients with
``torch.autograd.grad``, outside DDP's gradient all-reduce, so they are for a single device,
at 32-bit or bf16 precision (fp16's loss scaling is not applied to them), on a network whose
tasks share a trunk with parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from tasklab.data.tasks import TaskSpec
from tasklab.registry import WEIGHTINGS
from tasklab.settings import kwargs

# ``backward(loss)``: the module's own backward pass, which a gradient weighting calls once.
Backward = Callable[[torch.Tensor], None]


@dataclass
class WeightingSettings:
    """The settings every weighting has: its name (``mtl/weighting=NAME`` sets it)."""

    name: str = "equal"


class LossWeighting(nn.Module):
    """Base: ``combine`` returns the step's loss and each present task's weight."""

    # learned weights (uncertainty, GradNorm) train at the optimiser's rate times this
    lr_scale: float = 1.0
    # True: ``backward`` replaces the module's backward pass and needs the shared trunk's
    # parameters (one device, a trunk with parameters)
    shared_gradients: bool = False
    # True: after each optimiser step the module recomputes the batch's task losses (no
    # gradient, normalisation statistics untouched) and passes them to ``after_step`` (FAMO)
    needs_losses_after_step: bool = False

    def __init__(self, tasks: Sequence[TaskSpec]) -> None:
        super().__init__()
        self.names = [t.name for t in tasks]

    def combine(
        self, sums: dict[str, torch.Tensor], counts: dict[str, torch.Tensor], batch_size: int
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def backward(
        self,
        total: torch.Tensor,
        sums: dict[str, torch.Tensor],
        counts: dict[str, torch.Tensor],
        shared: list[nn.Parameter],
        backward: Backward,
    ) -> dict[str, torch.Tensor] | None:
        """The step's backward pass; gradient weightings replace the plain one, and those that
        weigh the tasks' gradients return the weights they used (logged as the task weights)."""
        del sums, counts, shared
        backward(total)
        return None

    def after_step(self, sums: dict[str, torch.Tensor], counts: dict[str, torch.Tensor]) -> None:
        """The batch's per-task loss sums and label counts after the step's update."""

    def present(self, counts: dict[str, torch.Tensor]) -> list[str]:
        return [name for name in self.names if float(counts[name]) > 0]


def step_seed(base: int, step: int) -> int:
    """A seed per run (``base``: the run's seed) and step, for weightings that draw random
    numbers: reproducible, exact on resume, and the global generator left alone."""
    return (base * 1_000_003 + step) % (2**63 - 1)


def build_weighting(settings: WeightingSettings, tasks: Sequence[TaskSpec]) -> LossWeighting:
    """The registered weighting ``settings.name``, built from its settings."""
    component = WEIGHTINGS.get(settings.name)
    return component.target(tasks, **kwargs(settings))


def weighting_settings(name: str) -> type[WeightingSettings]:
    """The settings class a weighting declared."""
    return WEIGHTINGS.get(name).settings or WeightingSettings
