"""Which arms a comparison pits against each other.

Where a cell has a reference arm — ``scratch`` (transfer), ``single_task`` (multi-task) or
``end_to_end`` (pipelines) — every other arm is compared with it, since that is the question
each experiment asks; otherwise every pair is. Transfer arms that differ only in ``n_source``
are also compared step by step up the source sizes and largest against smallest, which is what
"does more source data help?" needs.
"""

from __future__ import annotations

import re
from collections import defaultdict
from itertools import combinations, pairwise

from tasklab.report.records import natural_key

REFERENCE_ARMS = ("scratch", "single_task", "end_to_end")
_SOURCE_SIZE = re.compile(r"^(?P<family>.*) n_source=(?P<n>\d+)$")


def reference_arm(names: list[str]) -> str | None:
    return next((name for name in REFERENCE_ARMS if name in names), None)


def comparison_pairs(names: list[str], reference: str | None = None) -> list[tuple[str, str]]:
    """(a, b) pairs to report as a − b: each arm against the reference (given, or found), or
    all pairs, then the source-size steps."""
    names = sorted(names, key=natural_key)
    reference = reference if reference in names else reference_arm(names)
    if reference is not None:
        pairs = [(arm, reference) for arm in names if arm != reference]
    else:
        pairs = list(combinations(names, 2))
    for step in source_size_steps(names):
        flipped = (step[1], step[0])
        if step in pairs:
            continue
        if flipped in pairs:  # one comparison, not two: a pair counts once in Holm's family
            if reference is None:  # oriented as a step up the source sizes
                pairs[pairs.index(flipped)] = step
            continue
        pairs.append(step)
    return pairs


def source_size_steps(names: list[str]) -> list[tuple[str, str]]:
    """(larger, next smaller) source size for arms that differ only in ``n_source``, and with
    three sizes or more, (largest, smallest): the whole effect of the source size."""
    families: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for name in names:
        match = _SOURCE_SIZE.match(name)
        if match:
            families[match["family"]].append((int(match["n"]), name))
    steps = []
    for sizes in families.values():
        ordered = [name for _, name in sorted(sizes)]
        steps += [(larger, smaller) for smaller, larger in pairwise(ordered)]
        if len(ordered) > 2:
            steps.append((ordered[-1], ordered[0]))
    return steps
