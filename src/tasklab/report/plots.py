"""Learning curves as PNG: a metric against the declared data size on a log axis: per arm the
measured means with their 95% intervals (bars) and every seed (dots), and the fitted curve
(``curves``), solid over the measured range and dashed beyond it where the fit is trusted to
extrapolate. A crossover is marked (vertical line, shaded CI) only where it is shown
(``crossovers``; against the reference arm where there is one: the table has every pair).

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
from collections.abc import Callable
from dataclasses import dataclass

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

from tasklab.report.analysis import Analysis
from tasklab.report.comparisons import CellStat
from tasklab.report.grouping import Facet
from tasklab.report.pairs import first_present
from tasklab.report.records import natural_key
from tasklab.report.stats.curve_fits import size_grid
from tasklab.report.stats.effects import lower_is_better

SeedLookup = Callable[[CellStat], list[float]]  # the per-seed values behind a cell's mean
PANELS_PER_FIGURE = 12
_COLUMNS = 3
DPI = 100
FONT = 10  # points: readable at 100% zoom
# Fixed layout, in inches: measured 3x faster than matplotlib's constrained layout on a sweep
# with 25 facets, and plots are the slowest part of a comparison.
_PANEL = (4.2, 3.2)
_MARGINS = {"left": 0.8, "right": 3.4, "top": 0.7, "bottom": 0.6}  # right: the legend


def panel_figure(rows: int, columns: int, legend: bool = True) -> tuple[Figure, list]:
    """``legend``: room on the right for a legend (curves); without, no empty margin."""
    margins = dict(_MARGINS, right=_MARGINS["right"] if legend else 0.3)
    margins["bottom"] = _MARGINS["bottom"] if legend else 1.0  # room for arm names
    width = _PANEL[0] * columns + margins["left"] + margins["right"]
    height = _PANEL[1] * rows + margins["top"] + margins["bottom"]
    figure = Figure(figsize=(width, height))
    # Not sharex/sharey: shared axes re-autoscale each other on every artist added, which is
    # quadratic in panels; ``_same_limits`` sets common limits once instead.
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    figure.subplots_adjust(
        left=margins["left"] / width,
        right=1 - margins["right"] / width,
        top=1 - margins["top"] / height,
        bottom=margins["bottom"] / height,
        wspace=0.12,
        hspace=0.4,
    )
    for ax in axes:
        ax.tick_params(labelsize=FONT)
    return figure, list(axes)


@dataclass(frozen=True)
class Plot:
    filename: str
    caption: str
    png: bytes


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _facet_title(facet: Facet) -> str:
    return " ".join(f"{k}={v}" for k, v in facet) or "all runs"


def arm_colours(arms: list[str]) -> dict[str, tuple]:
    """One colour per arm, the same in every panel of a figure (tab20 past ten arms)."""
    palette = colormaps["tab10" if len(arms) <= 10 else "tab20"]
    return {arm: palette(i % palette.N) for i, arm in enumerate(sorted(arms, key=natural_key))}


def _draw_fit(ax, curve, colour: tuple) -> None:
    """The fitted curve: solid over the measured sizes, dashed out to its extrapolation."""
    fit = curve.fit
    low, high = fit.sizes[0], fit.sizes[-1]
    inside = size_grid(low, high, 60)
    ax.plot(inside, fit.predict(inside), color=colour, linewidth=1.2)
    if curve.extrapolates and curve.extrapolate_to:
        beyond = size_grid(high, curve.extrapolate_to, 30)
        ax.plot(beyond, fit.predict(beyond), color=colour, linewidth=1.2, linestyle="--")


def _draw_curves(
    ax,
    stats: list[CellStat],
    crossings: list,
    fits: dict[str, object],
    colours: dict[str, tuple],
    seeds: SeedLookup,
) -> None:
    by_arm: dict[str, list[CellStat]] = defaultdict(list)
    for stat in stats:
        if stat.cell.x is not None:
            by_arm[stat.arm].append(stat)
    for arm in sorted(by_arm, key=natural_key):
        points = sorted(by_arm[arm], key=lambda s: s.cell.x)
        xs = [p.cell.x for p in points]
        means = [p.mean for p in points]
        colour = colours[arm]
        lows = [_reach(p.mean, p.low) for p in points]
        highs = [_reach(p.high, p.mean) for p in points]
        ax.errorbar(
            xs,
            means,
            yerr=[lows, highs],
            marker="o",
            markersize=3,
            linestyle="none",
            capsize=2,
            color=colour,
            label=arm,
        )
        curve = fits.get(arm)
        if curve is not None and curve.fit is not None:  # type: ignore[attr-defined]
            _draw_fit(ax, curve, colour)
        else:  # no fit (fewer than 3 sizes): the measured points only, joined
            ax.plot(xs, means, color=colour, linewidth=0.8, alpha=0.6)
        dots = [(p.cell.x, value) for p in points for value in seeds(p)]  # every seed
        if dots:
            ax.scatter(*zip(*dots, strict=True), s=6, color=colour, alpha=0.5)
    for row in crossings:
        ax.axvline(row.size, color="black", linestyle="--", linewidth=0.8, label="crossover")
        if row.low is not None and row.high is not None:
            ax.axvspan(row.low, row.high, color="grey", alpha=0.12, linewidth=0)
    ax.set_xscale("log")
    # Ticks at the measured sizes only: they are what was run, and matplotlib's default log
    # ticks (with minor ticks) were half the drawing time of a figure.
    sizes = sorted({s.cell.x for s in stats if s.cell.x is not None})
    sizes += sorted({c.extrapolate_to for c in fits.values() if c.extrapolates})  # type: ignore[attr-defined]
    ax.xaxis.set_major_locator(FixedLocator(sizes))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_locator(MaxNLocator(5))


def _reach(upper: float, lower: float) -> float:
    """An error bar's length from ``lower`` up to ``upper``: never negative (matplotlib
    refuses), 0 where a bound is not finite."""
    if not (math.isfinite(upper) and math.isfinite(lower)):
        return 0.0
    return max(upper - lower, 0.0)


def _draw_points(ax, stats: list[CellStat], seeds: SeedLookup) -> None:
    """No size axis: each arm's mean with its interval, and every seed's value beside it."""
    arms = [s.arm for s in stats]
    for i, stat in enumerate(stats):
        low, high = _reach(stat.mean, stat.low), _reach(stat.high, stat.mean)
        ax.errorbar([i], [stat.mean], yerr=[[low], [high]], marker="o", capsize=3)
        values = seeds(stat)
        ax.scatter([i + 0.18] * len(values), values, s=10, color="grey", alpha=0.7, zorder=3)
    ax.set_xticks(range(len(arms)), arms, rotation=30, ha="right", fontsize=FONT)


def _label_outer(axes: list, columns: int, x_axis: str | None) -> None:
    """Tick labels on the left column and the lowest panel of each column only: the panels
    share one scale, and every label drawn is time spent on a large sweep."""
    for index, ax in enumerate(axes):
        lowest = index + columns >= len(axes)
        if x_axis is not None:
            ax.tick_params(labelbottom=lowest)
            if lowest:
                ax.set_xlabel(x_axis + " (log scale)", fontsize=FONT)
        ax.tick_params(labelleft=index % columns == 0)


def finish_figure(figure: Figure, axes: list, used: int, title: str) -> bytes:
    """Hide the panels past ``used``, put one legend entry per label drawn in any panel to the
    right, title the figure and return it as PNG bytes."""
    for ax in axes[used:]:
        ax.set_visible(False)
    handles: dict[str, object] = {}
    for ax in axes[:used]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if handles:
        labels = sorted(handles, key=lambda label: (label == "crossover", natural_key(label)))
        figure.legend(
            [handles[label] for label in labels],
            [
                "crossover (table: crossovers)" if label == "crossover" else label
                for label in labels
            ],
            loc="upper left",
            bbox_to_anchor=(figure.subplotpars.right + 0.01, figure.subplotpars.top),
            fontsize=FONT,
        )
    figure.suptitle(title, fontsize=FONT + 2, x=0.02, ha="left")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


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
        reference = first_present(analysis.references, sorted({s.arm for s in stats}))
        crossings = [
            c
            for c in analysis.crossovers
            if c.metric == metric and c.shown and (reference is None or c.arm_b == reference)
        ]
        colours = arm_colours(list({s.arm for s in stats}))

        def seeds(stat: CellStat, metric: str = metric) -> list[float]:
            by_seed = experiment.values.get(metric, {}).get(stat.cell, {}).get(stat.arm, {})
            return [by_seed[seed] for seed in sorted(by_seed)]

        pages = [
            facets[i : i + PANELS_PER_FIGURE] for i in range(0, len(facets), PANELS_PER_FIGURE)
        ]
        for page, page_facets in enumerate(pages, start=1):
            columns = min(_COLUMNS, len(page_facets))
            rows = math.ceil(len(page_facets) / columns)
            figure, axes = panel_figure(rows, columns, legend=experiment.x_axis is not None)
            for ax, facet in zip(axes, page_facets, strict=False):
                in_facet = [s for s in stats if s.cell.facet == facet]
                if experiment.x_axis is not None:
                    marked = [c for c in crossings if c.facet == facet]
                    fits = {
                        c.arm: c for c in analysis.curves if c.metric == metric and c.facet == facet
                    }
                    _draw_curves(ax, in_facet, marked, fits, colours, seeds)
                else:
                    _draw_points(ax, in_facet, seeds)
                ax.set_title(_facet_title(facet), fontsize=FONT + 1)
                ax.grid(True, alpha=0.3)
            _same_limits(axes[: len(page_facets)])
            _label_outer(axes[: len(page_facets)], columns, experiment.x_axis)
            for ax in axes[::columns]:
                ax.set_ylabel(
                    metric + (" (lower is better)" if lower_is_better(metric) else ""),
                    fontsize=FONT,
                )
            suffix = f" (page {page} of {len(pages)})" if len(pages) > 1 else ""
            png = finish_figure(
                figure, axes, len(page_facets), f"{experiment.name}: {metric}{suffix}"
            )
            name = f"{slug(experiment.name)}__{slug(metric)}"
            plots.append(
                Plot(
                    f"{name}__p{page}.png" if len(pages) > 1 else f"{name}.png",
                    f"{experiment.name}: {metric} against "
                    f"{experiment.x_axis or 'arm'}, mean, 95% CI and each seed (dots)"
                    f"{', fitted curves (dashed: extrapolated)' if experiment.x_axis else ''}"
                    f"{suffix}",
                    png,
                )
            )
    return plots


def _pair_label(comparison) -> str:
    return f"{comparison.arm_a} − {comparison.arm_b}"


def difference_plots(analysis: Analysis) -> list[Plot]:
    """The paired difference a − b of every compared pair, with its interval and the zero line:
    against the data size where there is one, else one point per pair (a paired comparison,
    not two separate dots). What the verdicts are about, drawn."""
    experiment = analysis.experiment
    plots = []
    for metric in analysis.metrics:
        comparisons = [c for c in analysis.comparisons if c.metric == metric]
        if not comparisons:
            continue
        all_facets = sorted({c.cell.facet for c in comparisons}, key=str)
        facets, n_facets = all_facets[:PANELS_PER_FIGURE], len(all_facets)
        columns = min(_COLUMNS, len(facets))
        figure, axes = panel_figure(
            math.ceil(len(facets) / columns), columns, legend=experiment.x_axis is not None
        )
        pairs = sorted({_pair_label(c) for c in comparisons}, key=natural_key)
        colours = arm_colours(pairs)
        for ax, facet in zip(axes, facets, strict=False):
            in_facet = [c for c in comparisons if c.cell.facet == facet]
            ax.axhline(0.0, color="black", linewidth=0.8)
            for index, pair in enumerate(pairs):
                rows = sorted(
                    (c for c in in_facet if _pair_label(c) == pair), key=lambda c: c.cell.x or 0
                )
                if not rows:
                    continue
                xs = [c.cell.x if experiment.x_axis else index for c in rows]
                diffs = [c.diff for c in rows]
                lows = [c.low if math.isfinite(c.low) else c.diff for c in rows]
                highs = [c.high if math.isfinite(c.high) else c.diff for c in rows]
                colour = colours[pair]
                if experiment.x_axis:
                    ax.plot(xs, diffs, marker="o", markersize=4, color=colour, label=pair)
                    ax.fill_between(xs, lows, highs, color=colour, alpha=0.18, linewidth=0)
                else:
                    errors = [[_reach(d, lo) for d, lo in zip(diffs, lows, strict=True)]]
                    errors.append([_reach(hi, d) for d, hi in zip(diffs, highs, strict=True)])
                    ax.errorbar(xs, diffs, yerr=errors, marker="o", capsize=4, color=colour)
            if experiment.x_axis:
                ax.set_xscale("log")
                ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
                ax.set_xlabel(f"{experiment.x_axis} (log scale)", fontsize=FONT)
            else:
                ax.set_xticks(range(len(pairs)), pairs, fontsize=FONT)
                ax.set_xlim(-0.6, len(pairs) - 0.4)
            ax.set_title(_facet_title(facet), fontsize=FONT + 1)
            ax.set_ylabel(f"paired difference in {metric}", fontsize=FONT)
            ax.grid(True, alpha=0.3)
        shown = f" (the first {len(facets)} of {n_facets} facets)" if n_facets > len(facets) else ""
        png = finish_figure(
            figure, axes, len(facets), f"{experiment.name}: paired differences in {metric}{shown}"
        )
        plots.append(
            Plot(
                f"{slug(experiment.name)}__{slug(metric)}__difference.png",
                f"{experiment.name}: paired difference a − b in {metric}"
                f"{' against ' + experiment.x_axis if experiment.x_axis else ''}, with the CI "
                f"its verdict uses (Holm-adjusted; seeds and test examples where stored) and "
                f"the zero line{shown}",
                png,
            )
        )
    return plots
