"""Every experiment config composes and runs at a tiny budget, in the default test run."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tasklab.train import train

from .conftest import TINY

EXPERIMENT_DIR = Path(__file__).resolve().parents[1] / "conf" / "experiment"
EXPERIMENTS = sorted(
    p.relative_to(EXPERIMENT_DIR).with_suffix("").as_posix() for p in EXPERIMENT_DIR.rglob("*.yaml")
)


def swept_regimes(name: str) -> list[str]:
    """The regimes an experiment sweeps over, or the one it sets (each is tested)."""
    raw = OmegaConf.load(EXPERIMENT_DIR / f"{name}.yaml")
    swept = OmegaConf.select(raw, "hydra.sweeper.params.regime")
    if swept:
        return [r.strip() for r in str(swept).split(",")]
    for entry in raw.get("defaults", []):
        if isinstance(entry, dict) or OmegaConf.is_dict(entry):
            for key, value in entry.items():
                if key.endswith("/regime"):
                    return [value]
    return ["multi_task"]


# Extra shrinking a regime needs beyond TINY (transfer's stage 1 has its own schedule).
TINY_BY_REGIME = {"transfer": ["regime.n_source=64", "regime.source_min_steps=2"]}
CASES = [(name, regime) for name in EXPERIMENTS for regime in swept_regimes(name)]


def test_experiments_are_found():
    # the published experiments by name: a glob that silently lost one would still find "some"
    assert {"driving_mtl_vs_stl", "transfer_1m_vs_1k"} <= set(EXPERIMENTS), EXPERIMENTS


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_experiment_is_tested_in_its_own_regime(make_cfg, name):
    # guards swept_regimes: a parsing slip would otherwise test another regime silently
    assert make_cfg(f"experiment={name}").regime.name in swept_regimes(name)


@pytest.mark.parametrize(("name", "regime"), CASES)
def test_experiment_runs_at_tiny_budget(make_cfg, tmp_path, name, regime):
    cfg = make_cfg(
        f"experiment={name}",
        f"regime={regime}",
        *TINY,
        *TINY_BY_REGIME.get(regime, []),
    )
    if regime == "transfer":
        cfg.regime.cache_dir = str(tmp_path / "cache")
    assert cfg.name == Path(name).name
    result = train(cfg, output_dir=tmp_path)
    assert result.status == "ok"
    assert (tmp_path / "result.json").exists()
    assert 0.0 <= result.metrics["test/mean/auroc"] <= 1.0
    steps = [fit["steps"] for fit in result.fits]
    assert steps and all(s == cfg.trainer.max_steps for s in steps)
    if regime == "transfer":  # stage 1 ran on its own schedule and its trunk was handed over
        stage1 = result.fits[0]["stage1"]
        assert stage1["steps"] == 64 // 16 and not stage1["cache_hit"]  # one pass, batch 16
        assert result.fits[0]["handoff"] == {"missing": [], "unexpected": []}
    tasks = list(cfg.data.tasks)
    for split in ("val", "test"):
        for task in tasks:
            assert 0.0 <= result.metrics[f"{split}/{task}/auroc"] <= 1.0
        assert f"{split}/mean/f1" in result.metrics
    assert len(result.fits) == (len(tasks) if regime == "single_task" else 1)
    assert result.params["total"] == sum(result.params["per_fit"].values())
    assert list((tmp_path / "csv").rglob("metrics.csv"))
    assert list((tmp_path / "wandb").glob("offline-run-*"))
