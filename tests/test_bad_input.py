"""Bad input, as a table, through the command line itself: each case gives one error line
naming the field or file and the fix, a non-zero exit, and no record claiming success.

The CLI runs in this process (Hydra's app called with a patched argv), which is the code path
of `tasklab-train` without a second interpreter start per case."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tasklab.results import RESULT_FILE
from tasklab.train import main

from .conftest import SMALL_RUN

FILES = ["data=files", "model=mlp", "data.n_val=-1", "data.n_test=-1", "data.files.tasks=[label]"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Data files and checkpoint folders, good and bad, for the table's file cases."""
    root = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    header = "f1,f2,label"
    rows = [f"{a:.3f},{b:.3f},{int(a > 0)}" for a, b in rng.normal(size=(60, 2))]
    paths = {name: root / f"{name}.csv" for name in ("small", "ragged", "nan", "text")}
    paths["small"].write_text("\n".join([header, *rows]) + "\n")
    paths["ragged"].write_text("\n".join([header, *rows[:5], "0.1,0.2", *rows[5:]]) + "\n")
    paths["nan"].write_text("\n".join([header, *rows[:5], "nan,0.2,1", *rows[5:]]) + "\n")
    paths["text"].write_text("\n".join([header, *rows[:5], "abc,0.2,1", *rows[5:]]) + "\n")
    paths["no_ckpt"] = root / "empty_run"
    paths["no_ckpt"].mkdir()
    corrupt = root / "corrupt_run" / "checkpoints" / "all"
    corrupt.mkdir(parents=True)
    (corrupt / "last.ckpt").write_bytes(b"\x80\x04 cut short")
    paths["corrupt_ckpt"] = root / "corrupt_run"
    paths["a_file"] = paths["small"]
    x, y = rng.normal(size=(40, 3)).astype(np.float32), rng.integers(0, 2, 40)
    more = {name: root / f"{name}" for name in ("escape.npz", "no_rows.npz", "members.npz")}
    np.savez(more["escape.npz"], x=x, **{"y_../../escape": y})  # a task name that is a path
    np.savez(more["no_rows.npz"], x=x[:0], y_label=y[:0])
    with zipfile.ZipFile(more["members.npz"], "w") as archive:  # a member that is no array
        np.savez(root / "plain.npz", x=x, y_label=y)
        with zipfile.ZipFile(root / "plain.npz") as plain:
            for member in plain.namelist():
                archive.writestr(member, plain.read(member))
        archive.writestr("y_notes.txt", "not an array")
    paths |= {name.split(".")[0]: path for name, path in more.items()}
    for name, head in (("repeated", "f1,f1,label"), ("dotted", "f1,f2,a.b")):
        paths[name] = root / f"{name}.csv"
        paths[name].write_text("\n".join([head, *rows]) + "\n")
    paths["header_only"] = root / "header_only.csv"
    paths["header_only"].write_text(header + "\n")
    paths["conf"] = root / "conf"
    (paths["conf"] / "experiment").mkdir(parents=True)
    (paths["conf"] / "experiment" / "typed.yaml").write_text(
        "# @package _global_\ndata:\n  n_train: many\n"
    )
    (paths["conf"] / "experiment" / "misspelt.yaml").write_text(
        "# @package _global_\ndata:\n  n_trian: 5\n"
    )
    (paths["conf"] / "experiment" / "unclosed.yaml").write_text(
        "# @package _global_\ndata:\n  tasks: [car, pedestrian\nseed: 3\n"
    )
    paths["sweep"] = root / "sweep"
    return paths


# (overrides, text the one error line must contain, expected exit status)
CASES = [
    # misspelt keys
    (
        ["data.n_trian=5"],
        "data.n_trian is not a config key (misspelt? a new entry of a dict takes a +",
        2,
    ),
    (["model.widht=8"], "model.widht is not a config key", 2),
    (["trainer.max_step=3"], "trainer.max_step is not a config key", 2),
    # wrong types
    (["data.n_train=many"], "data.n_train=many: Value 'many' of type 'str' could not be", 2),
    (["optim.lr=fast"], "optim.lr=fast: Value 'fast'", 2),
    (["seed=1.5"], "seed=1.5: Value '1.5' of type 'float' could not be converted to Int", 2),
    (["trainer.deterministic=maybe"], "trainer.deterministic=maybe: Value 'maybe'", 2),
    # unknown names
    (["model=resnet"], "model=resnet is not an option of model; allowed: cnn, cnn1d", 2),
    (["experiment=nope"], "experiment=nope is not an option of experiment; allowed:", 2),
    (["mtl/weighting=magic"], "mtl/weighting=magic is not an option of mtl/weighting", 2),
    (["data.n_train=5,many"], "quote it for a string ('a,b'), write [a,b] for a list", 2),
    # out-of-range sizes and rates
    (["seed=-1"], "seed=-1 is out of range; use an integer in [0, 2,147,483,647]", 2),
    (["data.n_train=0"], "data.n_train=0 is out of range; use an integer in [1, 10,000,000]", 2),
    (["data.label_rate=1.5"], "data.label_rate=1.5 is out of range; use 0 to 1 (the fraction", 2),
    (["optim.lr=-1"], "optim.lr=-1.0 must be > 0", 2),
    (["data.batch_size=0"], "data.batch_size=0 must be > 0", 2),
    (["trainer.max_steps=0"], "trainer.max_steps=0 must be > 0", 2),
    (["trainer.checkpoint_every_n_steps=-1"], "trainer.checkpoint_every_n_steps=-1 must be", 2),
    (["trainer.threads=0"], "trainer.threads=0 must be >= 1", 2),
    (["mtl/weighting=static", "+mtl.weighting.weights={{car: 1.0}}"], "has no weight for", 2),
    # a training size larger than a finite data set; data files that cannot be used
    ([*FILES, "data.files.train={small}", "data.n_train=500"], "data.n_train=500 exceeds", 2),
    ([*FILES, "data.files.train={ragged}"], "ragged.csv: line 7 has 2 cells and the header 3", 2),
    ([*FILES, "data.files.train={nan}"], "nan.csv: feature columns ['f1', 'f2'] holds NaN", 2),
    ([*FILES, "data.files.train={text}"], "text.csv: column 'f1' line 7 holds 'abc'", 2),
    ([*FILES, "data.files.train={no_ckpt}/gone.csv"], "gone.csv: no such file; check data", 2),
    (["trainer=ddp", "mtl/weighting=pcgrad"], "mtl.weighting=pcgrad takes per-task", 2),
    (["trainer=ddp", "mtl/weighting=famo"], "mtl.weighting=famo learns its task weights", 2),
    (["trainer.precision=16-mixed", "mtl/weighting=upgrad"], "precision=16-mixed scales", 2),
    # checkpoints to resume from
    (["trainer.resume_from={no_ckpt}"], "holds no checkpoints/<fit>/last.ckpt", 2),
    (["trainer.resume_from={corrupt_ckpt}"], "last.ckpt is not a readable checkpoint", 2),
    # an output folder that cannot be created (a path below a file: fails even for root)
    (["hydra.run.dir={a_file}/run"], "small.csv/run: Not a directory; choose a writable", 2),
    # a loss that becomes NaN
    (["optim.lr=1e30", "trainer.max_steps=3"], "training loss became nan by step", 1),
    # names that become paths
    (["name=../../escape"], "name='../../escape' cannot name files; use letters, digits", 2),
    (["name=/abs/run"], "name='/abs/run' cannot name files", 2),
    (["name=a.b"], "name='a.b' cannot name files", 2),
    ([*FILES[:-1], "data.files.train={escape}"], "task='../../escape' cannot name files", 2),
    ([*FILES[:-1], "data.files.train={dotted}", "data.files.tasks=[a.b]"], "task='a.b' cannot", 2),
    # data files
    ([*FILES, "data.files.train={small}", "data.files.features=[f1,label]"], "are both inputs", 2),
    ([*FILES, "data.files.train={repeated}"], "names ['f1'] more than once", 2),
    ([*FILES[:-1], "data.files.train={no_rows}"], "array 'x' has no rows", 2),
    ([*FILES[:-1], "data.files.train={members}"], "members ['y_notes.txt'] are not numpy", 2),
    ([*FILES, "data.files.train={header_only}"], "header_only.csv: has a header but no rows", 2),
    (
        [*FILES, "data.files.train={small}", "data.files.val_fraction=0.85"],
        "data.files.val_fraction + test_fraction = 1.05 leaves no training rows",
        2,
    ),
    (
        [*FILES, "data.files.train={small}", "data.files.test_fraction=0.95"],
        "data.files.test_fraction=0.95 is out of range; use 0 to 0.9",
        2,
    ),
    # every component's numeric settings, from their declarations
    (["data=vectors", "model=mlp", "data.vectors.n_features=0"], "n_features=0 must be >= 1", 2),
    (["data=vectors", "model=mlp", "data.vectors.label_noise=2.0"], "label_noise=2.0 is out", 2),
    (["data=vectors", "model=mlp", "data.vectors.n_tasks=0"], "n_tasks=0 is out of range", 2),
    (["data.world_seed=4294967296"], "data.world_seed=4294967296 is out of range", 2),
    (["data.driving.noise_std=-0.1"], "data.driving.noise_std=-0.1 must be >= 0", 2),
    (["data.driving.n_clutter=99"], "data.driving.n_clutter=99 is out of range; use 0 to 24", 2),
    (["data.driving.image_size=4"], "data.driving.image_size=4 is out of range; use 8 to 256", 2),
    (["data=bone_age", "data.bone_age.plate_gap=0.5"], "plate_gap=0.5 is out of range", 2),
    (["data=face_id", "data.face_id.n_identities=1"], "n_identities=1 is out of range", 2),
    (["model.depth=-1"], "model.depth=-1 must be >= 0", 2),
    (["model.fc_width=-3"], "model.fc_width=-3 must be >= 0", 2),
    (["model.pool=max"], "model.pool='max' is unknown; allowed: avg, grid", 2),
    (["model=mmoe", "model.n_experts=0"], "model.n_experts=0 must be > 0", 2),
    (["optim.weight_decay=-0.1"], "optim.weight_decay=-0.1 must be >= 0", 2),
    (["data.n_val=0"], "data.n_val=0 must be > 0", 2),
    (["data.n_test=-4"], "data.n_test=-4 must be > 0", 2),
    (
        ["data=bone_age", "regime=pipeline", "regime.stage2_model.depth=-1"],
        "regime.stage2_model.depth=-1 must be >= 0",
        2,
    ),
    (["data=bone_age", "regime=pipeline", "regime.stage1_steps=0"], "stage1_steps=0 must be", 2),
    (["data=bone_age", "regime=pipeline", "regime.arm=magic"], "regime.arm='magic' is unknown", 2),
    (["regime=transfer", "regime.n_source=-1"], "regime.n_source=-1 is out of range", 2),
    (["regime=transfer", "regime.mode=melt"], "regime.mode='melt' is unknown; allowed: full", 2),
    (["regime=transfer", "regime.source_epochs=0"], "source_epochs=0.0 must be > 0", 2),
    (["regime=transfer", "regime.frozen_blocks=-1"], "frozen_blocks=-1 must be >= 0", 2),
    (["mtl/weighting=dwa", "mtl.weighting.period=0"], "mtl.weighting.period=0 must be > 0", 2),
    (["mtl/weighting=gradnorm", "mtl.weighting.alpha=-1"], "alpha=-1.0 must be >= 0", 2),
    (["mtl/weighting=dwa", "mtl.weighting.alpha=1"], "mtl.weighting.alpha is not a config", 2),
    (
        [
            "mtl/weighting=static",
            "+mtl.weighting.weights={{pedestrian: 1, car: 1, stop_sign: 1, traffic_light: 1, "
            "bus: 2}}",
        ],
        "mtl.weighting.weights names ['bus'], which are not in data.tasks",
        2,
    ),
    # what Lightning or W&B would refuse with a traceback
    (["trainer.precision=17"], "trainer.precision='17' is unknown; allowed: 32-true", 2),
    (["trainer.accelerator=tpu"], "trainer.accelerator='tpu' is unknown; allowed: auto", 2),
    (["trainer.accelerator=mps"], "trainer.accelerator=mps but Apple's MPS is not available", 2),
    (["trainer.val_every_n_steps=-5"], "trainer.val_every_n_steps=-5 must be > 0", 2),
    (["trainer.log_every_n_steps=0"], "trainer.log_every_n_steps=0 must be > 0", 2),
    (["trainer.devices=0"], "trainer.devices=0 must be > 0", 2),
    (["logger.wandb=true", "logger.wandb_mode=online"], "needs W&B credentials", 2),
    # errors inside a user's experiment file keep the file, the key and the value
    (["--config-dir={conf}", "experiment=typed"], "experiment/typed.yaml: data.n_train: Value", 2),
    (["--config-dir={conf}", "experiment=misspelt"], "misspelt.yaml: data.n_trian: Key", 2),
    (
        ["--config-dir={conf}", "experiment=unclosed"],
        "experiment/unclosed.yaml:4:5: YAML syntax error: while parsing a flow sequence",
        2,
    ),
    # tasks and per-task budgets
    (["data.tasks=[]"], "data.tasks is empty; name at least one task", 2),
    (["data.tasks=[car,car]"], "data.tasks=['car', 'car'] repeats a task", 2),
    (["data.tasks=[bicycle]"], "data.tasks='bicycle' is unknown; allowed: pedestrian", 2),
    (["+data.n_train_by_task.bus=10"], "data.n_train_by_task='bus' is unknown", 2),
    (["+data.label_rate_by_task.car=2"], "data.label_rate_by_task.car=2.0 is outside [0, 1]", 2),
    (["data.n_train=10000001"], "data.n_train=10000001 is out of range", 2),
    (["data.materialise_max=-1"], "data.materialise_max=-1 must be >= 0", 2),
    # component names, and components that do not fit together
    (["data.world=atlantis"], "'atlantis' is not a registered world; registered:", 2),
    (["regime.name=magic"], "'magic' is not a registered regime; registered:", 2),
    (["model.backbone=resnet"], "'resnet' is not a registered backbone; registered:", 2),
    (["model.architecture=tree"], "'tree' is not a registered architecture; registered:", 2),
    (["mtl.weighting.name=magic"], "'magic' is not a registered loss weighting; registered:", 2),
    (["mtl.weighting.name=dwa"], "choose it with mtl/weighting=dwa (without", 2),
    (
        ["data=vectors", "model=mlp", "data.vectors.task_groups=5"],
        "data.vectors.task_groups=5 is more than n_tasks=4",
        2,
    ),
    (["regime.name=transfer"], "choose it with regime=transfer (without 'regime.name')", 2),
    (["data=vectors", "model=cnn"], "model.backbone=cnn reads inputs of 3 dimensions", 2),
    (["model=cnn1d"], "model.backbone=cnn1d reads inputs of 1 or 2 dimensions", 2),
    (["regime=transfer", "model=mmoe"], "model.architecture=mmoe has no single trunk", 2),
    (["data=vectors", "model=linear", "mtl/weighting=pcgrad"], "backbone=linear has none", 2),
    (["logger.wandb_mode=cloud"], "logger.wandb_mode='cloud' is unknown; allowed: offline", 2),
    (["optim.schedule=linear"], "optim.schedule='linear' is unknown; allowed: constant", 2),
    # more of the worlds' and regimes' own settings
    (["data.driving.presence_prob=1.5"], "presence_prob=1.5 is out of range; use 0 to 1", 2),
    (
        ["data.driving.min_object_size=0.5", "data.driving.max_object_size=0.3"],
        "data.driving.min_object_size=0.5 exceeds max_object_size=0.3",
        2,
    ),
    (["data=face_id", "data.face_id.crop_size=99"], "data.face_id.crop_size=99 must be in", 2),
    (["data=bone_age", "data.bone_age.age_min=20"], "age_min=20.0, age_max=18.0: need", 2),
    (["regime=transfer", "regime.source=other"], "regime.source='other' is unknown", 2),
    (["regime=transfer", "regime.source_tasks=[]"], "regime.source_tasks is empty", 2),
    (["regime=transfer", "regime.trunk_lr_scale=0"], "trunk_lr_scale=0.0 must be > 0", 2),
    (["data=bone_age", "regime=pipeline", "regime.pair_share=1.5"], "pair_share=1.5 is out", 2),
    (["data=bone_age", "regime=pipeline", "regime.n_stage1=0"], "regime.n_stage1=0 is out", 2),
    (["trainer.num_nodes=0"], "trainer.num_nodes=0 must be > 0", 2),
    (["trainer.progress_refresh_rate=0"], "trainer.progress_refresh_rate=0 must be > 0", 2),
    # more of a user's files
    ([*FILES, "data.files.train={small}", "data.files.split_seed=-1"], "split_seed=-1 must", 2),
    (
        [*FILES, "data.files.train={small}", "+data.files.kinds.label=ordinal"],
        "data.files.kinds.label='ordinal' is unknown",
        2,
    ),
    (
        [*FILES, "data.files.train={small}", "data.files.kinds={{label: binary}}"],
        "data.files.kinds has no entry 'label' yet; add new entries one by one with a +",
        2,
    ),
    ([*FILES, "data.files.train={small}", "data.files.stratify=f1"], "stratify='f1' is not", 2),
    (["hydra.searchpath=[file://{no_ckpt}/nope]"], "empty_run/nope is not a folder", 2),
    (["trainer.strategy=bogus"], "trainer.strategy='bogus' is not a Lightning strategy", 2),
    (["data.driving.noise_std=inf"], "data.driving.noise_std=inf is not a finite number", 2),
    (["optim.lr=nan"], "optim.lr=nan is not a finite number", 2),
    ([*FILES, "data.files.train={no_ckpt}"], "empty_run: is a folder; give the .npz or .csv", 2),
    # a sweep with nothing to run
    (["-m", "seed=range(0,0)", "hydra.sweep.dir={sweep}"], "the sweep expands to no job", 2),
]


@pytest.mark.slow
@pytest.mark.parametrize(("overrides", "expected", "status"), CASES, ids=lambda c: str(c)[:40])
def test_bad_input_fails_in_one_line(
    inputs, tmp_path, capsys, monkeypatch, overrides, expected, status
):
    run_dir = tmp_path / "run"
    monkeypatch.setenv("HOME", str(tmp_path))  # no W&B credentials (~/.netrc) to be found
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    given = [o.format(**{k: str(v) for k, v in inputs.items()}) for o in overrides]
    if not any(o.startswith(("hydra.run.dir=", "hydra.sweep.dir=")) for o in given):
        given.append(f"hydra.run.dir={run_dir}")
    flags = [o for o in given if o.startswith("-")]  # Hydra's flags come before overrides
    overrides_given = [o for o in given if not o.startswith("-")]
    monkeypatch.setattr(sys, "argv", ["tasklab-train", *flags, *SMALL_RUN, *overrides_given])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == status
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("tasklab-train: error: "), errors
    assert expected.format(**{k: str(v) for k, v in inputs.items()}) in errors[0]
    record = run_dir / RESULT_FILE
    assert not record.exists() or json.loads(record.read_text())["status"] == "failed"


def test_the_table_has_at_least_a_hundred_cases():
    assert len(CASES) >= 100


def test_excel_csv_with_a_byte_order_mark_reads_like_any_csv(inputs, tmp_path, run_cli):
    bom = tmp_path / "excel.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + inputs["small"].read_bytes())
    run = run_cli(
        main,
        *SMALL_RUN,
        *FILES,
        f"data.files.train={bom}",
        "data.files.features=[f1,f2]",  # the first column's name must not carry the mark
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    record = json.loads((tmp_path / "run" / RESULT_FILE).read_text())
    assert record["status"] == "ok" and record["data"]["n_train"] == {"label": 32}


def test_a_file_that_cannot_be_read_says_so(inputs, tmp_path, run_cli, monkeypatch):
    # root reads any file, so the refusal is the operating system's answer, stood in for here
    import tasklab.data.file_arrays as file_arrays

    real_access = file_arrays.os.access
    monkeypatch.setattr(
        file_arrays.os,
        "access",
        lambda path, mode: False if str(path).endswith("small.csv") else real_access(path, mode),
    )
    run = run_cli(main, *SMALL_RUN, *FILES, f"data.files.train={inputs['small']}")
    assert run.returncode == 2
    assert (
        run.stderr.strip()
        .splitlines()[-1]
        .endswith("small.csv: cannot be read (permission denied); check the file's permissions")
    )


def test_a_label_rate_of_zero_runs_and_says_nothing_was_trained(tmp_path, run_cli):
    run = run_cli(main, *SMALL_RUN, "data.label_rate=0.0", f"hydra.run.dir={tmp_path}")
    assert run.returncode == 0, run.stderr[-2000:]
    warnings = [line for line in run.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "has no labelled training row" in warnings[0]
    record = json.loads((tmp_path / RESULT_FILE).read_text())
    assert record["status"] == "ok" and record["fits"][0]["steps"] == 0
    assert set(record["data"]["n_labelled"].values()) == {0}


def test_a_full_disk_names_the_file_it_could_not_write(tmp_path, run_cli, monkeypatch):
    import errno

    import tasklab.results

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tasklab.results.os, "fsync", no_space)
    run = run_cli(main, *SMALL_RUN, f"hydra.run.dir={tmp_path}")
    assert run.returncode == 1
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(f"tasklab-train: error: no space left on the device of {tmp_path}")
    assert "(writing running.json: " in line and " bytes wanted, " in line
    assert not list(tmp_path.rglob("*.tmp"))


# A user's component module (TASKLAB_COMPONENTS) that is broken, and the line it gets.
BROKEN_COMPONENTS = {
    "raises": ("import math\n\nRATE = 1 / 0\n", "raised while being imported: {path}:3: "),
    "taken": (
        "from tasklab.registry import REGIMES\n\n"
        "@REGIMES.register('multi_task')\ndef mine(ctx):\n    return []\n",
        "regime 'multi_task' is registered twice: by tasklab.regimes.multi_task and by taken",
    ),
    "slashed": (
        "from tasklab.registry import WEIGHTINGS\n\n"
        "@WEIGHTINGS.register('my/weighting')\nclass Mine:\n    pass\n",
        "loss weighting name='my/weighting' cannot name files",
    ),
}


@pytest.mark.parametrize("kind", sorted(BROKEN_COMPONENTS))
def test_a_broken_component_module_is_one_line_naming_it(tmp_path, run_cli, monkeypatch, kind):
    import tasklab.registry

    source, expected = BROKEN_COMPONENTS[kind]
    module = tmp_path / f"{kind}.py"
    module.write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("TASKLAB_COMPONENTS", kind)
    monkeypatch.setattr(tasklab.registry, "_loaded", False)  # import the components again
    monkeypatch.delitem(sys.modules, kind, raising=False)
    run = run_cli(main, *SMALL_RUN, f"hydra.run.dir={tmp_path / 'run'}")
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1, run.stderr[-2000:]
    assert lines[0].startswith(f"tasklab-train: error: TASKLAB_COMPONENTS module {kind!r}")
    assert expected.format(path=module) in lines[0]


def test_resuming_from_a_run_of_another_width_names_the_mismatched_shapes(tmp_path, run_cli):
    other = tmp_path / "wide"
    kept = run_cli(
        main,
        *SMALL_RUN,
        "model.width=8",
        "trainer.max_steps=2",
        "trainer.checkpoint_every_n_steps=1",
        "trainer.keep_checkpoints=true",
        f"hydra.run.dir={other}",
    )
    assert kept.returncode == 0, kept.stderr[-2000:]
    run = run_cli(main, *SMALL_RUN, f"trainer.resume_from={other}", f"hydra.run.dir={tmp_path}/r")
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1, run.stderr[-2000:]
    assert "trainer.resume_from: " in lines[0] and "does not fit this network (" in lines[0]
    assert "in the checkpoint, (4," in lines[0]  # a width-4 layer where the run had width 8
