"""From records to cells: experiment → facet → data size → arm → {seed: value}.

Within an experiment, the swept axes come from the records (``records.find_axes``). One of
them is the data-size axis that learning curves are drawn against: the one the user names
(``--x``), or else a swept key that the records declare a data size (``size_keys``, from
``setting(..., size=True)`` on the component's settings: ``data.n_train``,
``regime.n_source`` …), the one with most values. A size is never guessed from a number:
every other swept axis is a category that splits the curves into facets, drawn as panels,
never on a log axis or joined by a line. Seeds are replicates.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tasklab.metric_keys import split_task_metric
from tasklab.report.records import (
    RUN_DIR,
    arm_names,
    axis_values,
    find_axes,
    identity_keys,
    natural_key,
)

Facet = tuple[tuple[str, str], ...]  # (axis, value) for every swept axis but the size axis
SeedValues = dict[int, float]


@dataclass(frozen=True)
class Cell:
    facet: Facet
    x: float | None  # the data size; None where there is no size axis

    def label(self, x_axis: str | None) -> str:
        parts = [f"{key}={value}" for key, value in self.facet]
        if x_axis is not None and self.x is not None:
            parts.append(f"{x_axis}={self.x:g}")
        return " ".join(parts) or "(no swept axis)"


@dataclass
class Experiment:
    name: str
    n_records: int
    swept: list[str]
    fixed: dict[str, str]
    x_axis: str | None
    metrics: list[str]
    # metric → cell → arm → seed → value
    values: dict[str, dict[Cell, dict[str, SeedValues]]] = field(default_factory=dict)
    disagreeing: list[str] = field(default_factory=list)
    # run: metric=value for values that are not finite numbers (NaN, inf), left out
    non_finite: list[str] = field(default_factory=list)
    # cell → arm → seed → the run's folder (its stored predictions), where known
    run_dirs: dict[Cell, dict[str, dict[int, str]]] = field(default_factory=dict)
    undeclared: int = 0  # records that predate size declarations (no ``size_keys``)
    # the arm the records' regimes measure the others against, and the effect added to that
    # difference ("delta_m", "gain" or ""); None where they declare none, or disagree
    reference: str | None = None
    reference_effect: str = ""
    # arm → (its family: the regime and every other arm-defining setting, its size): for
    # arms defined by a setting declared a data size (a transfer's ``regime.n_source``)
    arm_sizes: dict[str, tuple[tuple, float]] = field(default_factory=dict)

    @property
    def facet_axes(self) -> list[str]:
        return [axis for axis in self.swept if axis != self.x_axis]

    def cells(self, metric: str) -> list[Cell]:
        return sorted(self.values.get(metric, {}), key=cell_order)

    def facets(self, metric: str) -> list[Facet]:
        return sorted({cell.facet for cell in self.values.get(metric, {})}, key=_facet_order)

    def curves(self, metric: str, facet: Facet) -> dict[str, dict[float, SeedValues]]:
        """arm → size → seed → value, for the learning curves of one facet."""
        curves: dict[str, dict[float, SeedValues]] = defaultdict(dict)
        for cell, arms in self.values.get(metric, {}).items():
            if cell.facet == facet and cell.x is not None:
                for arm, seeds in arms.items():
                    curves[arm][cell.x] = seeds
        return dict(curves)


def is_task_of(key: str, mean_metric: str) -> bool:
    """Whether ``key`` (``split/<task>/name``) is one of the per-task metrics behind
    ``mean_metric`` (``split/mean/name``); the split may carry a stage's prefix."""
    parts, mean = split_task_metric(key), split_task_metric(mean_metric)
    return (
        parts is not None
        and mean is not None
        and mean[1] == "mean"
        and parts[1] != "mean"
        and (parts[0], parts[2]) == (mean[0], mean[2])
    )


def _facet_order(facet: Facet) -> list:
    """Numbers by value (0.0002 before 0.019), anything else in natural order."""
    return [
        (key, (0, _number(value), "") if _number(value) is not None else (1, 0.0, value))
        for key, value in facet
    ]


def cell_order(cell: Cell) -> tuple:
    return (_facet_order(cell.facet), -math.inf if cell.x is None else cell.x)


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


class SizeAxisError(ValueError):
    """A data-size axis whose values are not positive numbers; the message says which."""


def declared_sizes(records: list[dict[str, Any]]) -> set[str]:
    """The keys any record declares a data size (its ``size_keys``)."""
    return {str(k) for r in records for k in r.get("size_keys") or []}


def is_size(key: str, declared: set[str]) -> bool:
    """A declared size, or one entry of a declared dict of sizes (``data.n_train_by_task.car``)."""
    return key in declared or any(key.startswith(d + ".") for d in declared)


def choose_x_axis(
    swept: list[str],
    per_record: list[dict[str, str | None]],
    requested: str | None = None,
    declared: set[str] | None = None,
) -> str | None:
    """The axis to draw learning curves against (see the module docstring); its values must
    all be positive numbers (one line naming the value otherwise)."""
    if requested is not None:
        chosen = requested if requested in swept else None
    else:
        sizes = [key for key in swept if is_size(key, declared or set())]
        chosen = (
            max(sizes, key=lambda key: (len({values[key] for values in per_record}), key))
            if sizes
            else None
        )
    for values in per_record if chosen else []:
        number = _number(values[chosen])
        if number is None or number <= 0:
            raise SizeAxisError(
                f"the data-size axis {chosen} has the value {values[chosen]!r}; a size must "
                "be a positive number (name another axis with --x, or fix the records)"
            )
    return chosen


def declared_reference(records: list[dict[str, Any]]) -> tuple[str | None, str]:
    """The reference arm (and its effect) the records' regimes declare, where they agree."""
    declared = {(r.get("reference_arm") or "", r.get("reference_effect") or "") for r in records}
    declared.discard(("", ""))
    if len(declared) != 1:
        return None, ""
    reference, effect = declared.pop()
    return reference or None, effect


def arm_sizes(records: list[dict[str, Any]], arms: list[str]) -> dict[str, tuple[tuple, float]]:
    """Arms that one arm-defining setting declared a data size tells apart (see
    ``Experiment.arm_sizes``): what "does more source data help?" steps along."""
    found: dict[str, tuple[tuple, float]] = {}
    for record, arm in zip(records, arms, strict=True):
        identity = identity_keys(record)
        declared = set(record.get("size_keys") or ())
        sized = [k for k in identity if k in declared]
        if len(sized) != 1:
            continue
        values = axis_values(record, identity)
        size = _number(values[sized[0]])
        if size is not None:
            rest = tuple((k, values[k]) for k in identity if k != sized[0])
            found[arm] = ((record["regime"], sized[0], *rest), size)
    return found


def group_experiment(
    name: str, records: list[dict[str, Any]], metrics: list[str], x_axis: str | None = None
) -> Experiment:
    axes = find_axes(records)
    declared = declared_sizes(records)
    chosen = choose_x_axis(axes.swept, axes.per_record, x_axis, declared)
    experiment = Experiment(name, len(records), axes.swept, axes.fixed, chosen, metrics)
    experiment.undeclared = sum(1 for r in records if "size_keys" not in r)
    arms = arm_names(records)
    experiment.reference, experiment.reference_effect = declared_reference(records)
    experiment.arm_sizes = arm_sizes(records, arms)
    for record, values, arm in zip(records, axes.per_record, arms, strict=True):
        facet = tuple((k, values[k] or "-") for k in axes.swept if k != chosen)
        cell = Cell(facet, _number(values[chosen]) if chosen else None)
        seed = int(record["seed"])
        if RUN_DIR in record:
            experiment.run_dirs.setdefault(cell, {}).setdefault(arm, {})[seed] = record[RUN_DIR]
        for metric in metrics:
            value = record["metrics"].get(metric)
            if value is None:
                continue
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                where = record.get(RUN_DIR) or f"{name} {arm} seed={seed}"
                experiment.non_finite.append(f"{where}: {metric}={value}")
                continue
            seeds = experiment.values.setdefault(metric, {}).setdefault(cell, {})
            seeds = seeds.setdefault(arm, {})
            if seed in seeds and seeds[seed] != value:
                experiment.disagreeing.append(
                    f"{name}: {cell.label(chosen)} {arm} seed={seed} {metric}"
                )
            seeds[seed] = float(value)
    return experiment


def group_records(
    records: list[dict[str, Any]], metrics: list[str], x_axis: str | None = None
) -> list[Experiment]:
    """One ``Experiment`` per experiment name, in name order."""
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_name[str(record["name"])].append(record)
    return [
        group_experiment(name, by_name[name], metrics, x_axis)
        for name in sorted(by_name, key=natural_key)
    ]
