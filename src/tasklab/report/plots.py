"""Learning curves as PNG: a metric against data size on a log axis, one line per arm with its
95% bootstrap band, crossovers marked (dashed line at the crossing, shaded CI) where at least
half of the bootstrap resamples cross as well (against the reference arm, where there is one:
the crossovers table has every pair).

One figure per experiment and metric, with a panel per facet (the other swept axes), so facets
sit side by side on the same scale; past ``PANELS_PER_FIGURE`` panels the figure continues on
another page. An experiment without a size axis gets points with CI bars per arm instead.
Figures are drawn with matplotlib's object API on the Agg canvas: no display, no global state.
"""

from __future__ import annotations

import io
import math
import re
from collections import defaultdict
from dataclasses import dataclass

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

from tasklab.report.analysis import Analysis
from tasklab.report.comparisons import CellStat
from tasklab.report.effects import lower_is_better
from tasklab.report.grouping import Facet
from tasklab.report.pairs import reference_arm
from tasklab.report.records import natural_key

PANELS_PER_FIGURE = 12
MARK_SHARE = 0.5  # mark a crossover only where most bootstrap resamples cross too
_COLUMNS = 3
DPI = 100
# Fixed layout, in inches: measured 3x faster than matplotlib's constrained layout on a sweep
# with 25 facets, and plots are the slowest part of a comparison.
_PANEL = (4.2, 3.2)
_MARGINS = {"left": 0.8, "right": 3.4, "top": 0.7, "bottom": 0.6}  # right: the legend


def _figure(rows: int, columns: int) -> tuple[Figure, list]:
    width = _PANEL[0] * columns + _MARGINS["left"] + _MARGINS["right"]
    height = _PANEL[1] * rows + _MARGINS["top"] + _MARGINS["bottom"]
    figure = Figure(figsize=(width, height))
    # Not sharex/sharey: shared axes re-autoscale each other on every artist added, which is
    # quadratic in panels; ``_same_limits`` sets common limits once instead.
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    figure.subplots_adjust(
        left=_MARGINS["left"] / width,
        right=1 - _MARGINS["right"] / width,
        top=1 - _MARGINS["top"] / height,
        bottom=_MARGINS["bottom"] / height,
        wspace=0.12,
        hspace=0.4,
    )
    for ax in axes:
        ax.tick_params(labelsize=7)
    return figure, list(axes)


@dataclass(frozen=True)
class Plot:
    filename: str
    caption: str
    png: bytes


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _facet_title(facet: Facet) -> str:
    return " ".join(f"{k}={v}" for k, v in facet) or "all runs"


def arm_colours(arms: list[str]) -> dict[str, tuple]:
    """One colour per arm, the same in every panel of a figure (tab20 past ten arms)."""
    palette = colormaps["tab10" if len(arms) <= 10 else "tab20"]
    return {arm: palette(i % palette.N) for i, arm in enumerate(sorted(arms, key=natural_key))}


def _draw_curves(
    ax, stats: list[CellStat], crossings: list, x_axis: str, colours: dict[str, tuple]
) -> None:
    by_arm: dict[str, list[CellStat]] = defaultdict(list)
    for stat in stats:
        if stat.cell.x is not None:
            by_arm[stat.arm].append(stat)
    for arm in sorted(by_arm, key=natural_key):
        points = sorted(by_arm[arm], key=lambda s: s.cell.x)
        xs = [p.cell.x for p in points]
        means = [p.mean for p in points]
        (line,) = ax.plot(
            xs, means, marker="o", markersize=3, linewidth=1.5, label=arm, color=colours[arm]
        )
        lows = [p.low if math.isfinite(p.low) else p.mean for p in points]
        highs = [p.high if math.isfinite(p.high) else p.mean for p in points]
        ax.fill_between(xs, lows, highs, color=line.get_color(), alpha=0.18, linewidth=0)
    for row in crossings:
        found = row.found
        ax.axvline(found.size, color="black", linestyle="--", linewidth=0.8, label="crossover")
        if found.low is not None and found.high is not None:
            ax.axvspan(found.low, found.high, color="grey", alpha=0.12, linewidth=0)
    ax.set_xscale("log")
    # Ticks at the measured sizes only: they are what was run, and matplotlib's default log
    # ticks (with minor ticks) were half the drawing time of a figure.
    sizes = sorted({s.cell.x for s in stats if s.cell.x is not None})
    ax.xaxis.set_major_locator(FixedLocator(sizes))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_locator(MaxNLocator(5))


def _draw_points(ax, stats: list[CellStat]) -> None:
    arms = [s.arm for s in stats]
    for i, stat in enumerate(stats):
        low = stat.mean - stat.low if math.isfinite(stat.low) else 0.0
        high = stat.high - stat.mean if math.isfinite(stat.high) else 0.0
        ax.errorbar([i], [stat.mean], yerr=[[low], [high]], marker="o", capsize=3)
    ax.set_xticks(range(len(arms)), arms, rotation=30, ha="right", fontsize=7)


def _label_outer(axes: list, columns: int, x_axis: str | None) -> None:
    """Tick labels on the left column and the lowest panel of each column only: the panels
    share one scale, and every label drawn is time spent on a large sweep."""
    for index, ax in enumerate(axes):
        lowest = index + columns >= len(axes)
        if x_axis is not None:
            ax.tick_params(labelbottom=lowest)
            if lowest:
                ax.set_xlabel(x_axis + " (log scale)", fontsize=8)
        ax.tick_params(labelleft=index % columns == 0)


def _same_limits(axes: list) -> None:
    """One scale for every panel of a figure, so facets compare at a glance."""
    lows, highs = zip(*(ax.get_ylim() for ax in axes), strict=True)
    lefts, rights = zip(*(ax.get_xlim() for ax in axes), strict=True)
    for ax in axes:
        ax.set_ylim(min(lows), max(highs))
        ax.set_xlim(min(lefts), max(rights))


def learning_curve_plots(analysis: Analysis) -> list[Plot]:
    experiment = analysis.experiment
    plots = []
    for metric in analysis.metrics:
        stats = [s for s in analysis.cells if s.metric == metric]
        if not stats:
            continue
        facets = experiment.facets(metric)
        reference = reference_arm(sorted({s.arm for s in stats}))
        crossings = [
            c
            for c in analysis.crossovers
            if c.metric == metric
            and c.found.size is not None
            and c.found.share_crossing >= MARK_SHARE
            and (reference is None or c.arm_b == reference)
        ]
        colours = arm_colours(list({s.arm for s in stats}))
        pages = [
            facets[i : i + PANELS_PER_FIGURE] for i in range(0, len(facets), PANELS_PER_FIGURE)
        ]
        for page, page_facets in enumerate(pages, start=1):
            columns = min(_COLUMNS, len(page_facets))
            rows = math.ceil(len(page_facets) / columns)
            figure, axes = _figure(rows, columns)
            for ax, facet in zip(axes, page_facets, strict=False):
                in_facet = [s for s in stats if s.cell.facet == facet]
                if experiment.x_axis is not None:
                    marked = [c for c in crossings if c.facet == facet]
                    _draw_curves(ax, in_facet, marked, experiment.x_axis, colours)
                else:
                    _draw_points(ax, in_facet)
                ax.set_title(_facet_title(facet), fontsize=8)
                ax.grid(True, alpha=0.3)
            _same_limits(axes[: len(page_facets)])
            _label_outer(axes[: len(page_facets)], columns, experiment.x_axis)
            for ax in axes[::columns]:
                ax.set_ylabel(metric + (" (lower is better)" if lower_is_better(metric) else ""))
            for ax in axes[len(page_facets) :]:
                ax.set_visible(False)
            handles: dict[str, object] = {}
            for ax in axes[: len(page_facets)]:
                for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                    handles.setdefault(label, handle)
            if handles:
                labels = sorted(handles, key=lambda label: (label == "crossover", label))
                legend_labels = [
                    "crossover (table: crossovers)" if label == "crossover" else label
                    for label in labels
                ]
                figure.legend(
                    [handles[label] for label in labels],
                    legend_labels,
                    loc="upper left",
                    bbox_to_anchor=(figure.subplotpars.right + 0.01, figure.subplotpars.top),
                    fontsize=7,
                )
            suffix = f" (page {page} of {len(pages)})" if len(pages) > 1 else ""
            figure.suptitle(f"{experiment.name}: {metric}{suffix}", fontsize=10, x=0.02, ha="left")
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=DPI)
            name = f"{_slug(experiment.name)}__{_slug(metric)}"
            plots.append(
                Plot(
                    f"{name}__p{page}.png" if len(pages) > 1 else f"{name}.png",
                    f"{experiment.name}: {metric} against "
                    f"{experiment.x_axis or 'arm'}, mean and 95% bootstrap CI over seeds{suffix}",
                    buffer.getvalue(),
                )
            )
    return plots
