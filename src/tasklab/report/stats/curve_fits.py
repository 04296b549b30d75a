"""Parametric learning curves, chosen by backtest (LCDB's practice: Mohr, Viering et al.).

A learning curve is a metric as a function of the data size x. Each family below is fitted
by ``scipy.optimize.least_squares`` from several starts, on the size scaled by the largest
measured one (u = x / x_max, so every parameter is of order one):

    pow3  y = a + b·u^(−c)                 (Hestness et al. 2017: power law to a floor)
    pow4  y = a + b·(u + d)^(−c)
    exp3  y = a + b·exp(−c·u)
    mmf4  y = a + (b − a) / (1 + (u/d)^c)   (Morgan–Mercer–Flodin: b at 0, a at infinity)
    wbl4  y = a + b·exp(−(u/d)^c)           (Weibull)

The family is chosen by backtest: hold out the largest measured size, fit the rest, and
compare the error at the held-out size with the "last point" baseline (predict the held-out
value by the largest remaining one). A family is backtested only where the remaining sizes
are at least its parameters; the one with the least error is refitted on every size. Where
none beats the baseline the curve still interpolates (crossovers, data units inside the
measured range) but is not extrapolated, and the report says so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from tasklab.report.stats.parallel import parallel_map

Curve = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (u, params) -> y


def _pow3(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p[0] + p[1] * u ** (-p[2])


def _pow4(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p[0] + p[1] * (u + p[3]) ** (-p[2])


def _exp3(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p[0] + p[1] * np.exp(-p[2] * u)


def _mmf4(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p[0] + (p[1] - p[0]) / (1.0 + (u / p[3]) ** p[2])


def _wbl4(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p[0] + p[1] * np.exp(-((u / p[3]) ** p[2]))


@dataclass(frozen=True)
class Family:
    name: str
    curve: Curve
    lower: tuple[float, ...]  # bounds of the parameters (a and b are free)
    upper: tuple[float, ...]
    rate: float  # the shape's start (c; d starts at 0.1, mmf4's at the middle size)

    @property
    def n_params(self) -> int:
        return len(self.lower)

    def start(self, u: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The family's own start besides the grid's: the floor at the last value, the
        scale matched at the first."""
        top, first = float(y[-1]), float(y[0])
        if self.name == "mmf4":
            return np.asarray([top, first, self.rate, float(u[len(u) // 2])])
        shape = [self.rate] if self.n_params == 3 else [self.rate, 0.1]
        at_first = self.curve(u[:1], np.asarray([0.0, 1.0, *shape]))[0]
        scale = (first - top) / at_first if at_first else first - top
        return np.asarray([top, scale, *shape])


_FREE = -np.inf
FAMILIES: tuple[Family, ...] = (
    Family("pow3", _pow3, (_FREE, _FREE, 1e-3), (np.inf, np.inf, 4.0), 0.3),
    Family("pow4", _pow4, (_FREE, _FREE, 1e-3, 0.0), (np.inf, np.inf, 4.0, 10.0), 0.3),
    Family("exp3", _exp3, (_FREE, _FREE, 1e-3), (np.inf, np.inf, 1e4), 1.0),
    Family("mmf4", _mmf4, (_FREE, _FREE, 1e-2, 1e-6), (np.inf, np.inf, 8.0, 1e3), 0.5),
    Family("wbl4", _wbl4, (_FREE, _FREE, 1e-2, 1e-6), (np.inf, np.inf, 8.0, 1e3), 0.5),
)
BY_NAME = {f.name: f for f in FAMILIES}
# Evaluations per least-squares fit: a report fits every arm of every facet (600 curves on a
# 10,000-run sweep), and past this a fit of 3-5 points only polishes digits no one reads.
MAX_EVALUATIONS = 30
FINAL_EVALUATIONS = 150  # the chosen family's fit on every size, once per curve
_STEP = math.sqrt(np.finfo(np.float64).eps)


def _fit(
    family: Family, u: np.ndarray, y: np.ndarray, start: np.ndarray, evaluations: int
) -> np.ndarray | None:
    """Least squares over the shape parameters alone (variable projection): for each shape
    the two linear parameters are solved exactly (``_projection``), so the optimiser moves in
    one or two dimensions instead of three or four, with the same optimum."""
    lower, upper = np.asarray(family.lower[2:]), np.asarray(family.upper[2:])
    x0 = np.clip(np.asarray(start[2:], dtype=np.float64), lower + 1e-9, upper - 1e-9)

    y_centred = y - y.mean()
    zeros, ones = np.zeros(1 + x0.size), np.ones(1 + x0.size)

    def batch(shapes: np.ndarray) -> np.ndarray:
        """Residuals at each row of ``shapes``, the two linear parameters projected out:
        residual = slope * (g - mean g) - (y - mean y), for all rows in one array pass."""
        params = np.column_stack((zeros[: len(shapes)], ones[: len(shapes)], shapes))
        g = family.curve(u[None, :], params.T[:, :, None])
        centred = g - g.mean(axis=1, keepdims=True)
        var = np.einsum("ij,ij->i", centred, centred)
        safe = var > 1e-300
        slope = np.where(safe, centred @ y_centred / np.where(safe, var, 1.0), 0.0)
        found = slope[:, None] * centred - y_centred
        return np.where(np.isfinite(found), found, 1e6)

    def residuals(shape: np.ndarray) -> np.ndarray:
        return batch(shape[None, :])[0]

    def jacobian(shape: np.ndarray) -> np.ndarray:
        """Forward differences with scipy's own step (sqrt(eps)·max(1, |x|), turned back
        at an upper bound), evaluated in one pass: scipy's numerical Jacobian calls the
        residuals once per parameter, and a fit of a few points is mostly that overhead."""
        step = _STEP * np.maximum(1.0, np.abs(shape))
        step = np.where(shape + step > upper, -step, step)
        shifted = shape[None, :] + np.diag(step)
        rows = batch(np.vstack((shape[None, :], shifted)))
        return ((rows[1:] - rows[0]) / step[:, None]).T

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            found = optimize.least_squares(
                residuals,
                x0,
                jac=jacobian,
                bounds=(lower, upper),
                max_nfev=evaluations,
                ftol=1e-7,
                xtol=1e-7,
                gtol=1e-7,
            )
        except (ValueError, FloatingPointError):
            return None
    with np.errstate(all="ignore"):
        g = family.curve(u, np.concatenate(([0.0, 1.0], found.x)))
        intercept, slope, _ = _projection(g, y)
    params = _params(family, float(intercept), float(slope), found.x)
    return params if np.all(np.isfinite(params)) else None


def _projection(g: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, B, sse) of the least-squares line y ≈ A + B·g along the last axis of ``g`` (one
    shape or a grid of them; B = 0 where g is constant)."""
    g_mean = g.mean(axis=-1, keepdims=True)
    centred = g - g_mean
    y_centred = y - y.mean()
    var = np.sum(centred**2, axis=-1)
    cov = centred @ y_centred
    slope = np.where(var > 1e-300, cov / np.where(var > 1e-300, var, 1.0), 0.0)
    sse = np.sum(y_centred**2) - slope * cov
    return y.mean() - slope * g_mean[..., 0], slope, sse


def _shape_grid(name: str) -> np.ndarray:
    """(shapes, 1 or 2) candidate shape parameters (c, or c and d) of a family."""
    if name == "pow3":
        return np.logspace(-3, math.log10(4.0), 80)[:, None]
    if name == "exp3":
        return np.logspace(-3, 4, 100)[:, None]
    c = np.logspace(-2, math.log10(4.0), 20) if name == "pow4" else np.linspace(0.1, 8.0, 20)
    d = np.r_[0.0, np.logspace(-4, 1, 15)] if name == "pow4" else np.logspace(-6, 3, 24)
    cc, dd = np.meshgrid(c, d, indexing="ij")
    return np.stack([cc.ravel(), dd.ravel()], axis=1)


_GRIDS = {name: _shape_grid(name) for name in ("pow3", "pow4", "exp3", "mmf4", "wbl4")}


def _linear_fit(
    family: Family, u: np.ndarray, y: np.ndarray, shapes: np.ndarray
) -> tuple[np.ndarray, float]:
    """The best (params, sse) over ``shapes`` (shapes × 1 or 2), a and b solved exactly."""
    params = np.column_stack([np.zeros(len(shapes)), np.ones(len(shapes)), shapes])
    with np.errstate(all="ignore"):
        basis = family.curve(u[None, :], params.T[:, :, None])  # (shapes, points)
        intercept, slope, sse = _projection(basis, y)
    sse = np.where(np.isfinite(sse) & np.all(np.isfinite(basis), axis=1), sse, np.inf)
    best = int(np.argmin(sse))
    params = _params(family, float(intercept[best]), float(slope[best]), shapes[best])
    return params, float(sse[best])


def _params(family: Family, intercept: float, slope: float, shape: np.ndarray) -> np.ndarray:
    """The family's parameters from the line A + B·g: for mmf4 the floor a = A and the start
    b = A + B, for the others a = A and b = B."""
    b = intercept + slope if family.name == "mmf4" else slope
    return np.asarray([intercept, b, *shape])


def _zoom(grid: np.ndarray, best: np.ndarray, points: int) -> np.ndarray:
    """A finer grid between the neighbours of ``best`` on each axis of ``grid``."""
    axes = []
    for k, value in enumerate(best):
        values = np.unique(grid[:, k])
        i = int(np.clip(np.searchsorted(values, value), 0, len(values) - 1))
        axes.append(np.linspace(values[max(i - 1, 0)], values[min(i + 1, len(values) - 1)], points))
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


ZOOMS = 2  # finer grids around the best shape: each narrows it to two cells of the last


def grid_fit(family: Family, u: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """The best parameters over the family's grid of shapes, a and b solved exactly: every
    family is linear in two parameters once its shape is fixed, y = A + B·g with g the curve
    at a = 0, b = 1 (for mmf4 A is the floor a and B = b − a), so a grid of hundreds of
    shapes costs a few array operations and finds the basin that a local start may miss;
    ``ZOOMS`` finer grids around the best shape then locate it closely, so the polish that
    follows (``fit``) starts near its optimum."""
    grid = _GRIDS[family.name]
    params, sse = _linear_fit(family, u, y, grid)
    points = 9 if grid.shape[1] == 1 else 7
    for _ in range(ZOOMS):
        grid = _zoom(grid, params[2:], points)
        finer, finer_sse = _linear_fit(family, u, y, grid)
        if finer_sse <= sse:
            params, sse = finer, finer_sse
    return params, sse


def fit(
    family: Family,
    u: np.ndarray,
    y: np.ndarray,
    start: np.ndarray | None = None,
    evaluations: int = MAX_EVALUATIONS,
) -> np.ndarray | None:
    """The least-squares parameters of ``family`` on (u, y): polished by
    ``scipy.optimize.least_squares`` from ``start`` where one is given, else from the best
    point of the shape grid (``grid_fit``) and from the family's own start."""
    starts = [start] if start is not None else [grid_fit(family, u, y)[0], family.start(u, y)]
    best, best_cost = None, math.inf
    for guess in starts:
        params = _fit(family, u, y, guess, evaluations)
        if params is None:
            continue
        with np.errstate(all="ignore"):
            cost = float(np.sum((family.curve(u, params) - y) ** 2))
        if math.isfinite(cost) and cost < best_cost:
            best, best_cost = params, cost
    return best


@dataclass(frozen=True)
class FittedCurve:
    """The chosen family refitted on every measured size, with its backtest."""

    family: str  # a family's name
    params: tuple[float, ...]
    scale: float  # x_max: the fit's u = x / scale
    sizes: tuple[float, ...]
    backtest_error: float  # |fit on all but the largest − the largest|; NaN: not backtested
    baseline_error: float  # the same for the last-point baseline

    @property
    def beats_baseline(self) -> bool:
        return self.backtest_error < self.baseline_error

    def predict(self, x: np.ndarray | float, params: np.ndarray | None = None) -> np.ndarray:
        p = np.asarray(self.params if params is None else params)
        with np.errstate(all="ignore"):
            return BY_NAME[self.family].curve(np.asarray(x, dtype=np.float64) / self.scale, p)

    def hat(self, x: np.ndarray) -> np.ndarray:
        """(len(x), sizes): how the fitted values at ``x`` move with the means at the
        measured sizes, linearised at the fit (J(x)·J⁺ with J the Jacobian in the
        parameters): a resample of the means becomes a resample of the fitted curve in one
        matrix product, not one least-squares fit per resample."""
        sizes = np.asarray(self.sizes)
        return _jacobian(self, x) @ np.linalg.pinv(_jacobian(self, sizes), rcond=1e-8)

    @property
    def backtest_text(self) -> str:
        if math.isnan(self.backtest_error):
            return f"{self.family}, not backtested (too few sizes)"
        verdict = "beats" if self.beats_baseline else "does not beat"
        return (
            f"{self.family}, backtest error {self.backtest_error:.3g} at the largest size "
            f"({verdict} the last point's {self.baseline_error:.3g})"
        )


def _jacobian(curve: FittedCurve, x: np.ndarray) -> np.ndarray:
    """d f(x) / d params by central differences, (len(x), params)."""
    p = np.asarray(curve.params, dtype=np.float64)
    columns = []
    for k in range(p.size):
        step = 1e-6 * max(1.0, abs(p[k]))
        up, down = p.copy(), p.copy()
        up[k] += step
        down[k] -= step
        columns.append((curve.predict(x, up) - curve.predict(x, down)) / (2 * step))
    jacobian = np.stack(columns, axis=1)
    return np.where(np.isfinite(jacobian), jacobian, 0.0)


def choose_curve(sizes: np.ndarray, means: np.ndarray) -> FittedCurve | None:
    """The family with the least backtest error, refitted on every size (see the module
    doc); None below 3 sizes or where no family fits at all."""
    order = np.argsort(sizes)
    x, y = np.asarray(sizes, float)[order], np.asarray(means, float)[order]
    if x.size < 3 or not np.all(np.isfinite(y)) or np.any(x <= 0):
        return None
    scale = float(x[-1])
    u = x / scale
    baseline = abs(float(y[-2] - y[-1]))
    errors: dict[str, float] = {}
    for family in FAMILIES:
        if x.size - 1 < family.n_params:
            continue
        held_out = fit(family, u[:-1], y[:-1], grid_fit(family, u[:-1], y[:-1])[0])
        if held_out is not None:
            with np.errstate(all="ignore"):
                error = abs(float(family.curve(u[-1:], held_out)[0] - y[-1]))
            if math.isfinite(error):
                errors[family.name] = error
    candidates = sorted(errors, key=errors.get) if errors else ["pow3"]  # type: ignore[arg-type]
    for name in candidates:
        family = BY_NAME[name]
        params = fit(family, u, y, grid_fit(family, u, y)[0], evaluations=FINAL_EVALUATIONS)
        if params is not None:
            return FittedCurve(
                name,
                tuple(float(v) for v in params),
                scale,
                tuple(float(v) for v in x),
                errors.get(name, math.nan),
                baseline,
            )
    return None


def _choose(item: tuple[np.ndarray, np.ndarray]) -> FittedCurve | None:
    return choose_curve(*item)


def choose_curves(items: list[tuple[np.ndarray, np.ndarray]]) -> list[FittedCurve | None]:
    """``choose_curve`` of each (sizes, means), spread over the usable cores (``parallel``):
    a large sweep has hundreds of curves, and each costs six least-squares fits."""
    return parallel_map(_choose, items)


def first_root(grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row of ``values`` (rows × grid), where it first changes sign along ``grid``
    (log-interpolated); NaN where it never does."""
    values = np.atleast_2d(values)
    left, right = values[:, :-1], values[:, 1:]
    changes = np.sign(left) * np.sign(right) < 0
    found = changes.any(axis=1)
    first = np.argmax(changes, axis=1)
    rows = np.arange(values.shape[0])
    g0, g1 = left[rows, first], right[rows, first]
    logs = np.log(grid)
    with np.errstate(all="ignore"):
        fraction = g0 / (g0 - g1)
        root = np.exp(logs[first] + fraction * (logs[first + 1] - logs[first]))
    return np.where(found, root, np.nan)


def size_grid(low: float, high: float, points: int = 200) -> np.ndarray:
    return np.exp(np.linspace(math.log(low), math.log(high), points))
