"""Training curves from the runs' CSV logs: a seed that diverged or did not converge shows up
before anyone trusts its metric.

Each run's curve is its mean training loss per task at every logged step, over every fit of
the run (a single-task arm's fits, a pipeline's stages), so multi-task and single-task arms
are drawn on one scale. One panel per cell, one thin line per seed in its arm's colour.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
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


def run_loss_curve(run_dir: str | Path) -> Curve:
    """(step, mean training loss per task) from every ``csv/*/metrics.csv`` of a run."""
    per_step: dict[int, list[float]] = defaultdict(list)
    for path in sorted(Path(run_dir).glob("csv/*/metrics.csv")):
        try:
            with path.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    for key, value in row.items():
                        per_task = key.startswith("train/") and key.endswith("/loss")
                        if per_task and key != "train/loss" and value:
                            per_step[int(row["step"])].append(float(value))
        except (OSError, ValueError, KeyError):
            continue  # a log being written, or not tasklab's: no curve, never a failed report
    return [(step, sum(v) / len(v)) for step, v in sorted(per_step.items()) if v]


def training_curve_plots(analysis: Analysis) -> list[Plot]:
    """One figure per experiment (first ``PANELS_PER_FIGURE`` cells); none without CSV logs."""
    experiment = analysis.experiment
    cells = sorted(experiment.run_dirs, key=cell_order)[:PANELS_PER_FIGURE]
    curves = {
        (cell, arm, seed): run_loss_curve(folder)
        for cell in cells
        for arm, seeds in experiment.run_dirs[cell].items()
        for seed, folder in seeds.items()
    }
    curves = {key: curve for key, curve in curves.items() if curve}
    if not curves:
        return []
    shown = [cell for cell in cells if any(key[0] == cell for key in curves)]
    columns = min(3, len(shown))
    figure, axes = panel_figure(math.ceil(len(shown) / columns), columns)
    colours = arm_colours(sorted({arm for _, arm, _ in curves}))
    for ax, cell in zip(axes, shown, strict=False):
        for (where, arm, _seed), curve in sorted(curves.items(), key=lambda item: str(item[0])):
            if where != cell:
                continue
            steps, losses = zip(*curve, strict=True)
            ax.plot(steps, losses, color=colours[arm], linewidth=0.9, alpha=0.8, label=arm)
        ax.set_title(cell.label(experiment.x_axis), fontsize=FONT + 1)
        ax.set_xlabel("training step", fontsize=FONT)
        ax.set_ylabel("mean training loss per task", fontsize=FONT)
        ax.grid(True, alpha=0.3)
    more = len(experiment.run_dirs) - len(cells)
    first = f" (the first {len(cells)} of {len(cells) + more} cells)" if more > 0 else ""
    png = finish_figure(
        figure, axes, len(shown), f"{experiment.name}: training loss, one line per seed{first}"
    )
    return [
        Plot(
            f"{slug(experiment.name)}__training_loss.png",
            f"{experiment.name}: mean training loss per task over steps, one line per seed "
            f"(from each run's CSV log): a diverged or unconverged seed stands out{first}",
            png,
        )
    ]
