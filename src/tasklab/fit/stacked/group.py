"""Which jobs of a sweep train together under ``trainer.seeds_per_fit=K``.

The sweep's plan (``tasklab.runs.sweep_plan``: Hydra's own expansion of the grid) lists every
job with its overrides. Jobs whose overrides differ only in ``seed`` are one config's seeds;
in plan order they are cut into groups of K. The first unfinished job of a group trains every
unfinished seed of it, writing each seed's ``result.json`` into that seed's own folder; the
later jobs then find their runs finished and skip them, exactly as a re-launched sweep does.
A job whose seed failed in the stack (a NaN loss) finds no ok record and trains on its own.

Only the in-process launcher runs jobs one after another; with parallel launchers (joblib,
submitit) a later job could start before its group's first one finished, so there every seed
trains on its own, said in one line.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from tasklab.registry import REGIMES
from tasklab.runs.ids import config_key
from tasklab.runs.markers import finished_ok
from tasklab.runs.sweep_plan import sweep_plan

_SEQUENTIAL_LAUNCHER = "BasicLauncher"
DIRECT_BACKBONES = ("mlp", "linear")  # networks with a direct forward (``stacking.net``)
AUTO_SEEDS = 16
STACKED_WEIGHTINGS = ("equal", "static")  # loss weightings with a stacked form (stacking.module)


@dataclass
class Member:
    cfg: DictConfig
    output_dir: Path
    overrides: list[str]


def unsupported(cfg: DictConfig) -> str | None:
    """Why this config cannot be stacked yet (None: it can)."""
    regime = REGIMES.get(cfg.regime.name)
    stackable = sorted(c.name for c in REGIMES if c.spec.stacked)
    if regime.spec.stacked is None:
        return f"regime={cfg.regime.name} cannot be stacked yet (only {', '.join(stackable)})"
    if cfg.regime.name != "single_task" and cfg.mtl.weighting.name not in STACKED_WEIGHTINGS:
        return (
            f"mtl/weighting={cfg.mtl.weighting.name} cannot be stacked yet "
            f"(only {', '.join(STACKED_WEIGHTINGS)})"
        )
    if cfg.mtl.affinity_every:
        return "mtl.affinity_every measures one network's gradients; it cannot be stacked"
    if cfg.model.architecture != "hard":
        return f"model.architecture={cfg.model.architecture} cannot be stacked yet (only hard)"
    tc = cfg.trainer
    if tc.strategy not in ("auto", "single_device") or tc.devices != 1 or tc.num_nodes != 1:
        return "a run over several processes (trainer.strategy/devices) cannot be stacked"
    if tc.resume_from:
        return "trainer.resume_from continues one run's checkpoints; it cannot be stacked"
    return None


def _split_seed(overrides: list[str]) -> tuple[str | None, list[str]]:
    seed, rest = None, []
    for override in overrides:
        key, _, value = override.partition("=")
        if key.lstrip("+~") == "seed":
            seed = value
        else:
            rest.append(override)
    return seed, sorted(rest)


def _note(cfg: DictConfig, why: str) -> None:
    print(
        f"tasklab-train: trainer.seeds_per_fit={cfg.trainer.seeds_per_fit}: {why}; "
        "this seed trains on its own"
    )


def auto_size(cfg: DictConfig) -> int:
    """``seeds_per_fit=0``: stack where it measured faster (``scripts/bench_stacking.py``,
    2 CPU cores: the vector MLP 2.2x at 4 seeds, 2.6x at 8, 3.3x at 16; the driving CNN, whose
    convolutions go through vmap, 0.2-0.5x), i.e. networks with a direct stacked forward on a
    CPU. On a GPU (one H200) stacking measured faster for both (MLP 14x at 16 seeds, CNN 2.3x
    at 4), but members there were not checked against their single fits (a stacked CNN's
    members differed from them by up to 0.006 accuracy after 300 steps, cause not
    established), so nothing is stacked unasked."""
    direct = cfg.model.backbone in DIRECT_BACKBONES and cfg.model.architecture == "hard"
    accelerator = cfg.trainer.accelerator
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    return AUTO_SEEDS if direct and on_cpu else 1


def stacked_group(cfg: DictConfig, output_dir: Path) -> list[Member]:
    """The seeds this job trains at once, itself first; [] to train only itself."""
    asked = int(cfg.trainer.seeds_per_fit)
    size = asked or auto_size(cfg)
    if size <= 1 or not HydraConfig.initialized():
        return []
    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return []  # a single run has no other seeds to stack with

    def note(why: str) -> list[Member]:
        if asked:  # stacking chosen automatically is left out without a word
            _note(cfg, why)
        return []

    why = unsupported(cfg)
    if why is not None:
        return note(why)
    launcher = str(hydra.launcher.get("_target_", ""))
    if _SEQUENTIAL_LAUNCHER not in launcher:
        return note(f"the launcher {launcher.rsplit('.', 1)[-1]} runs jobs side by side")
    plan = sweep_plan(Path(hydra.sweep.dir))
    mine = plan.get(Path(output_dir).name) if plan is not None else None
    if mine is None:
        return note("this job is not in the sweep's plan (a search sweeper or own subdir)")
    my_seed, my_rest = _split_seed(mine)
    if my_seed is None:
        return []  # seed is not swept: no other seeds of this config
    siblings = [
        (run_id, overrides, seed)
        for run_id, overrides in plan.items()
        for seed, rest in [_split_seed(overrides)]
        if rest == my_rest and seed is not None
    ]
    position = [run_id for run_id, _, _ in siblings].index(Path(output_dir).name)
    first = position // size * size
    members = []
    for run_id, overrides, seed in siblings[first : first + size]:
        member_cfg = copy.deepcopy(cfg)
        member_cfg.seed = int(seed)
        member = Member(member_cfg, Path(output_dir).parent / run_id, list(overrides))
        if finished_ok(member.output_dir, config_key(member_cfg)) is None:
            members.append(member)
    if len(members) < 2 or members[0].output_dir != Path(output_dir):
        return []
    return members
