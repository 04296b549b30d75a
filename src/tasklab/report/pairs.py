"""Which arms a comparison pits against each other.

Where a cell has a reference arm — the one the records' regime declares (``scratch`` for
transfer, ``single_task`` for multi-task, ``end_to_end`` for pipelines), or the one asked
for — every other arm is compared with it, since that is the question each experiment asks;
otherwise every pair is. Arms that differ only in a setting declared a data size (a
transfer's ``regime.n_source``: ``Experiment.arm_sizes``) are also compared step by step up
those sizes and largest against smallest, which is what "does more source data help?" needs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import combinations, pairwise

from tasklab.report.records import natural_key

ArmSizes = Mapping[str, tuple[tuple, float]]  # arm → (family, size)


def first_present(candidates: Sequence[str | None], names: Sequence[str]) -> str | None:
    """The first candidate reference that is one of ``names``."""
    return next((c for c in candidates if c is not None and c in names), None)


def comparison_pairs(
    names: list[str], references: Sequence[str | None] = (), sizes: ArmSizes | None = None
) -> list[tuple[str, str]]:
    """(a, b) pairs to report as a − b: each arm against the first of ``references`` present
    (or all pairs where none is), then the steps along an arm-defining size."""
    names = sorted(names, key=natural_key)
    reference = first_present(references, names)
    if reference is not None:
        pairs = [(arm, reference) for arm in names if arm != reference]
    else:
        pairs = list(combinations(names, 2))
    for step in size_steps(names, sizes or {}):
        flipped = (step[1], step[0])
        if step in pairs:
            continue
        if flipped in pairs:  # one comparison, not two: a pair counts once in Holm's family
            if reference is None:  # oriented as a step up the sizes
                pairs[pairs.index(flipped)] = step
            continue
        pairs.append(step)
    return pairs


def size_steps(names: list[str], sizes: ArmSizes) -> list[tuple[str, str]]:
    """(larger, next smaller) size for arms of one family, and with three sizes or more,
    (largest, smallest): the whole effect of the size."""
    families: dict[tuple, list[tuple[float, str]]] = defaultdict(list)
    for name in names:
        if name in sizes:
            family, size = sizes[name]
            families[family].append((size, name))
    steps = []
    for members in families.values():
        ordered = [name for _, name in sorted(members)]
        steps += [(larger, smaller) for smaller, larger in pairwise(ordered)]
        if len(ordered) > 2:
            steps.append((ordered[-1], ordered[0]))
    return steps
