"""Every regime on a user's file: transfer from a task of the same file or from another file,
and a staged pipeline through the file's own intermediate targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tasklab.config_checks import ConfigError
from tasklab.data.building import build_world
from tasklab.data.shuffled_labels import ShuffledLabels
from tasklab.data.world import VAL_STREAM, train_stream
from tasklab.runner import train

from .conftest import TINY

RUN = [*TINY, "model=mlp", "logger=none", "data=files", "data.n_val=-1", "data.n_test=-1"]


def _measured(path, n: int, seed: int = 0) -> None:
    """x: 12 noisy channels; z: two quantities readable from x, known on 70% of rows;
    y: a class that depends on z (both above their median), and a regression target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 12)).astype(np.float32)
    z = np.stack([x[:, :3].sum(axis=1), x[:, 3:6].sum(axis=1)], axis=1)
    both = ((z[:, 0] > 0) & (z[:, 1] > 0)).astype(np.int64)
    gaps = rng.random(z.shape) < 0.3
    z = np.where(gaps, np.nan, z)
    np.savez(path, x=x, y_both=both, y_total=z.sum(axis=1), z_a=z[:, 0], z_b=z[:, 1])


@pytest.fixture
def measured(tmp_path):
    path = tmp_path / "measured.npz"
    _measured(path, 600)
    return path


def test_transfer_from_another_task_of_the_same_file(make_cfg, tmp_path, measured):
    cfg = make_cfg(
        *RUN,
        f"data.files.train={measured}",
        "regime=transfer",
        "data.tasks=[both]",
        "regime.source_tasks=[total]",
        "regime.n_source=300",
        "regime.source_min_steps=2",
        f"regime.cache_dir={tmp_path / 'cache'}",
    )
    result = train(cfg, output_dir=tmp_path / "run")
    stage1 = result.fits[0]["stage1"]
    world = build_world(cfg.data)
    _, labels = world.render(train_stream(0), torch.arange(300))
    total = world.task_names.index("total")
    assert stage1["n_labelled"] == {"total": int((~torch.isnan(labels[:, total])).sum())}
    assert result.data["n_labelled"] == {"both": 64}


def test_transfer_from_a_second_file(make_cfg, tmp_path, measured):
    source = tmp_path / "source.npz"
    _measured(source, 900, seed=1)
    overrides = [
        *RUN,
        f"data.files.train={measured}",
        "regime=transfer",
        "data.tasks=[both]",
        "regime.source_tasks=[both]",
        "regime.source_min_steps=2",
        f"+regime.source_data={{files: {{train: '{source}'}}}}",
        f"regime.cache_dir={tmp_path / 'cache'}",
    ]
    result = train(make_cfg(*overrides, "regime.n_source=500"), output_dir=tmp_path / "run")
    assert result.fits[0]["stage1"]["n_labelled"] == {"both": 500}  # beyond the target's 420
    with pytest.raises(ConfigError, match=r"regime.n_source=700 exceeds the 630 train rows"):
        train(make_cfg(*overrides, "regime.n_source=700"), output_dir=tmp_path / "run2")


def test_a_small_source_file_and_a_control_source_on_a_file(make_cfg, tmp_path, measured):
    source = tmp_path / "small.npz"
    _measured(source, 200, seed=2)  # 20 validation and 40 test rows, fewer than the target's
    base = [
        *RUN,
        f"data.files.train={measured}",
        "regime=transfer",
        "data.tasks=[both]",
        "regime.source_tasks=[both]",
        "regime.n_source=100",
        "regime.source_min_steps=2",
        f"regime.cache_dir={tmp_path / 'cache'}",
    ]
    small = make_cfg(*base, f"+regime.source_data={{files: {{train: '{source}'}}}}")
    result = train(small, output_dir=tmp_path / "small")
    assert result.status == "ok" and result.config["data"]["n_val"] == 60
    # the control source: the file's own inputs, each with another row's labels
    control = train(make_cfg(*base, "regime.source=control"), output_dir=tmp_path / "control")
    assert control.fits[0]["stage1"]["n_labelled"] == {"both": 100}
    world = build_world(small.data)
    shuffled = ShuffledLabels(world, seed=0)
    rows = torch.arange(world.split_size("val"))
    x, labels = shuffled.render(VAL_STREAM, rows)
    donors = shuffled.donor(VAL_STREAM, rows)
    assert int(donors.max()) < len(rows)  # donors are rows of the same split
    own_x, own_labels = world.render(VAL_STREAM, rows)
    torch.testing.assert_close(x, own_x)
    torch.testing.assert_close(labels, own_labels[donors], equal_nan=True)


def test_a_staged_pipeline_reads_the_files_intermediates(make_cfg, tmp_path, measured):
    cfg = make_cfg(
        *RUN,
        f"data.files.train={measured}",
        "data.tasks=[both]",
        "regime=pipeline",
        "regime.arm=staged",
        "regime.n_stage1=400",
        "regime.n_stage2=400",
        "regime.stage1_steps=20",
        "regime.stage2_steps=20",
        f"regime.cache_dir={tmp_path / 'cache'}",
    )
    result = train(cfg, output_dir=tmp_path / "run")
    fits = {f["name"]: f for f in result.fits}
    world = build_world(cfg.data)
    _, labels = world.render(train_stream(0), torch.arange(400))
    z = labels[:, [world.task_names.index("a"), world.task_names.index("b")]]
    known = (~torch.isnan(z)).sum(dim=0).tolist()
    assert fits["x_to_z"]["n_labelled"] == {"a": known[0], "b": known[1]}
    # stage 2 learns only from records whose z is fully known
    assert fits["z_to_y"]["n_labelled"] == {"both": int((~torch.isnan(z)).all(dim=1).sum())}
    assert "z_to_y/test/both/auroc" in result.metrics and "x_to_z/test/a/mae" in result.metrics
    assert 0.0 <= result.metrics["test/both/auroc"] <= 1.0


def test_stage2_reads_a_regression_z_far_from_zero_the_right_way_round(make_cfg, tmp_path):
    # z in its own units (a heart width of 12–17 cm), y = z above 15.5: on raw z the first steps
    # fit the class prior through z's slope and learn the relation backwards (AUROC near 0)
    rng = np.random.default_rng(0)
    z = rng.normal(14.0, 1.5, 600)
    x = np.stack([z + rng.normal(0, 0.3, 600), rng.normal(size=600)], axis=1).astype(np.float32)
    np.savez(tmp_path / "hearts.npz", x=x, y_big=(z > 15.5).astype(np.int64), z_width=z)
    cfg = make_cfg(
        *RUN, f"data.files.train={tmp_path / 'hearts.npz'}", "data.tasks=[big]",
        "regime=pipeline", "regime.arm=staged", "regime.n_stage1=400", "regime.n_stage2=400",
        "regime.stage1_steps=30", "regime.stage2_steps=30", "regime.stage2_model.width=16",
        f"regime.cache_dir={tmp_path / 'cache'}",
    )  # fmt: skip
    world = build_world(cfg.data)
    rows = torch.arange(5)
    inputs, _ = world.render(train_stream(0), rows)
    spec = world.task_specs["width"]
    true_z = world.labels(train_stream(0), rows)[:, [world.task_names.index("width")]]
    torch.testing.assert_close(world.stage2_input(inputs, true_z), (true_z - spec.loc) / spec.scale)
    result = train(cfg, output_dir=tmp_path / "run")
    assert result.metrics["z_to_y/test/big/auroc"] > 0.95


def test_a_pipeline_needs_one_target_and_rows_for_its_stages(make_cfg, tmp_path, measured):
    base = [*RUN, f"data.files.train={measured}", "regime=pipeline", "regime.arm=staged"]
    with pytest.raises(ConfigError, match=r"regime.arm=staged needs a world with an interm"):
        train(make_cfg(*base, "data.tasks=[both,total]"), output_dir=tmp_path / "a")
    with pytest.raises(ConfigError, match=r"regime.n_stage1=20,000 exceeds the 420 train rows"):
        train(make_cfg(*base, "data.tasks=[both]"), output_dir=tmp_path / "b")


def test_a_csv_with_named_columns_and_empty_cells_runs(make_cfg, tmp_path):
    rng = np.random.default_rng(0)
    lines = ["f1,f2,f3,label,size"]
    for i in range(200):
        f = rng.normal(size=3)
        label = "" if i % 7 == 0 else str(int(f[0] > 0))
        lines.append(f"{f[0]:.4f},{f[1]:.4f},{f[2]:.4f},{label},{2 * f[1]:.4f}")
    path = tmp_path / "table.csv"
    path.write_text("\n".join(lines) + "\n")
    cfg = make_cfg(
        *RUN,
        f"data.files.train={path}",
        "data.files.tasks=[label,size]",
        "data.files.features=[f1,f2,f3]",
        "data.n_train=-1",
    )
    result = train(cfg, output_dir=tmp_path / "run")
    assert result.data["n_labelled"]["size"] == 140  # every training row
    assert result.data["n_labelled"]["label"] < 140  # minus the empty cells among them
    world = build_world(cfg.data)
    assert world.input_shape == (3,) and world.task_specs["size"].kind == "regression"


def test_intermediates_of_every_kind_train_with_their_loss_and_compose_as_stage2_read_them(
    make_cfg, tmp_path, capsys
):
    """Regression: a file's z were always regression (squared error on 0/1 sub-labels, no
    accuracy, stage 2 fed raw logits at test time), and data.files.kinds refused them."""
    rng = np.random.default_rng(0)
    n = 600
    x = rng.normal(size=(n, 12)).astype(np.float32)
    sign = (x[:, :3].sum(axis=1) > 0).astype(np.int64)  # binary z, inferred from {0, 1}
    band = np.digitize(x[:, 3:6].sum(axis=1), [-1.0, 1.0])  # 3 classes, declared
    band[rng.random(n) < 0.2] = -1  # missing, as in a class label
    path = tmp_path / "kinds.npz"
    np.savez(path, x=x, y_both=sign & (band == 2), z_sign=sign, z_band=band)
    cfg = make_cfg(
        *RUN,
        f"data.files.train={path}",
        "+data.files.kinds.band=multiclass",
        "data.tasks=[both]",
        "regime=pipeline",
        "regime.arm=staged",
        "regime.n_stage1=400",
        "regime.n_stage2=400",
        "regime.stage1_steps=30",
        "regime.stage2_steps=30",
        f"regime.cache_dir={tmp_path / 'cache'}",
    )
    world = build_world(cfg.data, verbose=True)
    printed = capsys.readouterr().out
    assert "sign: binary (inferred)" in printed and "; intermediate z" in printed
    assert "band: 3 classes (declared)" in printed
    specs = world.task_specs
    assert (specs["sign"].kind, specs["band"].kind, specs["band"].num_classes) == (
        "binary",
        "multiclass",
        3,
    )
    assert world.stage2_input_shape == (1 + 3,)  # a probability and three class columns
    result = train(cfg, output_dir=tmp_path / "run")
    assert result.status == "ok"
    for key in ("x_to_z/test/sign/auroc", "x_to_z/test/band/accuracy", "z_to_y/test/both/auroc"):
        assert 0.0 <= result.metrics[key] <= 1.0, key
    assert "x_to_z/test/sign/mae" not in result.metrics
