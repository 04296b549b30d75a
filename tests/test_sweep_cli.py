"""A real multirun through the CLI (run in this process): the file's sweep axes are overridden
on the command line, every job writes its record, and the sweep ends with the comparison
table."""

import csv
import json

import pytest

from tasklab.report.compare import main as compare_main
from tasklab.train import main as train_main


@pytest.mark.slow
def test_multirun_prints_the_comparison_table(tmp_path, run_cli):
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        train_main,
        *[
            "-m",
            "experiment=driving_mtl_vs_stl",
            "data.n_train=32",
            "data.label_rate=0.5",
            "seed=0,1",
            "trainer=smoke",
            "data.n_val=16",
            "data.n_test=32",
            "data.batch_size=16",
            "model.width=4",
            "logger=none",
            f"hydra.sweep.dir={sweep_dir}",
        ],
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in sorted(sweep_dir.rglob("result.json"))]
    assert len(records) == 4  # 2 regimes x 2 seeds: the file's n_train and label_rate replaced
    assert {(r["regime"], r["seed"]) for r in records} == {
        (regime, seed) for regime in ("single_task", "multi_task") for seed in (0, 1)
    }
    assert all(r["status"] == "ok" and r["name"] == "driving_mtl_vs_stl" for r in records)
    assert all(r["data"]["n_train"]["car"] == 32 for r in records)
    # one line per finished job: its numbers, its folder, and how far the sweep is
    progress = [line for line in proc.stdout.splitlines() if " done, " in line]
    assert len(progress) == 4 and all(line.startswith("tasklab-train: ok in ") for line in progress)
    assert all(" auroc " in line and f"→ {sweep_dir}/" in line for line in progress)
    assert progress[0].endswith(("1 done, 0 failed, 3 left", "left")) and "3 left" in progress[0]
    assert progress[-1].endswith("| 4 done, 0 failed, 0 left")
    assert "multi_task − single_task:" in proc.stdout
    assert "too few seeds (2 < 3)" in proc.stdout  # 2 seeds: no verdict
    assert f"tasklab-compare {sweep_dir}" in proc.stdout

    # The same sweep through tasklab-compare: Δm of the real records against a hand computation.
    assert compare_main([str(sweep_dir), "--metric", "test/*"]) == 0
    with (sweep_dir / "compare" / "delta_m.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["metric"] == "auroc"]
    (row,) = rows
    tasks = ("car", "pedestrian", "stop_sign", "traffic_light")
    assert row["tasks"] == " ".join(tasks) and row["n_seeds"] == "2"

    def mean_of(regime: str, task: str) -> float:
        values = [r["metrics"][f"test/{task}/auroc"] for r in records if r["regime"] == regime]
        return sum(values) / len(values)

    by_hand = (
        100
        / 4
        * sum(
            (mean_of("multi_task", t) - mean_of("single_task", t)) / mean_of("single_task", t)
            for t in tasks
        )
    )
    assert float(row["delta_m_pct"]) == pytest.approx(by_hand)
    assert row["verdict"] == "too few seeds (2 < 3)"
    assert (sweep_dir / "compare" / "report.html").stat().st_size > 10_000
