"""A real multirun through the CLI: the file's sweep axes are overridden on the command line,
every job writes its record, and the sweep ends with the comparison table."""

import json
import os
import subprocess
import sys


def test_multirun_prints_the_comparison_table(tmp_path):
    sweep_dir = tmp_path / "sweep"
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tasklab.train",
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
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in sorted(sweep_dir.rglob("result.json"))]
    assert len(records) == 4  # 2 regimes x 2 seeds: the file's n_train and label_rate replaced
    assert {(r["regime"], r["seed"]) for r in records} == {
        (regime, seed) for regime in ("single_task", "multi_task") for seed in (0, 1)
    }
    assert all(r["status"] == "ok" and r["name"] == "driving_mtl_vs_stl" for r in records)
    assert all(r["data"]["n_train"]["car"] == 32 for r in records)
    assert "multi_task − single_task:" in proc.stdout
    assert "too few seeds to conclude" in proc.stdout  # 2 seeds: no verdict
