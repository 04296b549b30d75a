"""Every experiment config composes and runs at a tiny budget, in the default test run."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tasklab.conf import CONF_DIR
from tasklab.data.building import build_world
from tasklab.data.tasks import HEADLINE_METRIC
from tasklab.examples.digits import digits_arrays, write_npz
from tasklab.examples.xray import make_xray_folder
from tasklab.metric_keys import split_task_metric
from tasklab.prediction_metrics import metric_value
from tasklab.predictions import load_predictions
from tasklab.registry import WEIGHTINGS
from tasklab.runner import train

from .conftest import TINY, require_vision

EXPERIMENT_DIR = CONF_DIR / "experiment"
EXPERIMENTS = sorted(
    p.relative_to(EXPERIMENT_DIR).with_suffix("").as_posix() for p in EXPERIMENT_DIR.rglob("*.yaml")
)


def swept_regimes(name: str) -> list[str]:
    """The regimes an experiment sweeps over, or the one it sets (each is tested); a pipeline
    experiment's arms count as regimes (``pipeline:staged``)."""
    raw = OmegaConf.load(EXPERIMENT_DIR / f"{name}.yaml")
    swept = OmegaConf.select(raw, "hydra.sweeper.params.regime")
    if swept:
        return [r.strip() for r in str(swept).split(",")]
    arms = OmegaConf.select(raw, "hydra.sweeper.params", default={}).get("regime.arm")
    if arms:
        return [f"pipeline:{a.strip()}" for a in str(arms).split(",")]
    for entry in raw.get("defaults", []):
        if isinstance(entry, dict) or OmegaConf.is_dict(entry):
            for key, value in entry.items():
                if key.endswith("/regime"):
                    return [value]
    return ["multi_task"]


# Extra shrinking a regime needs beyond TINY (transfer's stage 1 has its own schedule).
TINY_BY_REGIME = {
    "transfer": ["regime.n_source=64", "regime.source_min_steps=2"],
    "pipeline": [
        "regime.n_stage1=64",
        "regime.n_stage2=64",
        "regime.stage1_steps=2",
        "regime.stage2_steps=2",
    ],
}
# The fits each arm makes, by regime (single_task: one per task, below).
FITS = {
    "pipeline:staged": ["x_to_z", "z_to_y", "composed"],
    "pipeline:staged_finetune": ["x_to_z", "z_to_y", "staged_finetune"],
}
VISION_BACKBONES = ("torchvision", "timm")


def _needs_vision(name: str) -> bool:
    defaults = OmegaConf.load(EXPERIMENT_DIR / f"{name}.yaml").get("defaults", [])
    return any(
        f"override /model: {b}" in str(OmegaConf.to_yaml(defaults)) for b in VISION_BACKBONES
    )


CASES = [
    pytest.param(name, regime, marks=[pytest.mark.vision] if _needs_vision(name) else [])
    for name in EXPERIMENTS
    for regime in swept_regimes(name)
]


def test_experiments_are_found():
    # the published experiments by name: a glob that silently lost one would still find "some"
    published = {
        "driving_mtl_vs_stl",
        "transfer_1m_vs_1k",
        "e2e_vs_staged_bone_age",
        "e2e_vs_staged_face_id",
        "digits_mtl_vs_stl",
        "driving_mtl_weighting",
        "driving_mtl_capacity",
        "vectors_mtl_related_tasks",
        "vectors_mtl_unrelated_tasks",
        "vectors_mtl_shared_features",
        "vectors_mtl_unequal_data",
        "vectors_mtl_capacity",
        "e2e_vs_staged_steering",
    }
    assert published <= set(EXPERIMENTS), EXPERIMENTS


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_experiment_is_tested_in_its_own_regime(make_cfg, name):
    # guards swept_regimes: a parsing slip would otherwise test another regime silently
    regime = make_cfg(f"experiment={name}").regime.name
    assert regime in [r.split(":")[0] for r in swept_regimes(name)]


def _network_checkpoint(cfg, path: Path) -> Path:
    """A trunk of ``cfg.model`` saved as a state dict, as ``trainer.save_trunk`` writes one."""
    import torch

    from tasklab.fit.fitting import trunk_shape
    from tasklab.models.backbones import build_backbone

    world = build_world(cfg.data)
    trunk, _ = build_backbone(cfg.model.backbone, world.input_shape, trunk_shape(cfg))
    torch.save(trunk.state_dict(), path)
    return path


def regime_overrides(regime: str) -> list[str]:
    name, _, arm = regime.partition(":")
    return [f"regime={name}", *([f"regime.arm={arm}"] if arm else [])]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "regime"), CASES)
def test_experiment_runs_at_tiny_budget(make_cfg, tmp_path, name, regime):
    kind = regime.split(":")[0]
    if _needs_vision(name):
        require_vision()
    cfg = make_cfg(
        f"experiment={name}", *regime_overrides(regime), *TINY, *TINY_BY_REGIME.get(kind, [])
    )
    if kind in ("transfer", "pipeline"):
        cfg.regime.cache_dir = str(tmp_path / "cache")
    if cfg.data.label_rate * cfg.data.n_train < 16:
        # a sparse label budget (1/32 of the rows) leaves a task of TINY's 64 rows none
        cfg.data.label_rate = 0.5
    if cfg.data.world == "images":  # the example folder, written as its header says
        cfg.data.images.manifest = str(make_xray_folder(tmp_path / "xray", n_patients=160))
        cfg.data.images.size = 16
    if cfg.regime.get("checkpoint"):  # a checkpoint of the experiment's own network
        cfg.regime.checkpoint = str(_network_checkpoint(cfg, tmp_path / "trunk.pt"))
    if cfg.data.world == "files":  # the experiment's file, written as its header says
        noise = "noise" in cfg.data.files.train  # the negative control's fourth task
        arrays = digits_arrays(noise_task=noise)
        cfg.data.files.train = str(write_npz(tmp_path / "data.npz", arrays))
    assert cfg.name == Path(name).name
    assert cfg.trainer.max_steps == 2  # the budget is tiny whatever the experiment file sets
    result = train(cfg, output_dir=tmp_path)
    assert result.status == "ok"
    assert (tmp_path / "result.json").exists()
    world = build_world(cfg.data)
    tasks = list(cfg.data.tasks)
    headline = {t: HEADLINE_METRIC[world.task_specs[t].kind] for t in tasks}
    for split in ("val", "test"):
        for task, metric in headline.items():
            value = result.metrics[f"{split}/{task}/{metric}"]
            assert 0.0 <= value <= (1.0 if metric != "mae" else 1e4)  # MAE in the units of y
        assert f"{split}/mean/{next(iter(headline.values()))}" in result.metrics
    fits = FITS.get(regime) or (tasks if kind == "single_task" else None)
    if fits is not None:
        assert [f["name"] for f in result.fits] == fits
    else:
        assert len(result.fits) == 1
    trained = [f for f in result.fits if f["name"] not in ("x_to_z", "z_to_y", "composed")]
    assert all(f["steps"] == cfg.trainer.max_steps for f in trained)
    if kind == "transfer" and cfg.regime.source == "checkpoint":  # no stage 1: the file's trunk
        assert result.fits[0]["checkpoint"]["path"] == cfg.regime.checkpoint
        assert result.fits[0]["handoff"] == {"missing": [], "unexpected": []}
    elif kind == "transfer":  # stage 1 ran on its own schedule and its trunk was handed over
        stage1 = result.fits[0]["stage1"]
        assert stage1["steps"] == 64 // 16 and not stage1["cache_hit"]  # one pass, batch 16
        assert result.fits[0]["handoff"] == {"missing": [], "unexpected": []}
    if kind == "pipeline" and regime != "pipeline:end_to_end":
        assert any(k.startswith("x_to_z/test/") for k in result.metrics)
    if kind != "pipeline":
        assert result.params["total"] == sum(result.params["per_fit"].values())
    assert list((tmp_path / "csv").rglob("metrics.csv"))
    assert list((tmp_path / "wandb").glob("offline-run-*"))
    # every task's test predictions are kept, and they reproduce the recorded metrics
    assert result.predictions["unmatched"] == []
    assert result.predictions["tasks"]["test"] == sorted(tasks)
    stored = load_predictions(tmp_path / "predictions.npz")["test"]
    for task, metric in headline.items():
        recomputed = float(metric_value(stored[task], metric)[0])
        assert recomputed == pytest.approx(result.metrics[f"test/{task}/{metric}"], rel=1e-4)
    # so are a stage's (a transfer's source tasks, a pipeline's x -> z and z -> y): every
    # per-task metric of every split has the predictions that reproduce it
    kept = load_predictions(tmp_path / "predictions.npz")
    staged = [
        (key, split, task, name)
        for key in result.metrics
        if (parsed := split_task_metric(key)) and "/" in parsed[0] and parsed[1] != "mean"
        for split, task, name in [parsed]
    ]
    from_source = kind == "transfer" and cfg.regime.source != "checkpoint"  # a checkpoint: none
    if from_source or (kind == "pipeline" and regime != "pipeline:end_to_end"):
        assert staged  # a stage's metrics are in the record
    for key, split, task, name in staged:
        recomputed = float(metric_value(kept[split][task], name)[0])
        assert recomputed == pytest.approx(result.metrics[key], rel=1e-4, abs=1e-6), key


def swept_weightings(name: str) -> list[str]:
    raw = OmegaConf.load(EXPERIMENT_DIR / f"{name}.yaml")
    swept = OmegaConf.select(raw, "hydra.sweeper.params", default={}).get("mtl/weighting")
    return [w.strip() for w in str(swept).split(",")] if swept else []


WEIGHTING_CASES = [(name, w) for name in EXPERIMENTS for w in swept_weightings(name)]


@pytest.mark.slow
def test_the_weighting_experiment_sweeps_every_weighting(make_cfg):
    # guards the parametrisation below: a parsing slip would leave it with no case at all
    options = swept_weightings("driving_mtl_weighting")
    names = {make_cfg(f"mtl/weighting={option}").mtl.weighting.name for option in options}
    assert names == set(WEIGHTINGS.names())


@pytest.mark.slow
@pytest.mark.parametrize(("name", "weighting"), WEIGHTING_CASES)
def test_each_swept_weighting_runs_at_tiny_budget(make_cfg, tmp_path, name, weighting):
    cfg = make_cfg(f"experiment={name}", f"mtl/weighting={weighting}", *TINY, "logger.wandb=false")
    result = train(cfg, output_dir=tmp_path)
    chosen = cfg.mtl.weighting.name
    assert result.status == "ok" and weighting.startswith(chosen)
    assert result.arm == ("multi_task" if chosen == "equal" else f"multi_task/{chosen}")
    assert "mtl/weighting" in result.arm_axes
    if weighting != "equal":
        header = next((tmp_path / "csv").rglob("metrics.csv")).read_text().splitlines()[0]
        assert all(f"train/{t}/weight" in header for t in cfg.data.tasks)
