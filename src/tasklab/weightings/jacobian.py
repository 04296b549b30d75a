"""Gradient aggregators from TorchJD (``torchjd``, a maintained library for Jacobian descent)
behind ``mtl/weighting=``: UPGrad, MGDA, CAGrad, IMTL-G, Nash-MTL, DualProj, GradDrop and
Aligned-MTL (PCGrad, ``pcgrad.py``, is TorchJD's too).

Each step, every task with a label in the batch contributes one row to the Jacobian of the
task losses (each task's mean loss over its labelled rows) with respect to the shared trunk's
parameters; the aggregator turns those rows into the trunk's update direction. Tasks without
a label in the batch take no part: they have no row. Heads get their own task's gradient.

Why the wrapping, beyond calling the aggregator:

- TorchJD is imported only when one of these weightings is built (it pulls in cvxpy: about a
  second), so no other run pays for it.
- Aggregators that draw random numbers (PCGrad's order, GradDrop's masks) draw them from a
  generator seeded by the run's seed and the step, with the global one untouched: a fit is
  reproducible and a resumed fit continues exactly.
- Nash-MTL keeps state sized by the number of tasks; with labels missing, the set of present
  tasks can change between batches, so each set gets its own state. Its state is kept in
  checkpoints (its solver's warm start is not: a resumed fit may differ in the last digits).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from tasklab.data.tasks import TaskSpec
from tasklab.registry import WEIGHTINGS
from tasklab.settings import setting
from tasklab.weightings import Backward, LossWeighting, WeightingSettings, step_seed


def task_jacobian(losses: Sequence[torch.Tensor], params: Sequence[nn.Parameter]) -> torch.Tensor:
    """The ``[len(losses), n]`` matrix whose row k is loss k's gradient over ``params``,
    flattened (zeros where a parameter does not reach that loss)."""
    rows = []
    for loss in losses:
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        rows.append(
            torch.cat(
                [
                    (g if g is not None else torch.zeros_like(p)).reshape(-1)
                    for g, p in zip(grads, params, strict=True)
                ]
            )
        )
    return torch.stack(rows)


class JacobianWeighting(LossWeighting):
    """Base: the trunk steps along an aggregation of the present tasks' gradients.

    Subclasses give ``aggregator(n_tasks)``: a TorchJD aggregator for that many rows."""

    shared_gradients = True
    stateful = False  # True: one aggregator (and its state) per set of present tasks

    def __init__(self, tasks: Sequence[TaskSpec], **settings: Any) -> None:
        super().__init__(tasks)
        self.settings = settings
        self.steps = 0
        # the run's seed (set before the network is built): each run draws its own numbers
        self.base_seed = torch.initial_seed()
        self._aggregators: dict[tuple[str, ...], Any] = {}
        self.aggregator(len(self.names))  # fails now, in one line, if a dependency is missing

    def aggregator(self, n_tasks: int) -> Any:
        raise NotImplementedError

    def _aggregator_for(self, present: tuple[str, ...]) -> Any:
        key = present if self.stateful else ()
        if key not in self._aggregators:
            self._aggregators[key] = self.aggregator(len(present))
        return self._aggregators[key]

    def get_extra_state(self) -> dict:
        return {"steps": self.steps, "base_seed": self.base_seed}

    def set_extra_state(self, state: dict) -> None:
        self.steps, self.base_seed = int(state["steps"]), int(state["base_seed"])

    def combine(self, sums, counts, batch_size):
        total = next(iter(sums.values())).new_zeros(())
        weights = {}
        for name in self.present(counts):
            total = total + sums[name] / counts[name]
            weights[name] = total.new_ones(())
        return total, weights

    def aggregate(
        self, present: tuple[str, ...], jacobian: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The update direction and, where the aggregator is a weighted sum of the rows, its
        weights; random draws come from this run's and step's seed."""
        from torchjd.aggregation import WeightedAggregator

        aggregator = self._aggregator_for(present)
        devices = [jacobian.device] if jacobian.device.type != "cpu" else []
        with (
            torch.random.fork_rng(devices=devices, device_type=jacobian.device.type),
            warnings.catch_warnings(),
        ):
            # cvxpy's note that Nash-MTL's problem re-solves from scratch: nothing to act on
            warnings.filterwarnings("ignore", message=".*is not DPP")
            torch.manual_seed(step_seed(self.base_seed, self.steps))
            if isinstance(aggregator, WeightedAggregator):
                weights = aggregator.weighting(jacobian)
                return weights @ jacobian, weights
            return aggregator(jacobian), None

    def backward(
        self,
        total: torch.Tensor,
        sums: dict[str, torch.Tensor],
        counts: dict[str, torch.Tensor],
        shared: list[nn.Parameter],
        backward: Backward,
    ) -> dict[str, torch.Tensor] | None:
        """``backward(total)`` fills every gradient (heads: their task's); the shared
        parameters' are then replaced by the aggregation of the present tasks' rows."""
        present = tuple(self.present(counts))
        shared = [p for p in shared if p.requires_grad]
        jacobian = None
        if len(present) > 1:
            jacobian = task_jacobian([sums[n] / counts[n] for n in present], shared)
        backward(total)
        self.steps += 1
        if jacobian is None:  # one task: its own gradient is the only direction
            return None
        direction, weights = self.aggregate(present, jacobian.float())
        offset = 0
        for param in shared:
            size = param.numel()
            param.grad = direction[offset : offset + size].view_as(param).to(param.dtype).clone()
            offset += size
        if weights is None:
            return None
        return {name: w.detach() for name, w in zip(present, weights, strict=True)}


# --- the aggregators ---------------------------------------------------------------------


@dataclass
class UPGradSettings(WeightingSettings):
    name: str = "upgrad"


@WEIGHTINGS.register("upgrad", settings=UPGradSettings)
class UPGradWeighting(JacobianWeighting):
    """UPGrad (Quinton & Rey 2024): each task's gradient projected onto the dual cone of all
    of them, averaged: no task's loss increases to first order."""

    def aggregator(self, n_tasks: int) -> Any:
        from torchjd.aggregation import UPGrad

        return UPGrad()


@dataclass
class MGDASettings(WeightingSettings):
    name: str = "mgda"
    epsilon: float = setting(0.001, above=0, arm=True, doc="Frank-Wolfe stopping tolerance")
    max_iters: int = setting(100, above=0, arm=True, doc="Frank-Wolfe iterations")


@WEIGHTINGS.register("mgda", settings=MGDASettings)
class MGDAWeighting(JacobianWeighting):
    """MGDA (Désidéri 2012; Sener & Koltun 2018): the minimum-norm convex combination of the
    task gradients, a common descent direction."""

    def aggregator(self, n_tasks: int) -> Any:
        from torchjd.aggregation import MGDA

        return MGDA(epsilon=self.settings["epsilon"], max_iters=self.settings["max_iters"])


@dataclass
class CAGradSettings(WeightingSettings):
    name: str = "cagrad"
    c: float = setting(0.5, low=0, arm=True, doc="how far from the mean gradient (0: the mean)")


@WEIGHTINGS.register("cagrad", settings=CAGradSettings)
class CAGradWeighting(JacobianWeighting):
    """CAGrad (Liu et al. 2021): the direction that most improves the worst task within a
    ball of radius c·|mean gradient| around the mean gradient."""

    def aggregator(self, n_tasks: int) -> Any:
        from torchjd.aggregation import CAGrad

        return CAGrad(c=self.settings["c"])


@dataclass
class IMTLGSettings(WeightingSettings):
    name: str = "imtl_g"


@WEIGHTINGS.register("imtl_g", settings=IMTLGSettings)
class IMTLGWeighting(JacobianWeighting):
    """IMTL-G (Liu et al. 2021): the combination whose projection onto every task's unit
    gradient is equal."""

    def aggregator(self, n_tasks: int) -> Any:
        from torchjd.aggregation import IMTLG

        return IMTLG()


@dataclass
class NashMTLSettings(WeightingSettings):
    name: str = "nash_mtl"
    max_norm: float = setting(1.0, low=0, arm=True, doc="clip |update| to this (0: no clip)")
    update_weights_every: int = setting(1, above=0, arm=True, doc="steps between solves")
    optim_niter: int = setting(20, above=0, arm=True, doc="solver iterations per solve")


@WEIGHTINGS.register("nash_mtl", settings=NashMTLSettings)
class NashMTLWeighting(JacobianWeighting):
    """Nash-MTL (Navon et al. 2022): the update as the Nash bargaining solution between the
    tasks (weights solved with cvxpy each ``update_weights_every`` steps)."""

    stateful = True

    def aggregator(self, n_tasks: int) -> Any:
        from torchjd.aggregation import NashMTL

        return NashMTL(
            n_tasks=n_tasks,
            max_norm=self.settings["max_norm"],
            update_weights_every=self.settings["update_weights_every"],
            optim_niter=self.settings["optim_niter"],
        )

    def get_extra_state(self) -> dict:
        solver = {}
        for present, aggregator in self._aggregators.items():
            state = aggregator.weighting
            solver[",".join(present)] = {
                "prvs_alpha": [float(a) for a in state.prvs_alpha],
                "step": float(state.step),
            }
        return {**super().get_extra_state(), "solver": solver}

    def set_extra_state(self, state: dict) -> None:
        import numpy as np

        super().set_extra_state(state)
        self._aggregators = {}
        for key, saved in state.get("solver", {}).items():
            present = tuple(key.split(","))
            aggregator = self.aggregator(len(present))
            weighting = aggregator.weighting
            weighting.prvs_alpha = np.asarray(saved["prvs_alpha"], dtype=np.float32)
            if saved["step"] > 0:
                weighting._init_optim_problem()  # forward builds it only at step 0
            weighting.step = saved["step"]
            self._aggregators[present] = aggregator


@dataclass
class DualProjSettings(WeightingSettings):
    name: str = "dualproj"


@WEIGHTINGS.register("dualproj", settings=DualProjSettings)
class DualProjWeighting(JacobianWeighting):
    """DualProj (Quinton & Rey 2024): the mean gradient projected onto the dual cone of the
    task gradients."""

    def aggregator(self, n_tasks: int) -> Any:
        from torchjd.aggregation import DualProj

        return DualProj()


@dataclass
class GradDropSettings(WeightingSettings):
    name: str = "graddrop"


@WEIGHTINGS.register("graddrop", settings=GradDropSettings)
class GradDropWeighting(JacobianWeighting):
    """GradDrop (Chen et al. 2020): per coordinate, keep only the gradients of one sign, drawn
    with probability by how much the signs agree."""

    def aggregator(self, n_tasks: int) -> Any:
        from torchjd.aggregation import GradDrop

        return GradDrop()


@dataclass
class AlignedMTLSettings(WeightingSettings):
    name: str = "aligned_mtl"
    scale_mode: str = setting(
        "min", choices=("min", "median", "rmse"), arm=True, doc="how the aligned gradients scale"
    )


@WEIGHTINGS.register("aligned_mtl", settings=AlignedMTLSettings)
class AlignedMTLWeighting(JacobianWeighting):
    """Aligned-MTL (Senushkin et al. 2023): the task gradients made orthogonal and equally
    long (a condition number of 1) before they are summed."""

    def aggregator(self, n_tasks: int) -> Any:
        from torchjd.aggregation import AlignedMTL

        return AlignedMTL(scale_mode=self.settings["scale_mode"])
