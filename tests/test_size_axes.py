"""A learning curve's axis is a declared data size; every other swept setting is a category.

Finding: ``make demo``'s report claimed a crossover at ``task_groups`` = 3 between the two
values 1 and 16, a categorical setting log-interpolated as if it were a size.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from tasklab.regimes import describe_sizes
from tasklab.report.compare import main
from tasklab.settings import setting, size_fields
from tests.compare_fixtures import write_ok


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _sweep(root: Path, axis: str, values: list[str], **fields) -> None:
    job = 0
    for v_index, value in enumerate(values):
        for arm, offset in (("multi_task", 0.05), ("single_task", 0.0)):
            for seed in range(4):
                shift = offset * (1 if v_index == 0 else -1)  # a sign change between values
                write_ok(
                    root / str(job),
                    "sizes",
                    arm,
                    seed,
                    [f"regime={arm}", f"{axis}={value}"],
                    arm_axes=["regime"],
                    metrics={"test/mean/auroc": 0.8 + shift + 0.001 * seed},
                    **fields,
                )
                job += 1


def test_the_runs_declarations_name_their_sizes():
    transfer = describe_sizes(OmegaConf.create({"regime": {"name": "transfer"}}))
    assert {"data.n_train", "data.n_train_by_task", "regime.n_source"} <= set(transfer)
    pipeline = describe_sizes(OmegaConf.create({"regime": {"name": "pipeline"}}))
    assert {"regime.n_stage1", "regime.n_stage2"} <= set(pipeline)
    assert not any("task_groups" in key or "lr" in key for key in transfer + pipeline)


def test_a_users_component_declares_its_sizes_the_same_way():
    @dataclass
    class PairsWorld:
        n_pairs: int = setting(500, size=True, doc="labelled pairs")
        noise: float = 0.1

    assert size_fields(PairsWorld, "data.pairs") == ["data.pairs.n_pairs"]


def test_a_categorical_numeric_setting_gets_no_curve_and_no_crossover(tmp_path):
    _sweep(tmp_path / "sweep", "data.vectors.task_groups", ["1", "16"])
    out = tmp_path / "out"
    assert main([str(tmp_path / "sweep"), "--out", str(out), "--wandb", "off"]) == 0
    assert _rows(out / "crossovers.csv") == []
    summary = _rows(out / "summary.csv")
    assert {r["data.vectors.task_groups"] for r in summary} == {"1", "16"}  # facets, as text
    assert "crosses" not in (out / "summary.md").read_text()


def test_a_declared_size_is_the_axis(tmp_path, capsys):
    _sweep(tmp_path / "sweep", "data.n_train", ["100", "1000"])
    out = tmp_path / "out"
    assert main([str(tmp_path / "sweep"), "--out", str(out), "--wandb", "off"]) == 0
    assert "size axis data.n_train" in capsys.readouterr().out
    rows = _rows(out / "summary.csv")
    assert {float(r["data.n_train"]) for r in rows} == {100.0, 1000.0}
    # two sizes: the pair gets a crossover row on that axis, and no location
    (row,) = _rows(out / "crossovers.csv")
    assert row["size_axis"] == "data.n_train" and row["crossover"] == ""


def test_records_without_declarations_take_no_size_unless_named(tmp_path, capsys):
    _sweep(tmp_path / "sweep", "data.n_train", ["100", "1000"], size_keys=[])
    # an older record: no size_keys at all
    for record in (tmp_path / "sweep").rglob("result.json"):
        text = record.read_text().replace('"size_keys": [],', "")
        record.write_text(text)
    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "a"), "--wandb", "off"]) == 0
    assert "size axis none" in capsys.readouterr().out
    assert "declare no data sizes" in (tmp_path / "a" / "summary.md").read_text()
    named = ["--x", "data.n_train", "--out", str(tmp_path / "b"), "--wandb", "off"]
    assert main([str(tmp_path / "sweep"), *named]) == 0
    assert "size axis data.n_train" in capsys.readouterr().out


def test_a_size_axis_with_a_non_positive_value_is_one_line(tmp_path, capsys):
    _sweep(tmp_path / "sweep", "data.n_train", ["0", "1000"])
    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out"), "--wandb", "off"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "data.n_train" in err and "'0'" in err and "positive number" in err


def test_a_non_finite_metric_is_left_out_with_one_line_naming_the_run(tmp_path, capsys):
    _sweep(tmp_path / "sweep", "data.n_train", ["100", "1000", "10000"])
    broken = tmp_path / "sweep" / "1" / "result.json"  # multi_task, seed 1, 100 examples
    record = json.loads(broken.read_text())
    record["metrics"]["test/mean/auroc"] = math.nan
    broken.write_text(json.dumps(record))
    out = tmp_path / "out"
    assert main([str(tmp_path / "sweep"), "--out", str(out), "--wandb", "off"]) == 0
    warned = [w for w in (out / "summary.md").read_text().splitlines() if "not a finite" in w]
    assert len(warned) == 1 and str(broken.parent) in warned[0]
    cells = {(r["arm"], float(r["data.n_train"])): r for r in _rows(out / "summary.csv")}
    assert cells[("multi_task", 100.0)]["n_seeds"] == "3"  # the other three seeds stay
    assert math.isfinite(float(cells[("multi_task", 100.0)]["mean"]))
    (pair,) = [r for r in _rows(out / "comparisons.csv") if float(r["data.n_train"]) == 100.0]
    assert pair["n_seeds"] == "3" and math.isfinite(float(pair["diff"]))


def test_one_size_gets_no_curve_and_says_why(tmp_path):
    _sweep(tmp_path / "sweep", "data.n_train", ["1000"], size_keys=["data.n_train"])
    # one size is no swept axis at all: no curve, no crossover, and nothing breaks
    out = tmp_path / "out"
    assert main([str(tmp_path / "sweep"), "--out", str(out), "--wandb", "off"]) == 0
    assert _rows(out / "curves.csv") == [] and _rows(out / "crossovers.csv") == []
