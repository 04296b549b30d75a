"""Transfer A → B: the hand-off, freezing, the stage-1 cache and identical target subsets."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tasklab.config_checks import ConfigError
from tasklab.data.building import build_world, task_budgets
from tasklab.data.datamodule import WorldDataModule
from tasklab.data.driving import DrivingWorld
from tasklab.data.label_masks import TaskBudget
from tasklab.data.shuffled_labels import ShuffledLabels
from tasklab.data.tasks import TaskSpec
from tasklab.data.world import train_stream
from tasklab.fit.fitting import FitOutcome, RunContext
from tasklab.models.backbones import TrunkShape, trunk_blocks
from tasklab.models.handoff import TrunkMismatchError, load_trunk, trunk_state
from tasklab.models.multihead import build_net
from tasklab.regimes import transfer
from tasklab.runner import train
from tasklab.runs.ids import TRAINING_VERSION
from tasklab.stage_cache import cache_key, load_or_build

from .conftest import TINY

SOURCE = [TaskSpec(n) for n in ("pedestrian", "car", "stop_sign", "traffic_light")]
TARGET = [TaskSpec("ped_left_of_car")]
GRID = TrunkShape(width=4, depth=3, pool="grid", fc_width=8)


def transfer_overrides(cache: Path, *extra: str) -> list[str]:
    return [
        *TINY,
        "logger=none",
        "regime=transfer",
        "data.tasks=[ped_left_of_car]",
        "model.pool=grid",
        "model.fc_width=8",
        "regime.n_source=128",
        "regime.source_min_steps=3",
        f"regime.cache_dir={cache}",
        *extra,
    ]


def run_transfer(cfg, out: Path) -> FitOutcome:
    world = build_world(cfg.data)
    transfer.check(cfg, world)
    ctx = RunContext(
        cfg=cfg, world=world, budgets=task_budgets(cfg.data), output_dir=out, group="t"
    )
    (fit,) = transfer.run(ctx)
    return fit


def test_handoff_copies_the_trunk_and_never_a_head():
    torch.manual_seed(0)
    source = build_net("cnn", (3, 32, 32), GRID, SOURCE)
    torch.manual_seed(1)
    target = build_net("cnn", (3, 32, 32), GRID, TARGET)
    head_before = {k: v.clone() for k, v in target.heads.state_dict().items()}
    report = load_trunk(target, trunk_state(source))
    assert report.missing == [] and report.unexpected == []
    for key, value in source.trunk.state_dict().items():
        assert torch.equal(target.trunk.state_dict()[key], value), key
    for key, value in target.heads.state_dict().items():
        assert torch.equal(value, head_before[key]), key
    assert all(not k.startswith("heads") for k in trunk_state(source))


def test_handoff_reports_missing_and_unexpected_keys():
    state = trunk_state(build_net("cnn", (3, 32, 32), GRID, SOURCE))
    dropped = "0.1.running_mean"
    del state[dropped]
    state["9.extra"] = torch.zeros(1)
    report = load_trunk(build_net("cnn", (3, 32, 32), GRID, TARGET), state)
    assert report.missing == [dropped] and report.unexpected == ["9.extra"]


def test_handoff_fails_loudly_on_a_shape_mismatch():
    wider = TrunkShape(width=8, depth=3, pool="grid", fc_width=8)
    state = trunk_state(build_net("cnn", (3, 32, 32), wider, SOURCE))
    with pytest.raises(TrunkMismatchError, match=r"0\.0\.weight \(8, 3, 3, 3\) vs \(4, 3, 3, 3\)"):
        load_trunk(build_net("cnn", (3, 32, 32), GRID, TARGET), state)


@pytest.mark.parametrize(
    ("mode", "frozen_blocks", "n_fixed"),
    [("linear_probe", 0, 4), ("partial", 2, 2), ("full", 0, 0)],
)
def test_frozen_blocks_stay_unchanged_across_a_fit(
    make_cfg, tmp_path, mode, frozen_blocks, n_fixed
):
    cfg = make_cfg(
        *transfer_overrides(tmp_path / "cache"),
        f"regime.mode={mode}",
        f"regime.frozen_blocks={frozen_blocks}",
        "trainer.val_every_n_steps=1",  # Lightning resets train mode after each validation
    )
    fit = run_transfer(cfg, tmp_path)
    cached = torch.load(Path(fit.notes["stage1"]["path"]) / "trunk.pt", weights_only=True)
    assert fit.net is not None and fit.steps == cfg.trainer.max_steps
    blocks = trunk_blocks(fit.net.trunk)
    assert len(blocks) == 4  # three conv blocks and the fc block (pooling has no weights)
    names = [name for name, child in fit.net.trunk.named_children() if child in blocks]
    state = fit.net.trunk.state_dict()
    for position, name in enumerate(names):
        keys = [k for k in state if k.startswith(f"{name}.")]
        unchanged = all(torch.equal(state[k], cached[k]) for k in keys)
        assert unchanged == (position < n_fixed), (mode, name)


def test_cache_hits_on_an_identical_stage1(make_cfg, tmp_path):
    overrides = transfer_overrides(tmp_path / "cache")
    first = run_transfer(make_cfg(*overrides), tmp_path)
    second = run_transfer(
        make_cfg(*overrides, "data.n_train=32", "regime.mode=linear_probe"), tmp_path
    )
    assert first.notes["stage1"]["cache_hit"] is False
    assert second.notes["stage1"]["cache_hit"] is True
    assert first.notes["stage1"]["key"] == second.notes["stage1"]["key"]
    entry = Path(first.notes["stage1"]["path"])
    saved = json.loads((entry / "config.json").read_text())
    assert saved["fields"]["n_source"] == 128
    assert saved["resolved_config"]["regime"]["n_source"] == 128
    assert saved["stage1"]["steps"] == 8  # one pass over 128 examples in batches of 16
    # the source tasks' predictions are kept with the trunk: a reuse files the same ones
    assert (entry / "predictions.npz").exists()
    for split in ("source/val", "source/test"):
        built, reused = first.predictions[split], second.predictions[split]
        assert sorted(built) == sorted(t.name for t in SOURCE) == sorted(reused)
        for task, p in built.items():
            assert np.array_equal(p.index, reused[task].index)
            assert np.array_equal(p.output, reused[task].output)
    assert sorted(p.name for p in entry.parent.iterdir() if not p.name.endswith(".lock")) == [
        entry.name
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "change",
    [
        "regime.n_source=256",
        "seed=1",
        "model.width=8",
        "model.fc_width=16",
        "optim.lr=0.01",
        "regime.source=control",
        "regime.source_tasks=[car]",
        "regime.source_min_steps=20",
        "data.batch_size=32",
        "data.world_seed=3",
        "data.driving.noise_std=0.2",
        "+regime.source_data.driving.n_clutter=0",
        "trainer.precision=bf16-mixed",
    ],
)
def test_cache_key_changes_with_every_determining_field(make_cfg, tmp_path, change):
    base = transfer.stage1_fields(make_cfg(*transfer_overrides(tmp_path)))
    changed = transfer.stage1_fields(make_cfg(*transfer_overrides(tmp_path), change))
    assert cache_key(changed) != cache_key(base)


@pytest.mark.parametrize(
    "change",
    ["data.n_train=16", "regime.mode=linear_probe", "regime.trunk_lr_scale=0.1", "data.n_val=8"],
)
def test_cache_key_ignores_what_only_stage2_uses(make_cfg, tmp_path, change):
    base = transfer.stage1_fields(make_cfg(*transfer_overrides(tmp_path)))
    same = transfer.stage1_fields(make_cfg(*transfer_overrides(tmp_path), change))
    assert cache_key(same) == cache_key(base)


def test_cache_key_includes_the_training_version(make_cfg, tmp_path):
    fields = transfer.stage1_fields(make_cfg(*transfer_overrides(tmp_path)))
    assert fields["version"] == TRAINING_VERSION
    assert cache_key({**fields, "version": TRAINING_VERSION + 1}) != cache_key(fields)


def test_concurrent_builders_pretrain_once(tmp_path):
    calls: list[int] = []

    def build():
        calls.append(1)
        time.sleep(0.3)
        return {"w": torch.arange(4.0)}, {"steps": 1}, {}

    results = []

    def worker():
        results.append(load_or_build(tmp_path, {"a": 1}, build))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert sorted(r.hit for r in results) == [False, True, True, True]
    assert all(torch.equal(r.state["w"], torch.arange(4.0)) for r in results)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_failed_build_leaves_no_entry(tmp_path):
    def build():
        raise RuntimeError("stage 1 diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        load_or_build(tmp_path, {"a": 1}, build)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_a_damaged_entry_is_set_aside_with_one_warning_and_rebuilt(tmp_path, capsys):
    entry = load_or_build(tmp_path, {"a": 1}, lambda: ({"w": torch.ones(2)}, {}, {})).path
    (entry / "trunk.pt").write_bytes(b"truncated")
    rebuilt = load_or_build(tmp_path, {"a": 1}, lambda: ({"w": torch.full((2,), 3.0)}, {}, {}))
    assert not rebuilt.hit and torch.equal(rebuilt.state["w"], torch.full((2,), 3.0))
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("tasklab-train: warning: stage cache")
    assert "unreadable" in warning[0] and "rebuilding it" in warning[0]
    assert len(list(tmp_path.glob(".*.damaged.*"))) == 1  # kept aside, not deleted
    again = load_or_build(tmp_path, {"a": 1}, lambda: ({"w": torch.zeros(2)}, {}, {}))
    assert again.hit and torch.equal(again.state["w"], torch.full((2,), 3.0))


def test_a_staging_folder_left_by_a_kill_is_removed_by_the_next_build(tmp_path):
    key = cache_key({"a": 1})
    (tmp_path / f".{key}.12345.abcdef12.tmp").mkdir(parents=True)
    load_or_build(tmp_path, {"a": 1}, lambda: ({"w": torch.ones(2)}, {}, {}))
    assert not list(tmp_path.glob("*.tmp"))


def test_scratch_and_transfer_arms_see_identical_target_subsets(make_cfg, tmp_path):
    base = transfer_overrides(tmp_path / "cache", "data.label_rate=0.5")
    scratch = run_transfer(make_cfg(*base, "regime.n_source=0"), tmp_path)
    tuned = run_transfer(make_cfg(*base), tmp_path)
    assert scratch.notes["arm"] == "scratch" and tuned.notes["arm"] == "transfer"
    assert scratch.train_digest == tuned.train_digest
    assert scratch.n_labelled == tuned.n_labelled
    assert scratch.steps == tuned.steps
    entries = [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    assert [p.name for p in entries] == [tuned.notes["stage1"]["key"]]  # scratch cached nothing


def test_control_source_keeps_pixels_and_breaks_the_label_link():
    world = DrivingWorld(seed=0)
    control = ShuffledLabels(world, seed=0)
    stream, index = train_stream(0), torch.arange(4000)
    x, _ = world.render(stream, index[:64])
    x_control, y_control = control.render(stream, index[:64])
    assert torch.equal(x, x_control)
    donor_labels = world.labels(stream, control.donor(stream, index))
    assert torch.equal(y_control, donor_labels[:64])
    real = world.labels(stream, index)[:, :4]
    assert torch.allclose(donor_labels[:, :4].mean(0), real.mean(0), atol=0.03)
    corr = torch.corrcoef(torch.cat([real, donor_labels[:, :4]], dim=1).T)[:4, 4:]
    assert corr.abs().max() < 0.06


def test_source_steps_follow_epochs_and_bounds(make_cfg, tmp_path):
    cfg = make_cfg(*transfer_overrides(tmp_path), "regime.n_source=1000000", "data.batch_size=128")
    regime = cfg.regime
    assert transfer.source_steps(regime, 128) == 7813  # one pass over 1,000,000 examples
    regime.source_max_steps = 5000
    assert transfer.source_steps(regime, 128) == 5000
    regime.n_source, regime.source_min_steps = 1000, 500
    assert transfer.source_steps(regime, 128) == 500


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("regime.n_source=-1", "n_source=-1 is out of range; use 0 to 10,000,000 (0: scratch)"),
        ("data.n_train=-5", "data.n_train=-5 is out of range"),
        ("regime.mode=finetune", "regime.mode='finetune' is unknown; allowed: full, linear_probe"),
        ("regime.source=random", "regime.source='random' is unknown; allowed: related, control"),
        ("regime.frozen_blocks=6", "regime.frozen_blocks=6 is out of range for mode=partial"),
        ("+regime.source_data.driving.image_size=16", "source inputs of shape (3, 16, 16)"),
        ("regime.source_tasks=[bus]", "regime.source_tasks='bus' is unknown"),
        ("regime.trunk_lr_scale=0", "regime.trunk_lr_scale=0.0 must be > 0"),
    ],
)
def test_bad_transfer_settings_fail_before_training(make_cfg, tmp_path, override, expected):
    extra = ["regime.mode=partial", override] if "frozen_blocks" in override else [override]
    cfg = make_cfg(*transfer_overrides(tmp_path / "cache"), *extra)
    with pytest.raises(ConfigError) as info:
        train(cfg, output_dir=tmp_path)
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "cache").exists()  # nothing pre-trained


def test_joint_mode_trains_source_and_target_together_with_both_stages_labels(make_cfg, tmp_path):
    base = transfer_overrides(tmp_path / "cache", "data.label_rate=0.5")
    scratch = run_transfer(make_cfg(*base, "regime.n_source=0"), tmp_path)
    tuned = run_transfer(make_cfg(*base), tmp_path)
    cfg = make_cfg(*base, "regime.mode=joint")
    joint = run_transfer(cfg, tmp_path)
    assert joint.tasks == [*cfg.regime.source_tasks, "ped_left_of_car"]
    # the target's labels are those of the scratch and fine-tuned fits; each source task has
    # the labels stage 1 trained on
    assert joint.n_labelled["ped_left_of_car"] == scratch.n_labelled["ped_left_of_car"]
    stage1 = tuned.notes["stage1"]["n_labelled"]
    assert {t: joint.n_labelled[t] for t in stage1} == stage1
    assert joint.steps == transfer.source_steps(cfg.regime, 16) + cfg.trainer.max_steps
    assert not (tmp_path / "cache" / "joint").exists()
    # the record's plain metrics are the target's; the source tasks' carry the source/ prefix
    plain = {k.split("/")[1] for k in joint.metrics if k.count("/") == 2}
    assert plain == {"ped_left_of_car"}
    assert set(joint.predictions["test"]) == {"ped_left_of_car"}
    assert "source/test/car/auroc" in joint.metrics
    means = [joint.metrics[f"source/test/{t}/auroc"] for t in cfg.regime.source_tasks]
    assert joint.metrics["source/test/mean/auroc"] == pytest.approx(sum(means) / len(means))
    # a fine-tuned record carries its stage 1's source metrics under the same keys
    assert (
        tuned.metrics["source/test/car/auroc"] == tuned.notes["stage1"]["metrics"]["test/car/auroc"]
    )
    assert "source/test/car/auroc" not in scratch.metrics


@pytest.mark.slow
def test_joint_target_share_fills_each_batch_with_target_rows(make_cfg):
    cfg = make_cfg(*TINY, "data.n_train=512", "data.tasks=[pedestrian,car]")
    world = build_world(cfg.data)
    tasks = [TaskSpec("pedestrian"), TaskSpec("car")]
    budgets = {"pedestrian": TaskBudget(n_train=512), "car": TaskBudget(n_train=16)}
    for share, expected in ((None, None), (0.5, 8)):
        module = WorldDataModule(
            world,
            tasks,
            budgets,
            seed=0,
            batch_size=16,
            train_batches=6,
            focus=None if share is None else (("car",), share),
        )
        module.setup()
        counts = [int(b["mask"][:, 1].sum()) for b in module.train_dataloader()]
        if expected is None:
            assert sum(counts) < 6 * 4  # in proportion: 16 of 512 rows
        else:
            assert counts == [expected] * 6


def test_joint_arm_names_and_keys(make_cfg, tmp_path):
    cfg = make_cfg(*transfer_overrides(tmp_path), "regime.mode=joint")
    assert transfer.arm(cfg) == "related/joint n_source=128"
    assert transfer.arm_keys(cfg)[-1] == "regime.target_share"
    cfg.regime.target_share = 0.5
    assert transfer.arm(cfg) == "related/joint(target_share=0.5) n_source=128"
    cfg.regime.mode = "full"  # other modes ignore the share: one arm whatever it is
    assert "regime.target_share" not in transfer.arm_keys(cfg)
    assert transfer.arm(cfg) == "related/full n_source=128"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("regime.source=control", "regime.source=control cannot be trained jointly"),
        ("+regime.source_data.driving.noise_std=0.4", "drop regime.source_data or use mode"),
        ("regime.source_tasks=[car,ped_left_of_car]", "both name ped_left_of_car; mode=joint"),
        ("regime.target_share=1.5", "regime.target_share=1.5 is out of range"),
    ],
)
def test_bad_joint_settings_fail_before_training(make_cfg, tmp_path, override, expected):
    cfg = make_cfg(*transfer_overrides(tmp_path / "cache"), "regime.mode=joint", override)
    with pytest.raises(ConfigError) as info:
        train(cfg, output_dir=tmp_path)
    assert expected in str(info.value) and "\n" not in str(info.value)
