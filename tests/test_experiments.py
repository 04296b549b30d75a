"""Every experiment config composes and runs at a tiny budget, in the default test run."""

from pathlib import Path

import pytest

from tasklab.train import train

from .conftest import TINY

EXPERIMENT_DIR = Path(__file__).resolve().parents[1] / "conf" / "experiment"
EXPERIMENTS = sorted(
    p.relative_to(EXPERIMENT_DIR).with_suffix("").as_posix() for p in EXPERIMENT_DIR.rglob("*.yaml")
)


def test_experiments_are_found():
    assert len(EXPERIMENTS) >= 1, f"no experiment configs under {EXPERIMENT_DIR}"


@pytest.mark.parametrize("name", EXPERIMENTS)
@pytest.mark.parametrize("regime", ["single_task", "multi_task"])
def test_experiment_runs_at_tiny_budget(make_cfg, tmp_path, name, regime):
    cfg = make_cfg(f"experiment={name}", f"regime={regime}", *TINY)
    assert cfg.name == Path(name).name
    result = train(cfg, output_dir=tmp_path)
    assert result.status == "ok"
    assert (tmp_path / "result.json").exists()
    tasks = list(cfg.data.tasks)
    for split in ("val", "test"):
        for task in tasks:
            assert 0.0 <= result.metrics[f"{split}/{task}/auroc"] <= 1.0
        assert f"{split}/mean/f1" in result.metrics
    assert len(result.fits) == (len(tasks) if regime == "single_task" else 1)
    assert result.params["total"] == sum(result.params["per_fit"].values())
    assert list((tmp_path / "csv").rglob("metrics.csv"))
    assert list((tmp_path / "wandb").glob("offline-run-*"))
