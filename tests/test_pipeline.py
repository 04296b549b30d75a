"""End-to-end vs staged: composition on predicted z, crops at the border, cached stages, and
the per-stage metrics each arm records."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tasklab.config_checks import ConfigError
from tasklab.data import face_id
from tasklab.data.batches import render_stream
from tasklab.data.bone_age import BoneAgeWorld
from tasklab.data.building import build_world, selected_tasks, task_budgets
from tasklab.data.counter_rng import SampleRandomness
from tasklab.data.crops import crop_at
from tasklab.data.datamodule import WorldDataModule
from tasklab.data.face_id import FaceIdWorld
from tasklab.data.label_masks import TaskBudget
from tasklab.data.tasks import TaskSpec
from tasklab.data.world import TEST_STREAM, StagedWorld, as_model_input
from tasklab.data.z_encoding import z_from_labels, z_from_outputs
from tasklab.fit.fitting import RunContext
from tasklab.models.composed import ComposedNet
from tasklab.regimes import pipeline
from tasklab.runner import train

from .conftest import TINY

STAGES_TINY = [
    "regime=pipeline",
    "regime.n_stage1=64",
    "regime.n_stage2=64",
    "regime.stage1_steps=3",
    "regime.stage2_steps=3",
    "logger=none",
]


def pipeline_cfg(make_cfg, tmp_path: Path, world: str, arm: str, *extra: str):
    cfg = make_cfg(*TINY, *STAGES_TINY, f"data={world}", f"regime.arm={arm}", *extra)
    cfg.regime.cache_dir = str(tmp_path / "cache")
    return cfg


def run_arm(cfg, tmp_path: Path):
    world = build_world(cfg.data)
    ctx = RunContext(cfg, world, task_budgets(cfg.data), tmp_path, "test")
    return world, pipeline.run(ctx)


class _FixedZ(torch.nn.Module):
    """A stage 1 that predicts z from the image's mean, so its output is known by hand."""

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))
        return {"a": m, "b": 1 - m}


class _Affine(torch.nn.Module):
    def forward(self, v):
        return {"y": 2 * v[:, 0] - 3 * v[:, 1] + 0.5}


def test_composed_prediction_is_stage2_applied_to_stage1_output():
    x = torch.rand(5, 1, 4, 4)
    specs = [TaskSpec("a", "regression"), TaskSpec("b", "regression")]
    net = ComposedNet(_FixedZ(), _Affine(), lambda x, z: z, specs, "y")
    out = net(x)
    m = x.mean(dim=(1, 2, 3))
    torch.testing.assert_close(out["y"], 2 * m - 3 * (1 - m) + 0.5)
    torch.testing.assert_close(out["a"], m)


def test_stage2_reads_the_kind_of_z_it_was_trained_on():
    """A binary z trains stage 2 on 0/1 and is composed with stage 1's probability; a class z
    on one-hot columns and the softmax probabilities (never a raw logit)."""
    specs = [TaskSpec("b", "binary"), TaskSpec("c", "multiclass", num_classes=3)]
    truth = z_from_labels(specs, torch.tensor([[1.0, 2.0], [0.0, 0.0]]))
    torch.testing.assert_close(truth, torch.tensor([[1.0, 0, 0, 1], [0.0, 1, 0, 0]]))
    logits = {"b": torch.tensor([0.0, 20.0]), "c": torch.tensor([[0.0, 0, 0], [0, 30, 0]])}
    predicted = z_from_outputs(specs, logits)
    expected = torch.tensor([[0.5, 1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 1.0, 0.0]])
    torch.testing.assert_close(predicted, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("world_name", ["bone_age", "face_id", "steering"])
def test_staged_arm_composes_on_predicted_z_and_oracle_on_true_z(make_cfg, tmp_path, world_name):
    cfg = pipeline_cfg(make_cfg, tmp_path, world_name, "staged", "data.n_test=64")
    world, fits = run_arm(cfg, tmp_path)
    stage1, stage2, composed = fits
    assert [f.name for f in fits] == ["x_to_z", "z_to_y", "composed"]
    x, labels = render_stream(world, TEST_STREAM, torch.arange(64))
    x = as_model_input(x)
    names = world.task_names
    z_true = labels[:, [names.index(t) for t in world.intermediate_tasks]]
    y_true = labels[:, names.index(world.target_task)]
    with torch.no_grad():
        stage1.net.eval(), stage2.net.eval()
        heads = stage1.net(x)
        z_hat = torch.stack([heads[t] for t in world.intermediate_tasks], dim=1)
        by_hand = stage2.net(world.stage2_input(x, z_hat))[world.target_task]
        oracle = stage2.net(world.stage2_input(x, z_true))[world.target_task]
    assert not torch.allclose(z_hat, z_true)  # a 3-step stage 1 is far from exact
    key = "accuracy" if world_name == "face_id" else "mae"

    def score(pred):
        if key == "mae":
            return (pred - y_true).abs().mean().item()
        return (pred.argmax(dim=1) == y_true.long()).float().mean().item()

    target = world.target_task
    assert composed.metrics[f"test/{target}/{key}"] == pytest.approx(score(by_hand), abs=1e-5)
    assert stage2.metrics[f"z_to_y/test/{target}/{key}"] == pytest.approx(score(oracle), abs=1e-5)
    if key == "mae":  # a regression output always moves with its input
        assert score(by_hand) != pytest.approx(score(oracle), abs=1e-6)

    oracle_cfg = pipeline_cfg(make_cfg, tmp_path, world_name, "oracle_z", "data.n_test=64")
    _, (oracle_fit,) = run_arm(oracle_cfg, tmp_path)
    assert oracle_fit.metrics[f"test/{target}/{key}"] == pytest.approx(score(oracle), abs=1e-5)
    assert oracle_fit.notes["cache"]["hit"]  # the staged arm trained that stage 2


def test_crop_stays_inside_the_image_at_the_border():
    images = torch.arange(2 * 20 * 20, dtype=torch.float32).view(2, 1, 20, 20)
    centres = torch.tensor([[0.0, 1.0], [1.3, -0.2]])  # corners, one beyond the image
    crops = crop_at(images, centres, 6)
    torch.testing.assert_close(crops[0], images[0, :, 0:6, 14:20])
    torch.testing.assert_close(crops[1], images[1, :, 14:20, 0:6])
    inside = torch.tensor([[0.41, 0.57]], requires_grad=True)
    crop_at(images[:1], inside, 6).sum().backward()
    assert inside.grad is not None and inside.grad.abs().sum() > 0  # fine-tuning reaches z


def test_face_crop_at_true_location_holds_the_face():
    world = FaceIdWorld(n_clutter=0, noise_std=0.0)
    x, labels = world.render(TEST_STREAM, torch.arange(32))
    x = as_model_input(x)
    crops = world.stage2_input(x, labels[:, :2])
    mirrored = torch.stack([labels[:, 0], 1 - labels[:, 1]], dim=1)  # beside the face and shirt
    away = world.stage2_input(x, mirrored)
    far = (labels[:, 1] - 0.5).abs() > 0.2
    # the face (dark eyes and mouth on skin) has far more contrast than empty background
    holds_face = crops.std(dim=(1, 2, 3)) > 2 * away.std(dim=(1, 2, 3))
    assert far.sum() > 8 and holds_face[far].all()


@pytest.mark.parametrize("crop_size", [16, 24])
def test_face_crop_never_sees_the_shirt(crop_size):
    # body_cue only changes the shirt, so crops at the true location must be identical with and
    # without it, at the border too, while the scenes themselves differ
    dressed = FaceIdWorld(crop_size=crop_size)
    alike = FaceIdWorld(crop_size=crop_size, body_cue=0.0)
    x1, labels = dressed.render(TEST_STREAM, torch.arange(256))
    x0, labels0 = alike.render(TEST_STREAM, torch.arange(256))
    torch.testing.assert_close(labels, labels0)
    assert (x1 != x0).flatten(1).any(dim=1).float().mean() > 0.9
    z = labels[:, :2]
    crop1 = dressed.stage2_input(as_model_input(x1), z)
    torch.testing.assert_close(crop1, alike.stage2_input(as_model_input(x0), z), atol=0, rtol=0)
    assert (z[:, 0] < crop_size / 96).any()  # some windows were moved down at the top border


def test_neck_has_this_appearances_skin_tone():
    # a neck in the identity's own tone would show, inside the crop, what the jitter hides
    world = FaceIdWorld(n_clutter=0, noise_std=0.0)
    index = torch.arange(64)
    x, labels = world.render(TEST_STREAM, index)
    k = list(face_id._TRAITS).index("skin")
    lo, hi = face_id._TRAITS["skin"]
    normal = SampleRandomness(world.seed, TEST_STREAM, index).normal(face_id._F_JITTER, k)
    base = world.traits(labels[:, 2])["skin"]
    skin = (base + world.identity_jitter * (hi - lo) * normal.clamp(-3, 3)).clamp(lo, hi)
    rows = (world.shirt_top(labels[:, 0]) * 48).floor().long() - 1  # just above the shirt
    cols = (labels[:, 1] * 48).long()
    neck = x[index, 0, rows, cols].float() / 255
    torch.testing.assert_close(neck, skin, atol=1 / 255, rtol=0)
    assert ((neck - base).abs() > 3 / 255).float().mean() > 0.5


def test_shirts_tell_identities_apart_only_with_body_cue():
    world = FaceIdWorld()
    tones, stripes = world.shirt(torch.arange(10))
    assert tones.unique().numel() == 10 and stripes.unique().numel() > 1
    x, labels = FaceIdWorld(body_cue=0.0, n_clutter=0, noise_std=0.0).render(
        TEST_STREAM, torch.arange(64)
    )
    rows = (FaceIdWorld().shirt_top(labels[:, 0]) * 48 + 3).long()
    cols = (labels[:, 1] * 48).long()
    shirt_pixels = x[torch.arange(64), 0, rows, cols].float() / 255
    torch.testing.assert_close(shirt_pixels, torch.full((64,), 0.6), atol=1 / 255, rtol=0)


def test_bone_lengths_are_the_drawn_shafts():
    world = BoneAgeWorld(noise_std=0.0, plate_gap=0.0)
    x, labels = world.render(TEST_STREAM, torch.arange(16))
    column = (torch.tensor([0.26, 0.42, 0.58, 0.74]) * 32).long()
    bright = as_model_input(x)[:, 0][:, :, column]  # (B, H, 4) intensities down each bone
    span = (bright > 0.5).float().sum(dim=1) / 32  # shaft plus the cap above it
    torch.testing.assert_close(span - 0.04, labels[:, :4], atol=2.5 / 32, rtol=0)
    ages = labels[:, 4]
    assert ((ages >= 1) & (ages <= 18)).all()


@pytest.mark.parametrize("world", ["bone_age", "face_id", "steering"])
def test_worlds_are_pure_functions_of_the_index(world, make_cfg):
    w = build_world(make_cfg(f"data={world}").data)
    assert isinstance(w, StagedWorld)
    a = w.render(1000, torch.tensor([5, 7, 9]))
    b = w.render(1000, torch.tensor([9, 7]))
    assert torch.equal(a[0][1:].flip(0), b[0]) and torch.equal(a[1][1:].flip(0), b[1])


def test_stages_are_trained_once_across_end_to_end_sizes(make_cfg, tmp_path):
    first = train(pipeline_cfg(make_cfg, tmp_path, "bone_age", "staged"), tmp_path / "a")
    second = train(
        pipeline_cfg(make_cfg, tmp_path, "bone_age", "staged", "data.n_train=32"), tmp_path / "b"
    )
    assert [f["cache"]["hit"] for f in first.fits[:2]] == [False, False]
    assert [f["cache"]["hit"] for f in second.fits[:2]] == [True, True]
    for key in ("x_to_z/test/mean/mae", "z_to_y/test/mean/mae", "test/age/mae"):
        assert first.metrics[key] == second.metrics[key]  # n_train does not touch the stages


@pytest.mark.parametrize(
    ("arm", "prefixes"),
    [
        ("end_to_end", set()),
        ("staged", {"x_to_z", "z_to_y"}),
        ("hybrid", {"x_to_z"}),
        ("staged_finetune", {"x_to_z"}),
        ("oracle_z", {"z_to_y"}),
    ],
)
def test_records_carry_each_stage_and_the_composed_pipeline(make_cfg, tmp_path, arm, prefixes):
    result = train(pipeline_cfg(make_cfg, tmp_path, "face_id", arm), tmp_path)
    assert result.status == "ok"
    assert result.arm == ("oracle_z (upper bound)" if arm == "oracle_z" else arm)
    assert 0 <= result.metrics["test/identity/accuracy"] <= 1
    assert result.metrics["test/mean/accuracy"] == result.metrics["test/identity/accuracy"]
    stage_keys = {k.split("/")[0] for k in result.metrics if k.count("/") == 3}
    assert stage_keys == prefixes
    if "x_to_z" in prefixes:
        assert set(result.metrics) >= {"x_to_z/test/face_row/mae", "x_to_z/test/mean/mae"}
    if arm == "staged_finetune":
        steps = {f["name"]: f["steps"] for f in result.fits}
        assert steps == {"x_to_z": 3, "z_to_y": 3, "staged_finetune": 2}
        labelled = {f["name"]: f["n_labelled"] for f in result.fits}
        assert labelled["staged_finetune"] == {"face_row": 0, "face_col": 0, "identity": 64}
        assert labelled["x_to_z"] == {"face_row": 64, "face_col": 64}
        assert result.data["n_labelled"] == {"face_row": 64, "face_col": 64, "identity": 64}
        assert "z_to_y/test/mean/accuracy" in result.fits[-1]["before_finetune_z_to_y"]
    per_fit = result.params["per_fit"]
    expected = {
        "end_to_end": per_fit.get("end_to_end"),
        "hybrid": per_fit.get("hybrid"),
        "oracle_z": per_fit.get("z_to_y"),
        "staged": (per_fit.get("x_to_z") or 0) + (per_fit.get("z_to_y") or 0),
        "staged_finetune": per_fit.get("staged_finetune"),
    }[arm]
    assert result.params["total"] == expected


def test_hybrid_learns_z_from_the_z_labelled_inputs(make_cfg, tmp_path):
    cfg = pipeline_cfg(make_cfg, tmp_path, "bone_age", "hybrid", "data.n_train=16")
    result = train(cfg, tmp_path)
    assert result.data["n_labelled"] == {
        "bone_0": 64,
        "bone_1": 64,
        "bone_2": 64,
        "bone_3": 64,
        "age": 16,
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["regime.arm=staged"],
            "regime.arm=staged needs a world with an intermediate z, and "
            "data.world=driving declares none; use data=bone_age, face_id or steering",
        ),
        (
            ["data=bone_age", "regime.arm=pipelined"],
            "regime.arm='pipelined' is unknown; "
            "allowed: end_to_end, staged, hybrid, staged_finetune, oracle_z",
        ),
        (["data=bone_age", "regime.n_stage1=-5"], "regime.n_stage1=-5 is out of range"),
        (["data=face_id", "regime.n_stage2=0"], "regime.n_stage2=0 is out of range"),
        (["data=face_id", "data.n_train=-100"], "data.n_train=-100 is out of range"),
        (["data=bone_age", "data.tasks=[bone_0]"], "data.tasks=['bone_0'] must be [age]"),
        (
            ["data=bone_age", "regime.stage2_model.backbone=cnn"],
            "regime.stage2_model.backbone=cnn needs images",
        ),
        (["data=face_id", "data.face_id.crop_size=99"], "data.face_id.crop_size=99 must be in"),
        (["data=face_id", "data.face_id.body_cue=2"], "data.face_id.body_cue=2.0 is out of range"),
        (["data=bone_age", "regime.pair_share=1.5"], "pair_share=1.5 is out of range; use 0 to 1"),
        (["data=bone_age", "data.bone_age.age_min=20"], "data.bone_age.age_min=20.0, age_max"),
    ],
)
def test_bad_pipeline_input_is_one_line_naming_the_field(make_cfg, tmp_path, overrides, expected):
    cfg = make_cfg(*TINY, "regime=pipeline", "logger=none", *overrides)
    with pytest.raises(ConfigError) as info:
        train(cfg, output_dir=tmp_path)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_end_to_end_runs_on_any_world(make_cfg, tmp_path):
    # x -> y needs no z: the end_to_end arm is the plain fit on a world without one
    cfg = make_cfg(*TINY, "regime=pipeline", "logger=none", "data.tasks=[car]")
    result = train(cfg, tmp_path)
    assert result.status == "ok" and result.arm == "end_to_end"
    assert 0 <= result.metrics["test/car/auroc"] <= 1


def test_hybrid_batches_hold_a_fixed_share_of_pairs():
    world = BoneAgeWorld()
    tasks = selected_tasks(world, ["bone_0", "age"])
    budgets = {"bone_0": TaskBudget(200), "age": TaskBudget(20)}
    dm = WorldDataModule(
        world, tasks, budgets, seed=0, batch_size=16, train_batches=10, focus=(("age",), 0.5)
    )
    dm.setup()
    batches = list(dm.train_dataloader())
    assert len(batches) == 10
    assert all(int(b["mask"][:, 1].sum()) == 8 for b in batches)  # 8 pairs in every batch
    ages = torch.cat([b["y"][b["mask"][:, 1], 1] for b in batches])
    # 80 pair rows = 4 full passes over the 20 pairs: each seen exactly 4 times
    _, counts = torch.unique(ages, return_counts=True)
    assert len(counts) == 20 and (counts == 4).all()
    again = list(dm.train_dataloader())
    assert all(torch.equal(a["x"], b["x"]) for a, b in zip(batches, again, strict=True))
