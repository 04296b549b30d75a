"""Which tasks help which, as a matrix per arm and cell: the inter-task affinity that runs with
``mtl.affinity_every`` kept in their records (``tasklab.fit.affinity``).

A cell of the matrix is Z(i→j) averaged over seeds, shown relative to Z(j→j): 1 means a step
for task i lowers task j's loss as much as j's own step does, 0 not at all, below 0 it raises
it. Relative, because the raw values scale with the learning rate (with Adam's small rates
they are around 10⁻³), while their ratio to a task's own step does not.
"""

from __future__ import annotations

import io
import json
import math
from collections import defaultdict
from pathlib import Path

from matplotlib.figure import Figure

from tasklab.report.analysis import Analysis
from tasklab.report.grouping import cell_order
from tasklab.report.plots import DPI, FONT, PANELS_PER_FIGURE, Plot, slug
from tasklab.results import RESULT_FILE

Matrix = dict[str, dict[str, float]]


def run_affinity(run_dir: str | Path) -> Matrix:
    """The affinity of the run's fits of several tasks, ``{i: {j: Z(i→j)}}`` (fits measured
    apart, a single-task arm's say, have none); empty where none was measured."""
    try:
        record = json.loads((Path(run_dir) / RESULT_FILE).read_text())
    except (OSError, ValueError):
        return {}
    table: Matrix = {}
    for fit in record.get("fits", []):
        for i, row in (fit.get("affinity") or {}).items():
            table.setdefault(i, {}).update(row)
    return table


def mean_relative_affinity(matrices: list[Matrix]) -> tuple[list[str], list[list[float]]]:
    """Tasks and the seeds' mean Z(i→j) over the mean Z(j→j) (NaN where j's own is not > 0)."""
    sums: dict[tuple[str, str], float] = defaultdict(float)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for matrix in matrices:
        for i, row in matrix.items():
            for j, value in row.items():
                sums[(i, j)] += value
                counts[(i, j)] += 1
    tasks = sorted({i for i, _ in sums} | {j for _, j in sums})
    mean = {pair: sums[pair] / counts[pair] for pair in sums}
    rows = []
    for i in tasks:
        row = []
        for j in tasks:
            own = mean.get((j, j), math.nan)
            value = mean.get((i, j), math.nan)
            row.append(value / own if own > 0 else math.nan)
        rows.append(row)
    return tasks, rows


def affinity_plots(analysis: Analysis) -> list[Plot]:
    experiment = analysis.experiment
    panels = []
    for cell in sorted(experiment.run_dirs, key=cell_order):
        for arm, seeds in sorted(experiment.run_dirs[cell].items()):
            matrices = [m for m in (run_affinity(d) for d in seeds.values()) if m]
            if matrices:
                panels.append((cell, arm, len(matrices), *mean_relative_affinity(matrices)))
    if not panels:
        return []
    shown = panels[:PANELS_PER_FIGURE]
    columns = min(3, len(shown))
    rows = math.ceil(len(shown) / columns)
    size = max(len(p[3]) for p in shown)
    side = 1.4 + 0.55 * size  # inches per panel: room for the task names and the numbers
    figure = Figure(figsize=(columns * (side + 1.2), rows * (side + 0.9) + 0.6))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    image = None
    for ax, (cell, arm, n, tasks, values) in zip(axes, shown, strict=False):
        image = ax.imshow(values, cmap="RdBu", vmin=-1, vmax=1)
        ax.set_xticks(range(len(tasks)), tasks, rotation=45, ha="right", fontsize=FONT)
        ax.set_yticks(range(len(tasks)), tasks, fontsize=FONT)
        ax.set_xlabel("j (loss that moves)", fontsize=FONT)
        ax.set_ylabel("i (task stepped)", fontsize=FONT)
        for r, row in enumerate(values):
            for c, value in enumerate(row):
                if math.isfinite(value):
                    colour = "white" if abs(value) > 0.6 else "black"
                    ax.text(
                        c,
                        r,
                        f"{value:.2f}",
                        ha="center",
                        va="center",
                        fontsize=FONT - 1,
                        color=colour,
                    )
        seeds = f"{n} seed" + ("s" if n != 1 else "")
        ax.set_title(f"{arm}, {cell.label(experiment.x_axis)} ({seeds})", fontsize=FONT)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    if image is not None:
        figure.colorbar(image, ax=list(axes[: len(shown)]), shrink=0.8, label="Z(i→j) / Z(j→j)")
    more = f" (the first {len(shown)} of {len(panels)})" if len(panels) > len(shown) else ""
    figure.suptitle(
        f"{experiment.name}: inter-task affinity, relative to each task's own step{more}",
        fontsize=FONT + 2,
        x=0.02,
        ha="left",
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return [
        Plot(
            f"{slug(experiment.name)}__task_affinity.png",
            f"{experiment.name}: which tasks help which — a step for task i (row) lowers task "
            "j's loss (column) by this share of what j's own step does (Fifty et al. 2021's "
            f"lookahead, mean over seeds); blue helps, red hurts{more}",
            buffer.getvalue(),
        )
    ]
