"""Starting from a checkpoint: model.weights for any regime, transfer from a checkpoint
(scratch / linear probe / fine-tune / partial), key prefixes, and mismatches in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tasklab.config_checks import ConfigError
from tasklab.data.building import build_world
from tasklab.fit.fitting import trunk_shape
from tasklab.models.checkpoint_weights import CheckpointError, mapped, read_state
from tasklab.models.multihead import build_net
from tasklab.regimes.transfer import arm, arm_keys
from tasklab.runner import TRUNK_FILE, train
from tasklab.runs.ids import config_key

from .conftest import TINY

RUN = [*TINY, "logger=none", "data.tasks=[car]", "data.n_train=48"]


def _saved_trunk(make_cfg, tmp_path: Path) -> Path:
    """A trunk trained on the driving world's pedestrian task and saved by the run."""
    cfg = make_cfg(*RUN, "data.tasks=[pedestrian]", "trainer.save_trunk=true",
                   "trainer.max_steps=4")  # fmt: skip
    result = train(cfg, output_dir=tmp_path / "pretrain")
    assert result.fits[-1]["trunk_file"] == TRUNK_FILE
    return tmp_path / "pretrain" / TRUNK_FILE


@pytest.fixture
def checkpoint(make_cfg, tmp_path) -> Path:
    return _saved_trunk(make_cfg, tmp_path)


def _first_outputs(cfg) -> torch.Tensor:
    world = build_world(cfg.data)
    torch.manual_seed(0)
    net = build_net(cfg.model.backbone, world.input_shape, trunk_shape(cfg),
                    [world.task_specs["car"]])  # fmt: skip
    net.eval()
    x, _ = world.render(1, torch.arange(8))
    with torch.no_grad():
        return net(x.float() / 255)["car"]


def test_model_weights_start_the_trunk_from_the_file(make_cfg, checkpoint):
    scratch = make_cfg(*RUN)
    loaded = make_cfg(*RUN, f"model.weights={checkpoint}")
    assert not torch.allclose(_first_outputs(scratch), _first_outputs(loaded))
    world = build_world(loaded.data)
    net = build_net("cnn", world.input_shape, trunk_shape(loaded), [world.task_specs["car"]])
    saved = torch.load(checkpoint, weights_only=True)
    for key, value in net.trunk.state_dict().items():
        torch.testing.assert_close(value, saved[key])
    # the checkpoint's content is part of the run's identity: a changed file re-runs
    before = config_key(loaded)
    torch.save({k: v + 1 if v.is_floating_point() else v for k, v in saved.items()}, checkpoint)
    assert config_key(make_cfg(*RUN, f"model.weights={checkpoint}")) != before


def test_a_linear_probe_leaves_the_trunk_untouched(make_cfg, checkpoint, tmp_path):
    cfg = make_cfg(*RUN, "regime=transfer", "regime.source=checkpoint",
                   f"regime.checkpoint={checkpoint}", "regime.mode=linear_probe",
                   "trainer.save_trunk=true", "trainer.max_steps=5")  # fmt: skip
    result = train(cfg, output_dir=tmp_path / "probe")
    assert result.status == "ok" and result.arm == "checkpoint=trunk/linear_probe"
    before = torch.load(checkpoint, weights_only=True)
    after = torch.load(tmp_path / "probe" / TRUNK_FILE, weights_only=True)
    assert before.keys() == after.keys()
    for key in before:  # weights and batch-norm statistics alike
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)
    notes = result.fits[-1]
    assert notes["checkpoint"]["path"] == str(checkpoint) and notes["handoff"]["missing"] == []

    tuned = make_cfg(*RUN, "regime=transfer", "regime.source=checkpoint",
                     f"regime.checkpoint={checkpoint}", "regime.mode=full",
                     "trainer.save_trunk=true", "trainer.max_steps=5")  # fmt: skip
    train(tuned, output_dir=tmp_path / "full")
    changed = torch.load(tmp_path / "full" / TRUNK_FILE, weights_only=True)
    assert any(not torch.equal(changed[k], before[k]) for k in before)


def test_checkpoint_arms_are_scratch_and_one_per_mode(make_cfg, checkpoint):
    base = [*RUN, "regime=transfer", "regime.source=checkpoint", f"regime.checkpoint={checkpoint}"]
    assert arm(make_cfg(*base, "regime.mode=scratch")) == "scratch"
    assert arm_keys(make_cfg(*base, "regime.mode=scratch")) == []
    partial = make_cfg(*base, "regime.mode=partial", "regime.frozen_blocks=2")
    assert arm(partial) == "checkpoint=trunk/partial(k=2)"
    assert "regime.checkpoint" in arm_keys(partial) and "regime.n_source" not in arm_keys(partial)


def test_a_prefixed_checkpoint_needs_its_prefix_mapped(make_cfg, checkpoint, tmp_path):
    saved = torch.load(checkpoint, weights_only=True)
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in saved.items()}}, wrapped)
    with pytest.raises(CheckpointError, match=r"none of its \d+ keys is a key of the trunk"):
        _first_outputs(make_cfg(*RUN, f"model.weights={wrapped}"))
    fixed = make_cfg(*RUN, f"model.weights={wrapped}", "+model.weights_prefix={backbone.: ''}")
    plain = make_cfg(*RUN, f"model.weights={checkpoint}")
    torch.testing.assert_close(_first_outputs(fixed), _first_outputs(plain))
    assert mapped({"a.b": torch.zeros(1)}, {"a.": "c."}).keys() == {"c.b"}
    assert read_state(str(wrapped), "model.weights").keys() == {f"backbone.{k}" for k in saved}


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.width=8", r"shapes differ from the trunk's \(checkpoint vs trunk: 0\.0\.weight"),
        ("regime.checkpoint=missing.pt", r"regime.checkpoint=missing.pt: no such file"),
        ("regime.checkpoint=", r"regime.source=checkpoint needs regime.checkpoint"),
        ("regime.mode=joint", r"regime.mode=joint trains a source task"),
    ],
)
def test_a_checkpoint_that_does_not_fit_fails_before_training(
    make_cfg, checkpoint, tmp_path, override, expected
):
    cfg = make_cfg(*RUN, "regime=transfer", "regime.source=checkpoint",
                   f"regime.checkpoint={checkpoint}", override)  # fmt: skip
    with pytest.raises(ConfigError, match=expected) as info:
        train(cfg, output_dir=tmp_path / "bad")
    assert "\n" not in str(info.value)
    record = json.loads((tmp_path / "bad" / "result.json").read_text())
    assert record["status"] == "failed"


def test_a_file_that_is_not_a_state_dict_is_one_line(tmp_path):
    bad = tmp_path / "notes.pt"
    bad.write_text("hello")
    with pytest.raises(CheckpointError, match=r"notes.pt: cannot be read as a PyTorch state dict"):
        read_state(str(bad), "model.weights")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match=r"holds no tensors by name \(a list\)"):
        read_state(str(tmp_path / "list.pt"), "model.weights")


def test_save_trunk_refuses_a_run_without_one_trunk(make_cfg, tmp_path):
    cfg = make_cfg(*RUN, "regime=single_task", "data.tasks=[car,pedestrian]",
                   "trainer.save_trunk=true")  # fmt: skip
    with pytest.raises(ConfigError, match=r"save_trunk=true needs .* this one is regime=single"):
        train(cfg, output_dir=tmp_path / "single")
    record = json.loads((tmp_path / "single" / "result.json").read_text())
    assert record["fits"] == []  # refused before any training


def test_a_runs_own_lightning_checkpoint_starts_a_trunk(make_cfg, tmp_path):
    cfg = make_cfg(*RUN, "trainer.max_steps=4", "trainer.checkpoint_every_n_steps=2",
                   "trainer.keep_checkpoints=true")  # fmt: skip
    train(cfg, output_dir=tmp_path / "kept")
    (last,) = (tmp_path / "kept").rglob("last.ckpt")
    saved = torch.load(last, weights_only=True)["state_dict"]
    loaded = make_cfg(*RUN, f"model.weights={last}")
    world = build_world(loaded.data)
    net = build_net("cnn", world.input_shape, trunk_shape(loaded), [world.task_specs["car"]])
    for key, value in net.trunk.state_dict().items():
        torch.testing.assert_close(value, saved[f"net.trunk.{key}"])
