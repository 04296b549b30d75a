"""Every figure of a comparison, in the order a report shows them.

A figure is a function from one experiment's ``Analysis`` to its ``Plot``s (none where it does
not apply); adding one is that function and an entry in ``FIGURES``. Every renderer (the
folder of PNGs, the HTML and Markdown reports, the results pages, W&B) draws from this list.
Imported only where plots are written: matplotlib is slow to import.
"""

from __future__ import annotations

from collections.abc import Callable

from tasklab.report.affinity_plots import affinity_plots
from tasklab.report.analysis import Analysis
from tasklab.report.plots import Plot, difference_plots, learning_curve_plots
from tasklab.report.training_curves import training_curve_plots

FIGURES: list[Callable[[Analysis], list[Plot]]] = [
    learning_curve_plots,
    difference_plots,
    training_curve_plots,
    affinity_plots,
]


def figures_of(analysis: Analysis) -> list[Plot]:
    """The plots of one experiment, from every figure in ``FIGURES``."""
    return [plot for figure in FIGURES for plot in figure(analysis)]
