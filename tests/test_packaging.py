"""An installed tasklab (a wheel, not the source checkout) finds its packaged configs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tasklab.results import source_digest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_install_runs_from_another_folder(tmp_path: Path) -> None:
    wheels, target, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    work.mkdir()
    source = tmp_path / "source"  # built from a copy: the build leaves nothing in the checkout
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    subprocess.run(build, check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("tasklab-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)
    env = {**os.environ, "PYTHONPATH": str(target), "WANDB_MODE": "disabled"}
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, tasklab; print(tasklab.__file__); from tasklab.train import main; "
            "sys.argv[0] = 'tasklab-train'; main()",
            "trainer=smoke",
            "data=vectors",
            "model=mlp",
            "logger=none",
            "hydra.run.dir=run",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines()[0].startswith(str(target))  # the wheel's copy, not src/
    record = json.loads((work / "run" / "result.json").read_text())
    assert record["status"] == "ok"
    assert record["metrics"]["test/mean/auroc"] > 0
    # which code made the record, without a git checkout: the same files, the same digest
    assert record["git"]["sha"] is None and record["versions"]["tasklab"]
    assert record["source_digest"] == source_digest()
