import json

from tasklab.report.formatting import p_text
from tasklab.report.records import find_axes
from tasklab.report.summary import main
from tasklab.results import RunResult, write_result


def _write(root, job, regime, seed, value, n_train=100):
    overrides = [f"regime={regime}", f"data.n_train={n_train}", f"seed={seed}", "logger=none"]
    result = RunResult(
        status="ok",
        name="x",
        regime=regime,
        seed=seed,
        overrides=overrides,
        metrics={"test/mean/auroc": value},
        reference_arm="single_task",  # as the multi- and single-task regimes declare
        reference_effect="delta_m",
    )
    write_result(root / str(job), result)


def _write_transfer(root, job, arm, axes, overrides, seed, value):
    """A transfer record: its arm and arm-defining keys as ``train`` records them."""
    result = RunResult(
        status="ok",
        name="t",
        regime="transfer",
        seed=seed,
        arm=arm,
        arm_axes=axes,
        arm_keys=[] if arm == "scratch" else axes,  # transfer.arm_keys: scratch has none
        size_keys=["data.n_train", "regime.n_source"],
        reference_arm="scratch",  # as the transfer regime declares
        reference_effect="gain",
        overrides=[*overrides, f"seed={seed}"],
        metrics={"test/mean/auroc": value},
    )
    write_result(root / str(job), result)


def test_summary_table_pairs_seeds_and_names_failures(tmp_path, capsys):
    job = 0
    for seed, (stl, mtl) in enumerate([(0.70, 0.75), (0.80, 0.84), (0.60, 0.66)]):
        for regime, value in (("single_task", stl), ("multi_task", mtl)):
            _write(tmp_path, job, regime, seed, value)
            job += 1
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "result.json").write_text("{not json")
    failed = RunResult(status="failed", name="x", regime="multi_task", seed=9, error="boom")
    write_result(tmp_path / "failed", failed)

    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "fixed: data.n_train=100 logger=none" in out
    assert "multi_task     0.750 [" in out and "seeds=3" in out
    line = next(x for x in out.splitlines() if "multi_task − single_task" in x)
    # the records keep no predictions: an interval over seeds only, labelled as such
    assert line.startswith("  multi_task − single_task: +0.050 [")
    assert "over seeds only" in line and "3/3 seeds better for multi_task" in line
    assert line.endswith("→ multi_task better")
    assert "resample seeds only (test-set noise not included" in out
    assert "broken/result.json: unreadable" in out and "failed: boom" in out


def test_summary_says_when_seeds_are_too_few(tmp_path, capsys):
    _write(tmp_path, 0, "single_task", 0, 0.7)
    _write(tmp_path, 1, "multi_task", 0, 0.9)
    main([str(tmp_path)])
    assert "too few seeds (1 < 3)" in capsys.readouterr().out


def test_records_are_written_atomically(tmp_path):
    write_result(tmp_path, RunResult(status="ok", name="x", regime="r", seed=0))
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "ok"


def test_missing_directory_is_a_one_line_error(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_transfer_arms_are_compared_with_scratch_within_each_target_size(tmp_path, capsys):
    axes = ["regime.n_source", "regime.source", "regime.mode"]
    job = 0
    # scratch, then related at two source sizes; values chosen so the diffs are exact
    table = {0: [0.60, 0.70, 0.65], 1000: [0.62, 0.71, 0.69], 100000: [0.80, 0.90, 0.85]}
    for n_target in (100, 1000):
        for n_source, values in table.items():
            for mode in ("full", "linear_probe") if n_source == 0 else ("full",):
                for seed, value in enumerate(values):
                    arm = "scratch" if n_source == 0 else f"related/full n_source={n_source}"
                    overrides = [
                        f"regime.n_source={n_source}",
                        f"data.n_train={n_target}",
                        f"regime.mode={mode}",
                        "regime.source=related",
                    ]
                    value_here = value + (n_target == 1000) * 0.1
                    _write_transfer(tmp_path, job, arm, axes, overrides, seed, value_here)
                    job += 1
    main([str(tmp_path)])
    out = capsys.readouterr().out
    assert "cell: data.n_train=100\n" in out and "cell: data.n_train=1000\n" in out
    assert "regime.mode" not in out.split("cell:")[0]  # an arm key, neither axis nor fixed
    lines = out.splitlines()
    first_cell = lines.index("cell: data.n_train=100")
    arms = [line.split()[0] for line in lines[first_cell + 1 : first_cell + 4]]
    assert arms == ["related/full", "related/full", "scratch"]
    assert "n_source=1000 " in lines[first_cell + 1] and "n_source=100000" in lines[first_cell + 2]
    assert "related/full n_source=100000 − scratch: +0.200 [+0.200, +0.200]" in out
    assert "related/full n_source=1000 − scratch: +0.023 [" in out
    assert out.count("− scratch") == 4  # two arms against scratch in each of two cells
    # more source data: each size against the next smaller one, same seeds
    step = "related/full n_source=100000 − related/full n_source=1000: +0.177 ["
    assert out.count(step) == 2


def test_cells_follow_resolved_values_not_how_the_command_spelt_them(tmp_path, capsys):
    job = 0
    for decoy_rate, spelt in ((0.5, True), (0.5, False), (0.0, True)):
        for seed in range(3):
            overrides = [f"seed={seed}", "regime=multi_task", "logger=none"]
            if spelt:
                overrides.append(f"data.driving.decoy_rate={decoy_rate}")
            result = RunResult(
                status="ok",
                name="x",
                regime="multi_task",
                seed=seed,
                overrides=overrides,
                metrics={"test/mean/auroc": 0.6 + decoy_rate * seed / 10},
                config={"data": {"driving": {"decoy_rate": decoy_rate}}, "logger": {"csv": 0}},
            )
            write_result(tmp_path / str(job), result)
            job += 1
    main([str(tmp_path)])
    out = capsys.readouterr().out
    assert "cell: data.driving.decoy_rate=0.5\n  multi_task     0.650 [" in out
    assert "cell: data.driving.decoy_rate=0.0\n" in out
    assert out.count("cell:") == 2
    assert "fixed: logger=none\n" in out  # a config group is named as chosen, not dumped


def test_cells_are_ordered_by_number_not_by_text(tmp_path, capsys):
    job = 0
    for n_train in (1000, 200):
        for seed in range(3):
            _write(tmp_path, job, "multi_task", seed, 0.7 + 0.01 * seed, n_train=n_train)
            job += 1
    main([str(tmp_path)])
    out = capsys.readouterr().out
    assert out.index("cell: data.n_train=200") < out.index("cell: data.n_train=1000")


def test_replicas_that_disagree_are_flagged(tmp_path, capsys):
    _write(tmp_path, 0, "multi_task", 0, 0.70)
    _write(tmp_path, 1, "multi_task", 0, 0.70)  # an exact replica: fine
    main([str(tmp_path)])
    assert "disagree" not in capsys.readouterr().out
    _write(tmp_path, 2, "multi_task", 0, 0.71)
    main([str(tmp_path)])
    out = capsys.readouterr().out
    assert "warning: replicated runs disagree (the last one read is used): x:" in out
    assert "multi_task seed=0 test/mean/auroc" in out


def test_source_sizes_are_compared_step_by_step_and_end_to_end(tmp_path, capsys):
    axes = ["regime.n_source", "regime.mode"]
    values = {0: [0.60, 0.61, 0.62], 1000: [0.70, 0.72, 0.71], 10000: [0.75, 0.78, 0.76]}
    values[1000000] = [0.80, 0.81, 0.84]
    job = 0
    for n_source, per_seed in values.items():
        for seed, value in enumerate(per_seed):
            arm = "scratch" if n_source == 0 else f"related/linear_probe n_source={n_source}"
            overrides = [f"regime.n_source={n_source}"]
            _write_transfer(tmp_path, job, arm, axes, overrides, seed, value)
            job += 1
    main([str(tmp_path)])
    out = capsys.readouterr().out
    arm = "related/linear_probe n_source="
    # per-seed differences 10k-1k: .05 .06 .05; 1M-10k: .05 .03 .08; 1M-1k: .10 .09 .13
    for pair, diff in (("10000 − {a}1000", "+0.053"), ("1000000 − {a}10000", "+0.053")):
        assert f"{arm}{pair.format(a=arm)}: {diff} [" in out
    line = next(x for x in out.splitlines() if f"{arm}1000000 − {arm}1000:" in x)
    assert line.startswith(f"  {arm}1000000 − {arm}1000: +0.107 [")
    assert "3/3 seeds better" in line
    assert f"{arm}10000 − {arm}1000000" not in out


def test_lower_is_better_metrics_turn_the_summary_verdict():
    from tasklab.report.records import Records
    from tasklab.report.summary import headline_metric, summary_lines

    def record(arm: str, seed: int, mae: float) -> dict:
        return {
            "status": "ok",
            "name": "e2e",
            "regime": "pipeline",
            "arm": arm,
            "seed": seed,
            "arm_axes": ["regime.arm"],
            "reference_arm": "end_to_end",  # as the pipeline regime declares
            "overrides": [f"regime.arm={arm}", f"seed={seed}"],
            "metrics": {"test/mean/mae": mae},
            "config": {"regime": {"arm": arm}},
        }

    records = Records(
        ok=[record("end_to_end", s, 2.0 + 0.1 * s) for s in range(3)]
        + [record("staged", s, 1.0 + 0.1 * s + 0.01 * s * s) for s in range(3)]
    )
    assert headline_metric(records) == "test/mean/mae"
    lines = summary_lines(records, "test/mean/mae")
    verdict = next(line for line in lines if "−" in line)
    # staged − end_to_end is about −1 year of MAE on every seed: staged is the better arm
    assert verdict.startswith("  staged − end_to_end: −0.983 [")
    assert "3/3 seeds better for staged" in verdict  # lower MAE on every seed
    assert verdict.endswith("→ staged better")


def test_a_cache_location_does_not_split_cells():
    records = [
        {"overrides": [f"regime.cache_dir=/tmp/c{i}", f"data.n_train={n}"], "config": {}}
        for i, n in enumerate([100, 1000])
    ]
    assert find_axes(records).swept == ["data.n_train"]


def test_summary_and_compare_give_the_same_verdicts(tmp_path):
    """One pipeline: the end-of-sweep table and the report agree on every comparison."""
    import csv

    import numpy as np

    from tasklab.report.calibration import write_two_arm_sweep
    from tasklab.report.compare import main as compare_main
    from tasklab.report.records import load_records
    from tasklab.report.summary import summary_lines

    rng = np.random.default_rng(5)
    effects = {"a": 0.8, "b": 0.0, "c": -0.8}
    write_two_arm_sweep(
        tmp_path,
        "x",
        rng,
        seeds=5,
        tasks=tuple(effects),
        effects=effects,
        metrics=("auroc", "accuracy"),
    )
    assert compare_main([str(tmp_path), "--out", str(tmp_path / "out"), "--wandb", "off"]) == 0
    with open(tmp_path / "out" / "comparisons.csv") as handle:
        rows = {row["metric"]: row for row in csv.DictReader(handle)}
    assert len(rows) == 8  # (mean + 3 tasks) × (AUROC, accuracy): one family
    rows = {k: v for k, v in rows.items() if k.endswith("/auroc")}
    text = "\n".join(summary_lines(load_records([tmp_path]), "test/mean/auroc"))
    for metric, row in rows.items():
        label = "multi_task − single_task" if "/mean/" in metric else metric.split("/")[1]
        line = next(x for x in text.splitlines() if x.strip().startswith(label + ":"))
        assert f"→ {row['verdict']}" in line, (metric, line, row["verdict"])
        assert p_text(float(row["p_holm"]), "p_holm") in line  # the same family, the same p
        assert row["ci_over"] == "seeds+examples"
    assert rows["test/a/auroc"]["verdict"] == "multi_task better"
    assert rows["test/c/auroc"]["verdict"] == "single_task better"


def test_a_family_without_pairs_says_what_the_report_does(tmp_path, capsys):
    for seed in range(3):
        _write(tmp_path, seed, "multi_task", seed, 0.7 + 0.01 * seed)
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "warning: no comparable pairs: every cell holds one arm (multi_task)" in out


def test_a_damaged_predictions_file_falls_back_to_seeds_and_says_why(tmp_path, capsys):
    import numpy as np

    from tasklab.report.calibration import write_two_arm_sweep

    write_two_arm_sweep(tmp_path, "x", np.random.default_rng(0), seeds=3)
    damaged = sorted(tmp_path.rglob("predictions.npz"))[0]
    damaged.write_bytes(damaged.read_bytes()[:100])  # cut short, as by a full disk
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "over seeds only" in out and "unreadable predictions.npz" in out


def test_tasks_are_listed_in_natural_order(tmp_path, capsys):
    job = 0
    for seed in range(3):
        for regime, shift in (("single_task", 0.0), ("multi_task", 0.02)):
            result = RunResult(
                status="ok",
                name="x",
                regime=regime,
                seed=seed,
                overrides=[f"regime={regime}", f"seed={seed}"],
                metrics={
                    "test/mean/auroc": 0.7 + shift,
                    **{f"test/t{k}/auroc": 0.7 + shift + 0.01 * seed for k in (10, 2, 1)},
                },
                reference_arm="single_task",
                reference_effect="delta_m",
            )
            write_result(tmp_path / str(job), result)
            job += 1
    assert main([str(tmp_path)]) == 0
    tasks = [x.strip().split(":")[0] for x in capsys.readouterr().out.splitlines()]
    shown = [t for t in tasks if t in ("t1", "t2", "t10")]
    assert shown == ["t1", "t2", "t10"]  # t2 before t10, not after it
