"""Learning curves on a declared size axis: fits, monotonicity, crossovers, data units.

Per arm and facet the means over seeds at each size are fitted (``curve_fits``: families
chosen by backtest). Uncertainty comes from the same two sources as every interval here
(``intervals``): per draw r, the seeds' part is a Gaussian multiplier draw over whole seed
curves (seed s's curve weighted by z_rs, so sizes stay paired within a seed and arms share
z by seed), scaled by sqrt((n−1)/χ²_{n−1}) for Student's tails; the test split's part is
example draw r of the stored predictions (``resampling``), shared by every arm, size and
seed. A draw of the means becomes a draw of the fitted curve through the fit's linearised
hat matrix. Intervals are the draws' 2.5% and 97.5% points.

- A curve is flagged non-monotone where a step between adjacent sizes goes significantly
  against its overall direction (paired over seeds and test examples, Holm over its steps);
  a flagged curve is not extrapolated and is not used for data units.
- A crossover (``crossovers``) is only *shown* where the difference is shown to change
  sign: a verdict each way at the measured sizes, or a fitted difference whose simultaneous
  interval, at the verdicts' family level, excludes 0 on both sides somewhere in the
  measured range (from fits that follow their means). Otherwise the report says "no
  crossover shown", never a location, and never from fewer than 3 sizes.
- Data units (``data_units``; Hernandez et al. 2021): the reference arm's fitted curve
  inverted at another arm's measured mean, D_E, so that D_E − D is what the arm is worth in
  examples of the reference at size D ("pre-training is worth 4,000 target examples").
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from tasklab.report.comparisons import seed_runs
from tasklab.report.formatting import signed
from tasklab.report.grouping import Cell, Experiment, Facet
from tasklab.report.resampling import ExampleResampler
from tasklab.report.stats.curve_fits import FittedCurve, choose_curve, choose_curves, size_grid
from tasklab.report.stats.intervals import ALPHA, estimate
from tasklab.report.stats.significance import holm

DRAWS = 200
MIN_SIZES = 3
# the values a metric can take: a fit that leaves them beyond the data is not extrapolated
METRIC_RANGES = {
    "auroc": (0.0, 1.0),
    "accuracy": (0.0, 1.0),
    "f1": (0.0, 1.0),
    "mae": (0.0, math.inf),
    "mse": (0.0, math.inf),
}


@dataclass(frozen=True)
class CurveRow:
    """One arm's fitted learning curve in one facet."""

    experiment: str
    metric: str
    facet: Facet
    arm: str
    sizes: tuple[float, ...]
    seeds: int
    fit: FittedCurve | None
    non_monotone: str  # "" or which step goes against the curve, significantly
    extrapolate_to: float | None  # a size beyond the data where the fit is trusted to go
    leaves_range: bool = False  # the fit leaves the metric's possible values beyond the data
    extrapolated: float = math.nan
    extrapolated_low: float = math.nan
    extrapolated_high: float = math.nan

    @property
    def extrapolates(self) -> bool:
        return (
            self.fit is not None
            and self.fit.beats_baseline
            and not self.non_monotone
            and not self.leaves_range
        )

    @property
    def summary(self) -> str:
        if self.fit is None:
            return f"no fit ({len(self.sizes)} sizes; a curve needs {MIN_SIZES})"
        text = self.fit.backtest_text
        if self.non_monotone:
            return f"{text}; not monotone ({self.non_monotone}): not extrapolated"
        if self.leaves_range:
            return f"{text}; leaves the metric's range beyond the data: not extrapolated"
        if not self.extrapolates:
            return f"{text}: not extrapolated"
        if self.extrapolate_to and math.isfinite(self.extrapolated):
            text += (
                f"; extrapolated to {self.extrapolate_to:,.0f} (beyond the data): "
                f"{self.extrapolated:.3f} [{self.extrapolated_low:.3f}, "
                f"{self.extrapolated_high:.3f}]"
            )
        return text


class CurveDraws:
    """Means of an arm's seeds at each size, observed and under the shared draws."""

    def __init__(
        self,
        experiment: Experiment,
        resampler: ExampleResampler,
        draws: int,
        seed: int,
        extrapolate: float = 0.0,
    ) -> None:
        self.experiment, self.resampler, self.draws = experiment, resampler, draws
        self.extrapolate = extrapolate  # how far beyond the largest size a fit may go
        rng = np.random.default_rng([seed, 7])
        seeds = sorted(
            {
                s
                for arms in experiment.values.values()
                for c in arms.values()
                for a in c.values()
                for s in a
            }
        )
        self.seed_index = {s: i for i, s in enumerate(seeds)}
        self.z = rng.standard_normal((draws, max(len(seeds), 1)))
        self.uniform = rng.uniform(size=draws)
        self._fits: dict[tuple, tuple[FittedCurve | None, np.ndarray, np.ndarray]] = {}
        self._on_grid: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def fitted(
        self, metric: str, facet: Facet, arm: str, sizes: list[float], seeds: list[int]
    ) -> tuple[FittedCurve | None, np.ndarray, np.ndarray]:
        """The chosen fit of these means, the observed means and their draws (computed once
        for an arm's own curve and every pair it is part of)."""
        key = (metric, facet, arm, tuple(sizes), tuple(seeds))
        if key not in self._fits:
            mean, drawn = self.means(metric, facet, arm, sizes, seeds)
            self._fits[key] = (choose_curve(np.asarray(sizes), mean), mean, drawn)
        return self._fits[key]

    def fit_all(
        self, metric: str, requests: list[tuple[Facet, str, list[float], list[int]]]
    ) -> None:
        """``fitted`` for every (facet, arm, sizes, seeds) of ``requests`` at once, the fits
        spread over the usable cores; later calls of ``fitted`` find them computed."""
        missing = {}
        for facet, arm, sizes, seeds in requests:
            key = (metric, facet, arm, tuple(sizes), tuple(seeds))
            if key not in self._fits and key not in missing:
                missing[key] = self.means(metric, facet, arm, sizes, seeds)
        chosen = choose_curves([(np.asarray(k[3]), mean) for k, (mean, _) in missing.items()])
        for (key, (mean, drawn)), fit in zip(missing.items(), chosen, strict=True):
            self._fits[key] = (fit, mean, drawn)

    def on_grid(
        self,
        metric: str,
        facet: Facet,
        arm: str,
        sizes: list[float],
        seeds: list[int],
        reach: float = 1.0,
        points: int = 200,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(grid, fitted curve, its draws (draws, grid)) from the smallest size to ``reach``
        × the largest; None where no curve fits. Computed once per arm, however many pairs
        and data-unit rows read it."""
        fit, mean, drawn = self.fitted(metric, facet, arm, sizes, seeds)
        if fit is None:
            return None
        key = (metric, facet, arm, tuple(sizes), tuple(seeds), reach, points)
        if key not in self._on_grid:
            grid = size_grid(sizes[0], sizes[-1] * reach, points)
            curve = fit.predict(grid)
            self._on_grid[key] = (grid, curve, curve + (drawn - mean) @ fit.hat(grid).T)
        return self._on_grid[key]

    def means(
        self, metric: str, facet: Facet, arm: str, sizes: list[float], seeds: list[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(sizes,) observed means and (draws, sizes) drawn means."""
        cells = [Cell(facet, x) for x in sizes]
        values = seed_values(self.experiment, metric, cells, arm, seeds)
        n = len(seeds)
        mean = values.mean(axis=0)
        z = self.z[:, [self.seed_index[s] for s in seeds]]
        scale = np.sqrt((n - 1) / stats.chi2.ppf(np.clip(self.uniform, 1e-12, 1 - 1e-12), n - 1))
        seed_part = (z @ (values - mean)) / n * math.sqrt(n / (n - 1)) * scale[:, None]
        test_part = np.zeros_like(seed_part)
        for j, cell in enumerate(cells):
            runs = seed_runs(self.experiment, self.resampler, metric, cell, arm, seeds)
            if all(r is not None for r in runs):
                resampled = np.stack([r.resampled[: self.draws] for r in runs])  # type: ignore[union-attr]
                drawn = np.nanmean(resampled, axis=0)
                test_part[:, j] = np.where(np.isfinite(drawn), drawn - mean[j], 0.0)
        return mean, mean + seed_part + test_part


def lack_of_fit(fit: FittedCurve, mean: np.ndarray, drawn: np.ndarray) -> float:
    """p-value of the fit's misfit at the measured sizes: Σ ((mean − fit) / se)² against χ²
    with (sizes − parameters) degrees of freedom, se from the draws of the means; NaN where
    the fit has no freedom left (it passes through every point). A fitted family that cannot
    follow the data (a smooth curve through a step) draws differences the data never show."""
    free = len(fit.sizes) - len(fit.params)
    if free < 1:
        return math.nan
    se = np.std(drawn, axis=0, ddof=1)
    residual = mean - fit.predict(np.asarray(fit.sizes))
    with np.errstate(all="ignore"):
        statistic = float(np.sum((residual / np.where(se > 0, se, np.nan)) ** 2))
    return float(stats.chi2.sf(statistic, free)) if math.isfinite(statistic) else math.nan


def seed_values(
    experiment: Experiment, metric: str, cells: list[Cell], arm: str, seeds: list[int]
) -> np.ndarray:
    """(seeds, cells) values of one arm."""
    return np.asarray([[experiment.values[metric][c][arm][s] for c in cells] for s in seeds])


def curve_seeds(experiment: Experiment, metric: str, facet: Facet, arms: list[str]) -> tuple:
    """Sizes where every arm has runs, and the seeds every arm has at each of them."""
    curves = experiment.curves(metric, facet)
    sizes = sorted(set.intersection(*(set(curves[a]) for a in arms)))
    if not sizes:
        return [], []
    seeds = sorted(set.intersection(*(set(curves[a][x]) for a in arms for x in sizes)))
    return sizes, seeds


def _non_monotone(
    experiment: Experiment,
    resampler: ExampleResampler,
    metric: str,
    facet: Facet,
    arm: str,
    sizes: list[float],
    seeds: list[int],
) -> str:
    """The steps between adjacent sizes that go against the curve's direction, shown (Holm
    over the curve's steps, intervals over seeds and test examples)."""
    cells = [Cell(facet, x) for x in sizes]
    values = seed_values(experiment, metric, cells, arm, seeds)
    direction = np.sign(values[:, -1].mean() - values[:, 0].mean())
    found, p_values = [], []
    for j in range(len(sizes) - 1):
        steps = values[:, j + 1] - values[:, j]
        runs = [seed_runs(experiment, resampler, metric, c, arm, seeds) for c in cells[j : j + 2]]
        resampled = None
        if all(r is not None for r in runs[0] + runs[1]):
            resampled = np.stack(
                [b.resampled - a.resampled for a, b in zip(runs[0], runs[1], strict=True)]  # type: ignore[union-attr]
            )
        step = estimate(steps, resampled)
        found.append(step)
        p_values.append(step.p_value() if np.sign(step.mean) == -direction else math.nan)
    adjusted = holm(p_values)
    against = [
        f"{sizes[j]:,.0f} → {sizes[j + 1]:,.0f}: {signed(found[j].mean)}"
        for j, p in enumerate(adjusted)
        if p < ALPHA
    ]
    return "; ".join(against)


def _leaves_range(fit: FittedCurve, metric: str, reach: float) -> bool:
    """Whether the fitted curve takes a value the metric cannot have between the largest
    measured size and ``reach`` (an AUROC above 1, say)."""
    low, high = METRIC_RANGES.get(metric.rsplit("/", 1)[-1].lower(), (-math.inf, math.inf))
    beyond = fit.predict(size_grid(fit.sizes[-1], reach, 50))
    return bool(np.any(beyond < low) or np.any(beyond > high))


def fit_curves(
    experiment: Experiment,
    metric: str,
    resampler: ExampleResampler,
    draws: CurveDraws,
    extrapolate: float,
) -> list[CurveRow]:
    rows = []
    wanted = []
    for facet in experiment.facets(metric):
        for arm in sorted(experiment.curves(metric, facet)):
            sizes, seeds = curve_seeds(experiment, metric, facet, [arm])
            if len(sizes) >= MIN_SIZES and len(seeds) >= 2:
                wanted.append((facet, arm, sizes, seeds))
    draws.fit_all(metric, wanted)  # every fit of the metric at once, over the cores
    for facet in experiment.facets(metric):
        curves = experiment.curves(metric, facet)
        for arm in sorted(curves):
            sizes, seeds = curve_seeds(experiment, metric, facet, [arm])
            fit, flag = None, ""
            if len(sizes) >= MIN_SIZES and len(seeds) >= 2:
                fit, mean, drawn = draws.fitted(metric, facet, arm, sizes, seeds)
                flag = _non_monotone(experiment, resampler, metric, facet, arm, sizes, seeds)
            reach = extrapolate * sizes[-1] if extrapolate > 0 and sizes else None
            row = CurveRow(
                experiment.name,
                metric,
                facet,
                arm,
                tuple(sizes),
                len(seeds),
                fit,
                flag,
                reach,
                fit is not None and reach is not None and _leaves_range(fit, metric, reach),
            )
            if fit is not None and row.extrapolates and row.extrapolate_to:
                at = np.asarray([row.extrapolate_to])
                value = float(fit.predict(at)[0])
                spread = (drawn - mean) @ fit.hat(at).T
                low, high = np.nanquantile(value + spread[:, 0], [0.025, 0.975])
                row = dataclasses.replace(
                    row,
                    extrapolated=value,
                    extrapolated_low=float(low),
                    extrapolated_high=float(high),
                )
            rows.append(row)
    return rows
