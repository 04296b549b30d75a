"""Extending tasklab without editing it: a world and a loss weighting, each one file of the
user's, found through ``TASKLAB_COMPONENTS``; the user's own configs through ``--config-dir``.
The files are those docs/guide/extending.md shows (``tests/extension_example/``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasklab.configs_cli import copy_config, list_configs
from tasklab.registry import (
    WEIGHTINGS,
    DuplicateComponentError,
    RegimeSpec,
    Registry,
    WeightingSpec,
    WorldSpec,
    import_user_modules,
)
from tasklab.settings import ConfigError
from tasklab.train import main as train_main

EXAMPLE = Path(__file__).resolve().parent / "extension_example"


def _train(tmp_path: Path, *args: str):
    env = {
        **os.environ,
        "TASKLAB_COMPONENTS": "rings_world,worst_task",
        "WANDB_MODE": "disabled",
        "PYTHONPATH": os.pathsep.join([str(EXAMPLE), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "tasklab.train", *args, "hydra.run.dir=run"]
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_a_users_world_weighting_and_experiment_run_without_editing_tasklab(tmp_path):
    run = _train(
        tmp_path,
        "--config-dir",
        str(EXAMPLE / "conf"),
        "experiment=my_rings",
        "trainer=smoke",
        "trainer.max_steps=20",
        "logger=none",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((tmp_path / "run" / "result.json").read_text())
    assert record["status"] == "ok" and record["name"] == "my_rings"
    # the user's world, with the user's setting, and the user's weighting with its arm key
    assert record["config"]["data"]["rings"] == {"noise": 0.2, "inner_radius": 0.5}
    assert record["arm"] == "multi_task/worst_task"
    assert record["arm_keys"] == ["mtl.weighting.rest"]
    assert "data.n_train" in record["size_keys"]  # what a report may draw curves against
    assert record["config"]["mtl"]["weighting"] == {"name": "worst_task", "rest": 0.2}
    assert 0.5 < record["metrics"]["test/upper/auroc"] <= 1.0  # learnable in 20 steps


@pytest.mark.slow
def test_a_users_setting_is_checked_by_its_declaration(tmp_path):
    run = _train(
        tmp_path,
        "--config-dir",
        str(EXAMPLE / "conf"),
        "experiment=my_rings",
        "data.rings.inner_radius=1.5",
        "logger=none",
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == (
        "tasklab-train: error: data.rings.inner_radius=1.5 must be <= 1"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--config-dir", "no/such/folder"], "Additional config directory"),
        (["hydra.searchpath=[file://no/such]"], "hydra.searchpath: no/such is not a folder"),
    ],
)
def test_a_missing_user_folder_is_one_line(run_cli, args, expected):
    run = run_cli(train_main, *args, "logger=none")
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("tasklab-train: error: ") and expected in lines[0]
    )


def test_a_user_module_that_cannot_be_imported_is_one_line():
    with pytest.raises(ConfigError, match="TASKLAB_COMPONENTS names 'no_such_module', which"):
        import_user_modules(["no_such_module"])


def test_two_modules_registering_one_name_fail_naming_both():
    registry: Registry = Registry("loss weighting", "mtl.weighting.name", WeightingSpec)
    registry.register("famo")(type("Famo", (), {"__module__": "first_module"}))
    registry.register("famo")(type("Famo", (), {"__module__": "first_module"}))  # a re-import
    with pytest.raises(DuplicateComponentError, match="by first_module and by second_module"):
        registry.register("famo")(type("Famo", (), {"__module__": "second_module"}))


def test_a_component_name_that_cannot_name_files_is_refused_at_registration():
    registry: Registry = Registry("world", "data.world", WorldSpec)
    with pytest.raises(ValueError, match=r"world name='\.\./up' cannot name files"):
        registry.register("../up")


def test_a_misspelt_declaration_fails_where_it_is_written_naming_what_the_kind_declares():
    registry: Registry = Registry("regime", "regime.name", RegimeSpec)
    with pytest.raises(
        ValueError,
        match=r"regime 'mine' declares one_trunck, which a regime "
        r"does not have; a regime declares: arm, arm_keys, .*one_trunk",
    ):
        registry.register("mine", one_trunck=True)
    declared = registry.register("mine", one_trunk=True)(type("Run", (), {}))
    assert registry.get("mine").spec == RegimeSpec(one_trunk=True) and declared.__name__ == "Run"


def test_an_unregistered_name_lists_the_registered_ones():
    with pytest.raises(ConfigError, match=r"registered: .*equal.*pcgrad"):
        WEIGHTINGS.get("gradmagic")


def test_configs_ls_lists_experiments_and_components_and_cp_copies_one(tmp_path, capsys):
    list_configs()
    listing = capsys.readouterr().out
    assert "driving_mtl_vs_stl" in listing and "registered loss weightings" in listing
    assert "period=50  (> 0, defines an arm)  steps per window" in listing  # from the declaration
    target = copy_config("driving_mtl_vs_stl", tmp_path / "mine")
    assert target == tmp_path / "mine" / "experiment" / "driving_mtl_vs_stl.yaml"
    assert "name: driving_mtl_vs_stl" in target.read_text()
    with pytest.raises(SystemExit, match="exists; give another path or --force"):
        copy_config("driving_mtl_vs_stl", tmp_path / "mine")
    with pytest.raises(SystemExit, match="is not a packaged config; choose one of"):
        copy_config("nope", tmp_path / "mine")
