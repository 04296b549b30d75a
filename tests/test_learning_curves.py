"""Fitted learning curves on records generated from known curves: the crossing, the
extrapolation and the data units come out where the truth is, with intervals that hold it;
two sizes give no crossover location."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

from tasklab.report.compare import main
from tasklab.report.stats.curve_fits import BY_NAME, choose_curve, fit
from tests.compare_fixtures import write_ok

SIZES = (100, 316, 1000, 3162, 10000)


def shared(n):  # a shared network: higher floor, slower start
    return 0.95 - 3.0 * np.asarray(n, float) ** -0.4


def separate(n):  # one network per task: quick start, lower ceiling
    return 0.85 - 1.5 * np.asarray(n, float) ** -0.5


def pretrained(n):  # worth 4x its target examples of scratch: scratch's curve at 4n
    return separate(4 * np.asarray(n, float))


TRUE_CROSSING = optimize.brentq(lambda n: shared(n) - separate(n), 100, 10000)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _sweep(root: Path, arms: dict, sizes=SIZES, seeds: int = 5, noise: float = 0.006) -> Path:
    rng = np.random.default_rng(11)
    job = 0
    for arm, curve in arms.items():
        # records as the runner writes them: transfer arms are of the transfer regime, whose
        # declared reference is scratch
        transfer = arm == "scratch" or "n_source=" in arm
        regime = "transfer" if transfer else arm
        for seed in range(seeds):
            seed_shift = rng.normal(0, noise)  # a seed's quality, the same at every size
            for size in sizes:
                value = float(curve(size)) + seed_shift + rng.normal(0, noise)
                write_ok(
                    root / str(job),
                    "known",
                    arm,
                    seed,
                    [f"regime={regime}", f"data.n_train={size}"],
                    regime=regime,
                    arm_axes=["regime"],
                    metrics={"test/mean/auroc": value},
                )
                job += 1
    return root


def test_every_family_recovers_its_own_curve():
    x = np.asarray(SIZES, float)
    for name, params in {
        "pow3": (0.9, -0.3, 0.5),
        "exp3": (0.9, -0.4, 3.0),
        "mmf4": (0.9, 0.4, 1.2, 0.2),
        "wbl4": (0.9, -0.4, 0.8, 0.3),
    }.items():
        family = BY_NAME[name]
        y = family.curve(x / x[-1], np.asarray(params))
        own = fit(family, x / x[-1], y, evaluations=150)
        assert np.allclose(family.curve(x / x[-1], own), y, atol=1e-4), name
        chosen = choose_curve(x, y)  # by backtest: another family may extrapolate as well
        assert chosen is not None and np.allclose(chosen.predict(x), y, atol=2e-3), name


def test_a_known_crossing_and_a_known_extrapolation_are_covered(tmp_path):
    root = _sweep(tmp_path / "sweep", {"multi_task": shared, "single_task": separate})
    out = tmp_path / "out"
    assert main([str(root), "--out", str(out), "--wandb", "off"]) == 0
    (row,) = _rows(out / "crossovers.csv")
    assert row["shown"] == "True"
    assert float(row["ci_low"]) <= TRUE_CROSSING <= float(row["ci_high"])
    assert float(row["crossover"]) == pytest.approx(TRUE_CROSSING, rel=0.35)
    assert "single_task better below, multi_task better above" in row["summary"]
    # the answer names the crossing and the fits behind it, with their backtest errors
    answer = (out / "summary.md").read_text().split("## How to read")[0]
    crossing = next(line for line in answer.splitlines() if "crosses at" in line)
    assert crossing.count("backtest error") == 2
    curves = {r["arm"]: r for r in _rows(out / "curves.csv")}
    for arm, truth in (("multi_task", shared), ("single_task", separate)):
        curve = curves[arm]
        assert float(curve["backtest_error"]) < float(curve["last_point_error"])
        assert float(curve["extrapolated_to"]) == 4 * SIZES[-1]
        true_value = float(truth(4 * SIZES[-1]))
        assert float(curve["ci_low"]) <= true_value <= float(curve["ci_high"])
        assert curve["non_monotone"] == ""


def test_two_sizes_report_no_crossover_location(tmp_path):
    arms = {"multi_task": shared, "single_task": separate}
    root = _sweep(tmp_path / "sweep", arms, sizes=(100, 10000))
    out = tmp_path / "out"
    assert main([str(root), "--out", str(out), "--wandb", "off"]) == 0
    (row,) = _rows(out / "crossovers.csv")
    assert row["shown"] == "False" and row["crossover"] == ""
    assert row["summary"].startswith("no crossover shown: 2 sizes")
    assert "crosses at" not in (out / "summary.md").read_text()


def test_pretraining_worth_a_known_number_of_examples(tmp_path):
    """Pre-trained at n equals scratch at 4n: D_E = 4n, D_T = 3n, inside the measured range."""
    arms = {"scratch": separate, "related/full n_source=100000": pretrained}
    root = _sweep(tmp_path / "sweep", arms, noise=0.002)
    out = tmp_path / "out"
    assert main([str(root), "--out", str(out), "--wandb", "off"]) == 0
    rows = {float(r["size"]): r for r in _rows(out / "data_units.csv")}
    answer = (out / "summary.md").read_text().split("## How to read")[0]
    assert "In examples of scratch on test/mean/auroc (its curve: " in answer
    assert rows[1000.0]["summary"] in answer
    assert set(rows) == set(map(float, SIZES))
    for size in (316.0, 1000.0):  # 4n inside the measured range: interpolated
        row = rows[size]
        assert row["note"] == "interpolated"
        assert float(row["equivalent_size"]) == pytest.approx(4 * size, rel=0.3)
        assert float(row["equivalent_low"]) <= 4 * size <= float(row["equivalent_high"])
        assert float(row["transferred"]) > 0
    assert math.isinf(float(rows[10000.0]["equivalent_size"])) or rows[10000.0]["note"].startswith(
        "extrapolated"
    )


def test_a_curve_that_falls_back_is_flagged_and_not_extrapolated(tmp_path):
    def dips(n):
        n = np.asarray(n, float)
        return separate(n) - 0.08 * (n == 3162)

    root = _sweep(tmp_path / "sweep", {"single_task": dips, "multi_task": shared}, noise=0.002)
    out = tmp_path / "out"
    assert main([str(root), "--out", str(out), "--wandb", "off"]) == 0
    curves = {r["arm"]: r for r in _rows(out / "curves.csv")}
    assert "1,000 → 3,162" in curves["single_task"]["non_monotone"]
    assert curves["single_task"]["extrapolated_to"] == ""
    assert "not monotone" in curves["single_task"]["summary"]


def test_no_curves_skips_the_fits_and_changes_no_comparison(tmp_path):
    root = _sweep(tmp_path / "sweep", {"multi_task": shared, "single_task": separate})
    full, plain = tmp_path / "full", tmp_path / "plain"
    assert main([str(root), "--out", str(full), "--wandb", "off"]) == 0
    assert main([str(root), "--out", str(plain), "--wandb", "off", "--no-curves"]) == 0
    assert len(_rows(full / "curves.csv")) == 2 and _rows(plain / "curves.csv") == []
    assert _rows(plain / "crossovers.csv") == []
    assert _rows(plain / "comparisons.csv") == _rows(full / "comparisons.csv")


def test_a_fit_that_would_leave_the_metrics_range_is_not_extrapolated(tmp_path):
    def straight(n):  # AUROC rising linearly in log size: past 10,000 it would pass 1
        return 0.5 + 0.11 * np.log10(np.asarray(n, float))

    root = _sweep(tmp_path / "sweep", {"single_task": straight, "multi_task": shared}, noise=0.002)
    out = tmp_path / "out"
    assert main([str(root), "--out", str(out), "--wandb", "off"]) == 0
    curve = {r["arm"]: r for r in _rows(out / "curves.csv")}["single_task"]
    assert "leaves the metric's range" in curve["summary"]
    assert curve["extrapolated_to"] == "" and curve["extrapolated"] == "nan"


def test_better_above_is_the_side_just_above_the_crossing_even_where_it_turns_back():
    """A fitted difference that crosses and comes back before the largest size: "better
    above" names the arm ahead right after the crossing, and the turn back is said."""
    from tasklab.report.crossovers import CrossoverRow, _located

    class Draws:  # each arm's fitted curve on the grid, and draws that barely move it
        def on_grid(self, metric, facet, arm, sizes, seeds, points):
            grid = np.geomspace(100, 100000, points)
            logs = np.log10(grid)
            curve = 0.8 + (0.04 - 0.06 * (logs - 3.5) ** 2 / 2.25 if arm == "a" else 0.0)
            drawn = curve + np.linspace(-1e-4, 1e-4, 50)[:, None]
            return grid, curve, drawn

    head = CrossoverRow(
        "known", "test/mean/auroc", (), "a", "b", (100.0, 1000.0, 10000.0, 100000.0),
        (0, 1, 2), shown=False, size=None, low=None, high=None, share_crossing=0.0,
        better_first=None, better_last=None, why="",
    )  # fmt: skip
    row = _located(head, Draws(), ["b", "a", "b"], 1.0)
    assert row.shown
    assert row.better_first == "b" and row.better_last == "a"
    assert row.size == pytest.approx(10 ** (3.5 - 1.5 * math.sqrt(2 / 3)), rel=0.02)
    assert row.turns_back == pytest.approx(10 ** (3.5 + 1.5 * math.sqrt(2 / 3)), rel=0.02)
    assert "b better below, a better above (the fitted difference changes sign again" in (
        row.summary
    )


def test_better_throughout_only_where_every_size_has_a_verdict():
    from tasklab.report.crossovers import CrossoverRow

    row = CrossoverRow(
        "known", "test/mean/auroc", (), "a", "b", (100.0, 1000.0, 10000.0), (0, 1, 2),
        shown=False, size=None, low=None, high=None, share_crossing=0.2, better_first="a",
        better_last="a", why="no verdict each way", verdict_sizes=2,
    )  # fmt: skip
    assert row.summary.endswith("; a better at the 2 of 3 sizes with a verdict")
    every = dataclasses.replace(row, verdict_sizes=3)
    assert every.summary.endswith("; a better throughout")


def test_lack_of_fit_rejects_a_family_that_misses_the_measured_means():
    from tasklab.report.curves import lack_of_fit
    from tasklab.report.stats.curve_fits import FittedCurve

    sizes = (100.0, 316.0, 1000.0, 3162.0, 10000.0)
    truth = FittedCurve("pow3", (0.9, -0.1, 0.5), 10000.0, sizes, 0.01, 0.02)
    rng = np.random.default_rng(5)
    drawn = truth.predict(np.asarray(sizes)) + rng.normal(0, 0.002, (400, len(sizes)))
    on_the_curve = truth.predict(np.asarray(sizes))
    assert lack_of_fit(truth, on_the_curve, drawn) > 0.5
    step = on_the_curve + np.asarray([0.0, 0.0, 0.02, 0.0, 0.0])  # a bump no pow3 follows
    assert lack_of_fit(truth, step, drawn) < 1e-6
    exact = FittedCurve("pow4", (0.9, -0.1, 0.5, 0.1), 10000.0, sizes[:4], 0.01, 0.02)
    assert math.isnan(lack_of_fit(exact, on_the_curve[:4], drawn[:, :4]))  # no freedom left


def test_a_crossing_shown_by_the_fits_alone_needs_fits_that_follow_the_data():
    from tasklab.report.crossovers import CrossoverRow, _located
    from tasklab.report.stats.curve_fits import FittedCurve

    sizes = (100.0, 316.0, 1000.0, 3162.0, 10000.0)
    fit = FittedCurve("pow3", (0.9, -0.1, 0.5), 10000.0, sizes, 0.01, 0.02)
    rng = np.random.default_rng(5)
    drawn = fit.predict(np.asarray(sizes)) + rng.normal(0, 0.002, (400, len(sizes)))

    class Draws:
        def __init__(self, bump: float) -> None:
            self.means = fit.predict(np.asarray(sizes)) + np.asarray([0, 0, bump, 0, 0])

        def on_grid(self, metric, facet, arm, sizes, seeds, points):
            grid = np.geomspace(100, 10000, points)
            curve = 0.8 + (0.02 * (np.log10(grid) - 3) if arm == "a" else 0.0)
            return grid, curve, curve + np.linspace(-1e-4, 1e-4, 50)[:, None]

        def fitted(self, metric, facet, arm, sizes, seeds):
            return fit, self.means, drawn

    head = CrossoverRow(
        "known", "test/mean/auroc", (), "a", "b", sizes, (0, 1, 2), shown=False, size=None,
        low=None, high=None, share_crossing=0.0, better_first=None, better_last=None, why="",
    )  # fmt: skip
    following = _located(head, Draws(0.0), [], 1.0)
    assert following.shown and following.size == pytest.approx(1000, rel=0.02)
    missing = _located(head, Draws(0.02), [], 1.0)
    assert not missing.shown and missing.size is None
    assert "a's pow3 misses its measured means (lack of fit p = " in missing.summary


def test_a_size_the_reference_does_not_reach_is_a_bound_not_infinity():
    """Beyond the reference curve's reach the report says "more than", never ∞: a curve
    fitted on a few sizes says nothing about sizes it was never read at."""
    from tasklab.report.data_units import DataUnitRow

    row = DataUnitRow(
        "e",
        "test/mean/auroc",
        (),
        "pretrained",
        "scratch",
        10_000.0,
        0.97,
        math.inf,
        9_000.0,
        math.inf,
        "scratch does not reach it by 10,000",
        "pow3",
        10_000.0,
    )
    text = row.summary
    assert "scratch at > 10,000 [9,000, > 10,000]" in text and "D_T > 0" in text
    assert "∞" not in text
    # a reach a hair below the size (a float sum of the sizes) is still "> 0", never "> -0"
    hair = dataclasses.replace(row, reach=10_000.0 - 1e-9, size=10_000.0)
    assert "D_T > 0" in hair.summary and "-0" not in hair.summary
