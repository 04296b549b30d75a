"""``equal``: the plain masked multi-task loss, (1/m) Σ over every labelled entry, every task
weight 1."""

from __future__ import annotations

from tasklab.registry import WEIGHTINGS
from tasklab.weightings import LossWeighting, WeightingSettings


@WEIGHTINGS.register("equal", settings=WeightingSettings)
class EqualWeighting(LossWeighting):
    def combine(self, sums, counts, batch_size):
        present = self.present(counts)
        total = sum((sums[n] for n in present), start=next(iter(sums.values())).new_zeros(()))
        one = total.new_ones(())
        return total / max(batch_size, 1), {n: one for n in present}
