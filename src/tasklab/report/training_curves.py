"""Validation and training curves from the runs' CSV logs: a seed that diverged, did not
converge or overfitted shows up before anyone trusts its metric.

A run's validation curve is its headline metric (``auroc`` of ``test/mean/auroc``) averaged
over its tasks at each validation pass; its training curve is its mean training loss per
task at every logged step. Both pool every fit of the run (a single-task arm's fits, a
pipeline's stages) step by step, so multi-task and single-task arms are drawn on one scale.
One panel per cell, one thin line per seed in its arm's colour.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from tasklab.report.analysis import Analysis
from tasklab.report.grouping import cell_order
from tasklab.report.plots import (
    FONT,
    PANELS_PER_FIGURE,
    Plot,
    arm_colours,
    finish_figure,
    panel_figure,
    slug,
)

Curve = list[tuple[int, float]]
KeyFilter = Callable[[str], bool]


def _is_task_loss(key: str) -> bool:
    return key.startswith("train/") and key.endswith("/loss") and key != "train/loss"


def _mean_curve(run_dir: str | Path, keep: KeyFilter) -> Curve:
    """(step, mean of the kept columns) from every ``csv/*/metrics.csv`` of a run."""
    per_step: dict[int, list[float]] = defaultdict(list)
    for path in sorted(Path(run_dir).glob("csv/*/metrics.csv")):
        try:
            with path.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    for key, value in row.items():
                        if value and keep(key):
                            per_step[int(row["step"])].append(float(value))
        except (OSError, ValueError, KeyError):
            continue  # a log being written, or not tasklab's: no curve, never a failed report
    return [(step, sum(v) / len(v)) for step, v in sorted(per_step.items()) if v]


def run_loss_curve(run_dir: str | Path) -> Curve:
    """(step, mean training loss per task) from every ``csv/*/metrics.csv`` of a run."""
    return _mean_curve(run_dir, _is_task_loss)


def run_validation_curve(run_dir: str | Path, metric: str) -> Curve:
    """(step, mean validation ``metric`` over the tasks) at each validation pass of a run
    (``trainer.validations_per_fit``); a single-task arm's fits are averaged step by step."""

    def keep(key: str) -> bool:
        return key.startswith("val/") and key.endswith(f"/{metric}") and key != f"val/mean/{metric}"

    return _mean_curve(run_dir, keep)


def _curve_figure(
    analysis: Analysis, curve_of: Callable[[Path], Curve], ylabel: str, file: str, caption: str
) -> list[Plot]:
    """One panel per cell (the first ``PANELS_PER_FIGURE``), one thin line per seed in its
    arm's colour; nothing when no run has a curve of two points or more."""
    experiment = analysis.experiment
    cells = sorted(experiment.run_dirs, key=cell_order)[:PANELS_PER_FIGURE]
    curves = {
        (cell, arm, seed): curve_of(Path(folder))
        for cell in cells
        for arm, seeds in experiment.run_dirs[cell].items()
        for seed, folder in seeds.items()
    }
    curves = {key: curve for key, curve in curves.items() if curve}
    if not any(len(curve) > 1 for curve in curves.values()):
        return []
    shown = [cell for cell in cells if any(key[0] == cell for key in curves)]
    columns = min(3, len(shown))
    figure, axes = panel_figure(math.ceil(len(shown) / columns), columns)
    colours = arm_colours(sorted({arm for _, arm, _ in curves}))
    for ax, cell in zip(axes, shown, strict=False):
        for (where, arm, _seed), curve in sorted(curves.items(), key=lambda item: str(item[0])):
            if where != cell:
                continue
            steps, values = zip(*curve, strict=True)
            ax.plot(
                steps,
                values,
                color=colours[arm],
                linewidth=0.9,
                alpha=0.8,
                label=arm,
                marker="o" if len(curve) < 12 else None,
                markersize=3,
            )
        ax.set_title(cell.label(experiment.x_axis), fontsize=FONT + 1)
        ax.set_xlabel("training step", fontsize=FONT)
        ax.set_ylabel(ylabel, fontsize=FONT)
        ax.grid(True, alpha=0.3)
    more = len(experiment.run_dirs) - len(cells)
    first = f" (the first {len(cells)} of {len(cells) + more} cells)" if more > 0 else ""
    png = finish_figure(
        figure, axes, len(shown), f"{experiment.name}: {ylabel}, one line per seed{first}"
    )
    return [
        Plot(f"{slug(experiment.name)}__{file}.png", f"{experiment.name}: {caption}{first}", png)
    ]


def training_curve_plots(analysis: Analysis) -> list[Plot]:
    """Per experiment: its validation curves (the headline metric at each validation pass;
    overfitting shows as a curve that turns) and its training-loss curves (divergence shows);
    none without CSV logs."""
    name = _headline_name(analysis.metrics)
    plots = []
    if name is not None:
        plots += _curve_figure(
            analysis,
            lambda folder: run_validation_curve(folder, name),
            f"validation {name} (mean over tasks)",
            f"validation_{slug(name)}",
            f"validation {name} over training steps, one line per seed (from each run's CSV "
            "log, at each of trainer.validations_per_fit passes): an unconverged or "
            "overfitting seed stands out",
        )
    plots += _curve_figure(
        analysis,
        run_loss_curve,
        "mean training loss per task",
        "training_loss",
        "mean training loss per task over steps, one line per seed (from each run's CSV "
        "log): a diverged or unconverged seed stands out",
    )
    return plots


def _headline_name(metrics: list[str]) -> str | None:
    """``auroc`` (the default ``train.objective``'s metric) where the report has it, otherwise
    the first per-split metric name (``mae`` of ``test/mean/mae``, say)."""
    names = [parts[2] for parts in (m.split("/") for m in metrics) if len(parts) == 3]
    return "auroc" if "auroc" in names else (names[0] if names else None)
