"""tasklab-compare on a fixture sweep with known numbers: every table against a hand
computation, every broken record listed, and the one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from tasklab.report.compare import main
from tests.compare_fixtures import (
    MTL_VALUES,
    SEEDS,
    TRANSFER_VALUES,
    mtl_sweep,
    transfer_sweep,
    write_ok,
)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _mean_auroc(size: int, arm: str) -> list[float]:
    tasks = MTL_VALUES[size][arm]
    return [(tasks["a"][i] + tasks["b"][i]) / 2 for i in range(len(SEEDS))]


@pytest.fixture(scope="module")
def mtl_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    root = mtl_sweep(tmp_path_factory.mktemp("mtl"))
    out = root / "compare"
    return out, main([str(root), "--out", str(out), "--wandb", "off"])


def test_cells_have_mean_sd_seeds_and_students_t_without_predictions(mtl_report):
    out, code = mtl_report
    assert code == 0
    rows = _rows(out / "summary.csv")
    assert len(rows) == 6  # 2 arms x 3 sizes, metric test/mean/auroc
    for row in rows:
        values = _mean_auroc(int(float(row["data.n_train"])), row["arm"])
        assert float(row["mean"]) == pytest.approx(np.mean(values))
        assert float(row["std"]) == pytest.approx(np.std(values, ddof=1))
        assert row["n_seeds"] == "4" and row["seeds"] == "0 1 2 3"
        half = stats.t.ppf(0.975, 3) * np.std(values, ddof=1) / 2
        low, high = np.mean(values) - half, np.mean(values) + half
        assert (float(row["ci_low"]), float(row["ci_high"])) == pytest.approx((low, high))
        assert row["ci_over"] == "seeds only"  # these records kept no predictions


def test_paired_differences_match_a_hand_computation(mtl_report):
    out, _ = mtl_report
    rows = {
        int(float(r["data.n_train"])): r
        for r in _rows(out / "comparisons.csv")
        if r["metric"] == "test/mean/auroc"
    }
    assert set(rows) == {100, 1000, 10000}
    for size, row in rows.items():
        assert (row["arm_a"], row["arm_b"]) == ("multi_task", "single_task")
        diffs = np.subtract(_mean_auroc(size, "multi_task"), _mean_auroc(size, "single_task"))
        half = stats.t.ppf(0.975, 3) * diffs.std(ddof=1) / 2
        assert float(row["diff"]) == pytest.approx(diffs.mean())
        assert float(row["ci95_low"]) == pytest.approx(diffs.mean() - half)
        assert float(row["ci95_high"]) == pytest.approx(diffs.mean() + half)
        # the printed interval is the family's: Holm's level for this comparison, by hand
        level = float(row["ci_level"])
        wide = stats.t.ppf(0.5 + level / 2, 3) * diffs.std(ddof=1) / 2
        assert (float(row["ci_low"]), float(row["ci_high"])) == pytest.approx(
            (diffs.mean() - wide, diffs.mean() + wide)
        )
        shown = row["verdict"].endswith("better")
        assert shown == (float(row["ci_low"]) > 0 or float(row["ci_high"]) < 0)
        assert shown == (float(row["p_holm"]) < 0.05)
    assert rows[100]["verdict"] == "multi_task better" and float(rows[100]["p_a_better"]) > 0.99
    assert rows[10000]["verdict"] == "single_task better"
    assert float(rows[10000]["p_a_better"]) < 0.01


def test_delta_m_is_the_mean_relative_gain_over_tasks(mtl_report):
    out, _ = mtl_report
    rows = {int(float(r["data.n_train"])): r for r in _rows(out / "delta_m.csv")}
    for size, row in rows.items():
        mtl, stl = MTL_VALUES[size]["multi_task"], MTL_VALUES[size]["single_task"]
        by_hand = 100 / 2 * sum((np.mean(mtl[t]) - np.mean(stl[t])) / np.mean(stl[t]) for t in "ab")
        assert float(row["delta_m_pct"]) == pytest.approx(by_hand)
        assert row["tasks"] == "a b" and row["reference"] == "single_task"
        assert float(row["ci_low"]) < float(row["delta_m_pct"]) < float(row["ci_high"])
    assert float(rows[100]["delta_m_pct"]) > 0 > float(rows[10000]["delta_m_pct"])


def test_crossover_is_located_on_the_fitted_curves_where_verdicts_go_each_way(mtl_report):
    out, _ = mtl_report
    (row,) = _rows(out / "crossovers.csv")
    assert row["shown"] == "True"  # multi_task better at 100, single_task at 10,000
    # between the sizes where the order of the measured means flips, with its interval
    assert 1000 < float(row["crossover"]) < 10000
    assert float(row["ci_low"]) <= float(row["crossover"]) <= float(row["ci_high"])
    assert float(row["share_crossing"]) > 0.9
    assert "multi_task better below, single_task better above" in row["summary"]
    assert "a verdict each way" in row["summary"]
    curves = {r["arm"]: r for r in _rows(out / "curves.csv")}
    assert set(curves) == {"multi_task", "single_task"}
    assert all(r["family"] == "pow3" for r in curves.values())  # 3 sizes: not backtested
    assert all("not backtested" in r["summary"] for r in curves.values())


def test_broken_failed_partial_and_unfinished_records_are_listed_not_fatal(mtl_report):
    out, _ = mtl_report
    markdown = (out / "summary.md").read_text()
    assert "broken/result.json`: unreadable" in markdown
    assert "failed/result.json`: failed: ConfigError: data.label_rate=7.0" in markdown
    assert "partial/result.json`: partial: missing regime, seed" in markdown
    assert "killed`: no result.json: the run did not finish" in markdown
    assert "| multi_task | single_task | 100 | 4 |" in markdown


def test_plots_are_pngs_of_every_metric(mtl_report):
    out, _ = mtl_report
    pngs = sorted(p.name for p in out.glob("*.png"))
    # the learning curves, and the paired difference that the verdicts are about
    assert pngs == ["mtl_curve__test_mean_auroc.png", "mtl_curve__test_mean_auroc__difference.png"]
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_transfer_gain_and_negative_transfer_gap(tmp_path):
    root = transfer_sweep(tmp_path / "sweep")
    assert main([str(root), "--out", str(tmp_path / "out"), "--wandb", "off"]) == 0
    rows = {
        (r["arm"], int(float(r["data.n_train"]))): r for r in _rows(tmp_path / "out/transfer.csv")
    }
    assert len(rows) == 4
    for (arm, size), row in rows.items():
        gain = np.mean(TRANSFER_VALUES[size][arm]) - np.mean(TRANSFER_VALUES[size]["scratch"])
        assert float(row["gain"]) == pytest.approx(gain)
        assert float(row["negative_transfer_gap"]) == pytest.approx(-gain)
        assert float(row["gain_pct"]) == pytest.approx(
            100 * gain / np.mean(TRANSFER_VALUES[size]["scratch"])
        )
    assert rows[("related/full n_source=10000", 100)]["verdict"] == "positive transfer"
    assert rows[("control/full n_source=10000", 100)]["verdict"] == "negative transfer"


def test_fewer_than_three_seeds_is_a_warning(tmp_path):
    root = transfer_sweep(tmp_path / "sweep")
    for job in root.iterdir():
        if (
            '"seed": 3' in (job / "result.json").read_text()
            or '"seed": 2' in (job / "result.json").read_text()
        ):
            (job / "result.json").unlink()
            job.rmdir()
    assert main([str(root), "--out", str(tmp_path / "out"), "--wandb", "off"]) == 0
    markdown = (tmp_path / "out/summary.md").read_text()
    assert "fewer than 3 seeds, no interval to trust: data.n_train=100 scratch: 2 seed(s)" in (
        markdown
    )
    assert "too few seeds (2 < 3)" in (tmp_path / "out/comparisons.csv").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}"], "no such file or folder"),
        (["{empty}"], "no result.json under"),
        (["{sweep}", "--metric", "val/*/mae"], "matches no metric in the records; choose from"),
        (["{sweep}", "--resamples", "500"], "--resamples=500 is too few"),
        (["{sweep}", "--x", "model.width"], "--x model.width is not a swept axis"),
        (["{sweep}", "--out", "{file}"], "cannot write to --out"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path, capsys, args, message):
    sweep = transfer_sweep(tmp_path / "sweep")
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("not a folder")
    paths = {
        "missing": tmp_path / "nope",
        "empty": tmp_path / "empty",
        "sweep": sweep,
        "file": tmp_path / "file" / "out",
    }
    argv = [a.format(**paths) for a in args] + ["--wandb", "off"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("tasklab-compare: error:")


def test_a_sweep_of_failures_still_gets_its_report(tmp_path, capsys):
    from tasklab.results import RunResult, write_result

    write_result(tmp_path / "0", RunResult(status="failed", name="x", regime="r", seed=0))
    assert main([str(tmp_path), "--wandb", "off"]) == 1
    assert "skipped" in capsys.readouterr().out
    assert "Skipped records" in (tmp_path / "compare" / "report.html").read_text()


@pytest.mark.slow
def test_wandb_gets_the_same_tables_and_plots_offline(tmp_path):
    root = mtl_sweep(tmp_path / "sweep", logger_wandb=True)  # the runs logged to W&B
    out = tmp_path / "out"
    assert main([str(root), "--out", str(out)]) == 0  # --wandb auto follows the runs
    (run,) = (out / "wandb").glob("offline-run-*")
    media = run / "files" / "media"
    tables = {p.name.split("_")[0] for p in (media / "table" / "compare").glob("*.table.json")}
    assert {"summary", "comparisons", "crossovers"} <= tables
    (summary,) = (media / "table" / "compare").glob("summary_*.table.json")
    logged = json.loads(summary.read_text())
    mean = logged["columns"].index("mean")
    assert sorted(row[mean] for row in logged["data"]) == pytest.approx(
        sorted(float(r["mean"]) for r in _rows(out / "summary.csv"))
    )
    assert {row[logged["columns"].index("data.n_train")] for row in logged["data"]} == {
        "100",
        "1000",
        "10000",
    }
    plots = list((media / "images" / "compare" / "plots").glob("*.png"))
    assert len(plots) == 2 and all(plot.read_bytes()[:4] == b"\x89PNG" for plot in plots)


def test_wandb_stays_off_when_the_runs_did_not_log_to_it(mtl_report):
    out, _ = mtl_report
    assert not (out / "wandb").exists()


def test_lower_is_better_metrics_turn_the_verdict_and_the_probability(tmp_path):
    errors = {"staged": [1.0, 1.2, 1.1, 0.9], "end_to_end": [2.0, 2.1, 2.3, 1.9]}
    job = 0
    for arm, values in errors.items():
        for seed, value in enumerate(values):
            folder = tmp_path / "sweep" / str(job)
            write_ok(
                folder,
                "pipelines",
                arm,
                seed,
                [f"regime.arm={arm}"],
                regime="pipeline",
                arm_axes=["regime.arm"],
                metrics={"test/mean/mae": value},
            )
            job += 1
    assert main([str(tmp_path / "sweep"), "--wandb", "off"]) == 0
    (row,) = _rows(tmp_path / "sweep" / "compare" / "comparisons.csv")
    assert (row["arm_a"], row["arm_b"]) == ("staged", "end_to_end")  # end_to_end: the reference
    assert float(row["diff"]) == pytest.approx(-1.025)
    assert row["verdict"] == "staged better" and float(row["p_a_better"]) > 0.99
    (cell,) = [r for r in _rows(tmp_path / "sweep/compare/summary.csv") if r["arm"] == "staged"]
    assert cell["lower_is_better"] == "True"


def test_small_differences_keep_their_digits():
    from tasklab.report.formatting import signed

    assert signed(0.149) == "+0.149"
    assert signed(-0.000372) == "−0.000372"  # a stage error of thousandths is not "+0.000"
    assert signed(0.0) == "+0.000"


def test_the_report_leads_with_one_sentence_per_verdict(mtl_report):
    out, _ = mtl_report
    rows = {
        int(float(r["data.n_train"])): r
        for r in _rows(out / "comparisons.csv")
        if r["metric"] == "test/mean/auroc"
    }
    markdown = (out / "summary.md").read_text()
    answer = markdown[markdown.index("## The answer") : markdown.index("## How to read")]
    row = rows[100]
    expected = (
        "- multi_task better than single_task on test/mean/auroc at data.n_train=100: "
        f"multi_task − single_task = {float(row['diff']):+.3f} "
        f"[{float(row['ci_low']):+.3f}, {float(row['ci_high']):+.3f}]"
    )
    assert expected in answer
    assert "single_task better than multi_task on test/mean/auroc at data.n_train=10000" in answer
    shown = [r for r in _rows(out / "comparisons.csv") if r["verdict"].endswith("better")]
    assert answer.count(" better than ") == len(shown)  # every verdict, nothing else


def test_without_a_verdict_the_answer_says_so(tmp_path):
    from .compare_fixtures import write_ok

    for seed in (0, 1):
        for arm, value in (("multi_task", 0.8), ("single_task", 0.7)):
            write_ok(
                tmp_path / f"{arm}{seed}",
                "two_seeds",
                arm,
                seed,
                [f"regime={arm}"],
                arm_axes=["regime"],
                metrics={"test/car/auroc": value + seed / 100, "test/mean/auroc": value},
            )
    out = tmp_path / "compare"
    assert main([str(tmp_path), "--out", str(out), "--wandb", "off"]) == 0
    answer = (out / "summary.md").read_text().split("## How to read")[0]
    assert "No difference shown: none of the" in answer
    assert "with fewer than 3 matched seeds" in answer


@pytest.mark.slow
def test_training_curves_come_from_the_runs_csv_logs(make_cfg, tmp_path):
    from tasklab.report.training_curves import run_loss_curve
    from tasklab.runner import train

    from .conftest import TINY

    base = [*TINY, "logger.wandb=false", "trainer.max_steps=4", "data.tasks=[car,stop_sign]"]
    for regime in ("multi_task", "single_task"):
        train(make_cfg(*base, f"regime={regime}"), output_dir=tmp_path / "sweep" / regime)
    single = run_loss_curve(tmp_path / "sweep" / "single_task")
    # logged every step by the smoke trainer, each under the number of steps taken by then
    assert [step for step, _ in single] == [1, 2, 3, 4]

    def first_loss(task: str) -> float:
        csv_file = next((tmp_path / "sweep" / "single_task" / "csv").glob(f"*-{task}-*/*.csv"))
        header, first, *_ = [line.split(",") for line in csv_file.read_text().splitlines()]
        return float(first[header.index(f"train/{task}/loss")])

    # a single-task run's curve is the mean over its task fits, step by step
    assert single[0][1] == pytest.approx((first_loss("car") + first_loss("stop_sign")) / 2)
    out = tmp_path / "out"
    assert main([str(tmp_path / "sweep"), "--out", str(out), "--wandb", "off"]) == 0
    assert (out / "default__training_loss.png").read_bytes()[:4] == b"\x89PNG"
    assert "one line per seed" in (out / "report.html").read_text()


def test_a_plot_is_one_function_and_one_entry_in_figures(tmp_path, monkeypatch):
    """Every renderer draws from ``FIGURES``: one new entry reaches the PNG folder, the
    Markdown summary and the HTML report."""
    from tasklab.report import figures
    from tasklab.report.plots import Plot, finish_figure, panel_figure

    def seed_count_plot(analysis):
        figure, axes = panel_figure(1, 1, legend=False)
        axes[0].bar(range(len(analysis.cells)), [c.n for c in analysis.cells])
        png = finish_figure(figure, axes, 1, "seeds per cell")
        return [Plot("seed_counts.png", "seeds per cell and arm", png)]

    monkeypatch.setattr(figures, "FIGURES", [*figures.FIGURES, seed_count_plot])
    root = mtl_sweep(tmp_path / "sweep")
    assert main([str(root), "--wandb", "off", "--no-curves"]) == 0
    out = root / "compare"
    assert (out / "seed_counts.png").read_bytes()[:4] == b"\x89PNG"
    assert "![seeds per cell and arm](seed_counts.png)" in (out / "summary.md").read_text()
    assert "seeds per cell and arm" in (out / "report.html").read_text()
