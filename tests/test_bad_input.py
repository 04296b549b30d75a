"""Bad input, as a table, through the command line itself: each case gives one error line
naming the field or file and the fix, a non-zero exit, and no record claiming success.

The CLI runs in this process (Hydra's app called with a patched argv), which is the code path
of `tasklab-train` without a second interpreter start per case."""

from __future__ import annotations

import json
import sys
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
    return paths


# (overrides, text the one error line must contain, expected exit status)
CASES = [
    # misspelt keys
    (["data.n_trian=5"], "data.n_trian is not a config key (misspelt?)", 2),
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
    # checkpoints to resume from
    (["trainer.resume_from={no_ckpt}"], "holds no checkpoints/<fit>/last.ckpt", 2),
    (["trainer.resume_from={corrupt_ckpt}"], "last.ckpt is not a readable checkpoint", 2),
    # an output folder that cannot be created (a path below a file: fails even for root)
    (["hydra.run.dir={a_file}/run"], "small.csv/run: Not a directory; choose a writable", 2),
    # a loss that becomes NaN
    (["optim.lr=1e30", "trainer.max_steps=3"], "training loss became nan by step", 1),
]


@pytest.mark.parametrize(("overrides", "expected", "status"), CASES, ids=lambda c: str(c)[:40])
def test_bad_input_fails_in_one_line(
    inputs, tmp_path, capsys, monkeypatch, overrides, expected, status
):
    run_dir = tmp_path / "run"
    given = [o.format(**{k: str(v) for k, v in inputs.items()}) for o in overrides]
    if not any(o.startswith("hydra.run.dir=") for o in given):
        given.append(f"hydra.run.dir={run_dir}")
    monkeypatch.setattr(sys, "argv", ["tasklab-train", *SMALL_RUN, *given])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == status
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("tasklab-train: error: "), errors
    assert expected.format(**{k: str(v) for k, v in inputs.items()}) in errors[0]
    record = run_dir / RESULT_FILE
    assert not record.exists() or json.loads(record.read_text())["status"] == "failed"


def test_the_table_has_at_least_twenty_cases():
    assert len(CASES) >= 20
