"""Bad input fails before training, naming the field and the allowed values."""

import json
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError, ValidationError

from tasklab.config_checks import ConfigError
from tasklab.runner import train
from tasklab.train import main as train_main

from .conftest import TINY


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("data.label_rate=1.5", "data.label_rate=1.5 is out of range; use 0 to 1 (the fraction"),
        ("data.label_rate=-0.1", "data.label_rate=-0.1 is out of range; use 0 to 1"),
        ("data.n_train=0", "data.n_train=0 is out of range; use an integer in [1, 10,000,000]"),
        ("data.n_train=20000000", "data.n_train=20000000 is out of range"),
        ("data.tasks=[car,bicycle]", "data.tasks='bicycle' is unknown; allowed: pedestrian, car"),
        ("data.tasks=[]", "data.tasks is empty"),
        ("+data.label_rate_by_task.car=2", "data.label_rate_by_task.car=2.0 is outside [0, 1]"),
        ("+data.n_train_by_task.car=-5", "data.n_train_by_task.car=-5 is out of range"),
        (
            "+data.n_train_by_task.bus=5",
            "data.n_train_by_task='bus' is unknown; allowed: pedestrian",
        ),
        (
            "model.backbone=resnet",
            "'resnet' is not a registered backbone; registered: cnn, cnn1d, mlp",
        ),
        ("regime.name=transfer_magic", "'transfer_magic' is not a registered regime; registered:"),
        (
            "data.world=atlantis",
            "'atlantis' is not a registered world; registered: bone_age, driving",
        ),
        ("logger.wandb_mode=cloud", "logger.wandb_mode='cloud' is unknown; allowed: offline"),
        ("optim.lr=0", "optim.lr=0.0 must be > 0"),
        ("optim.schedule=linear", "optim.schedule='linear' is unknown; allowed: constant, cosine"),
        ("data=vectors", "model.backbone=cnn reads inputs of 3 dimensions but data.world=vectors"),
        ("data.driving.decoy_rate=1.2", "data.driving.decoy_rate=1.2 is out of range; use 0 to 1"),
        ("data.driving.n_clutter=99", "data.driving.n_clutter=99 is out of range; use 0 to 24"),
        ("data.driving.max_object_size=0.1", "need 0 < min <= max <= 1"),
    ],
)
def test_bad_values_raise_one_line_errors(make_cfg, tmp_path, override, expected):
    cfg = make_cfg(*TINY, "logger=none", override)
    with pytest.raises(ConfigError) as info:
        train(cfg, output_dir=tmp_path)
    message = str(info.value)
    assert expected in message and "\n" not in message
    record = json.loads((tmp_path / "result.json").read_text())
    assert record["status"] == "failed" and "ConfigError" in record["error"]


@pytest.mark.parametrize(
    "override",
    ["data.n_trian=5", "model.widht=8", "trainer.max_step=3", "data.n_test_size=5"],
)
def test_misspelt_keys_fail_at_composition(make_cfg, override):
    with pytest.raises((ConfigCompositionException, ConfigKeyError)) as info:
        make_cfg(override)
    assert override.split("=")[0].split(".")[-1] in str(info.value) + str(info.value.__cause__)


@pytest.mark.parametrize("override", ["data.n_train=many", "optim.lr=fast", "seed=1.5"])
def test_wrong_types_fail_at_composition(make_cfg, override):
    with pytest.raises((ConfigCompositionException, ValidationError)) as info:
        make_cfg(override)
    assert override.split("=")[0] in str(info.value) + str(info.value.__cause__)


def test_cli_reports_a_bad_value_in_one_line_and_exits_non_zero(tmp_path, run_cli):
    run_dir = tmp_path / "run"
    proc = run_cli(
        train_main,
        "data.label_rate=7",
        "logger=none",
        f"hydra.run.dir={run_dir}",
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert errors == [
        "tasklab-train: error: data.label_rate=7.0 is out of range; use 0 to 1 "
        "(the fraction of labels kept)"
    ]
    record = json.loads(Path(run_dir, "result.json").read_text())
    assert record["status"] == "failed"
