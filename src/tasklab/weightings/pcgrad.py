"""``pcgrad`` (Yu et al. 2020): each task's gradient on the shared trunk, where it conflicts
with another task's (negative dot product), loses its component along that gradient, the
others taken in a random order; the trunk then steps along the sum. Heads get their own
task's gradient as usual.

The projection is TorchJD's (``torchjd.aggregation.PCGrad``); its random order is drawn from
the run's and step's seed (``jacobian.JacobianWeighting``), so fits reproduce and resume
exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasklab.registry import WEIGHTINGS
from tasklab.weightings import WeightingSettings
from tasklab.weightings.jacobian import JacobianWeighting


@dataclass
class PCGradSettings(WeightingSettings):
    name: str = "pcgrad"


@WEIGHTINGS.register("pcgrad", settings=PCGradSettings)
class PCGrad(JacobianWeighting):
    """PCGrad: conflicting task gradients projected off each other (replaces the backward pass)."""

    def aggregator(self, n_tasks: int) -> Any:
        from torchjd.aggregation import PCGrad as TorchJDPCGrad

        return TorchJDPCGrad()
