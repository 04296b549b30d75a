"""Stacked seeds (``trainer.seeds_per_fit``): member k of a stack ends where the single fit of
seed k ends, a diverging member fails alone, and a sweep writes one record per seed."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from tasklab.data.building import build_world, fit_data_to_world, selected_tasks, task_budgets
from tasklab.data.datamodule import WorldDataModule
from tasklab.data.tasks import TaskSpec
from tasklab.fit.fitting import FitOutcome, RunContext, fit_tasks
from tasklab.fit.module import NonFiniteLossError
from tasklab.fit.stacked import fit as stacking_fit
from tasklab.fit.stacked.fit import fit_tasks_stacked
from tasklab.models.backbones import TrunkShape
from tasklab.reproduce import main as reproduce_main
from tasklab.results import RESULT_FILE
from tasklab.runs.checkpoints import CHECKPOINT_DIR
from tasklab.train import main as train_main

from .conftest import SMALL_RUN
from .test_resume import RESUME_RUN

# Measured: members match their single fits to ≤ 3e-7 in every metric (float32 rounding of
# batched against unbatched products and sums); the bound leaves room for other CPUs.
TOLERANCE = 1e-5

VECTORS = [
    "data=vectors",
    "model=mlp",
    "data.tasks=[t0,t1,t2]",
    "data.vectors.n_tasks=3",
    "data.n_train=200",
    "data.n_val=64",
    "data.n_test=128",
    "data.batch_size=32",
    "model.width=16",
    "trainer.max_steps=30",
    "trainer.log_every_n_steps=4",
    "trainer.progress_bar=false",
    "trainer.checkpoint_every_n_steps=0",
    "logger=none",
]
STATIC = [
    "regime=multi_task",
    "mtl/weighting=static",
    "+mtl.weighting.weights={t0:1,t1:2.5,t2:0.3}",
]
DRIVING = [
    "data=driving",
    "model=cnn",
    "data.n_train=64",
    "data.n_val=32",
    "data.n_test=64",
    "data.batch_size=16",
    "model.width=4",
    "trainer.max_steps=12",
    "trainer.log_every_n_steps=4",
    "trainer.progress_bar=false",
    "trainer.checkpoint_every_n_steps=0",
    "logger=none",
]


def _contexts(make_cfg, tmp_path, overrides, seeds):
    cfgs = [make_cfg(*overrides, f"seed={s}") for s in seeds]
    world = build_world(cfgs[0].data)
    for cfg in cfgs:
        fit_data_to_world(cfg.data, world)
    budgets = task_budgets(cfgs[0].data)
    return [
        RunContext(cfg, world, budgets, tmp_path / f"s{cfg.seed}", "test", eval_cache={})
        for cfg in cfgs
    ]


def _assert_same_fit(stacked: FitOutcome, single: FitOutcome) -> None:
    assert stacked.train_digest == single.train_digest  # same rows, labels and order
    assert stacked.n_labelled == single.n_labelled and stacked.steps == single.steps
    assert stacked.metrics.keys() == single.metrics.keys() and single.metrics
    for key, value in single.metrics.items():
        assert math.isclose(stacked.metrics[key], value, abs_tol=TOLERANCE), key
    for split, tasks in single.predictions.items():
        for task, predictions in tasks.items():
            other = stacked.predictions[split][task]
            assert np.array_equal(other.index, predictions.index)
            assert np.allclose(other.output, predictions.output, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "tasks"),
    [
        (VECTORS, None),  # several tasks, full labels
        ([*VECTORS, "data.label_rate=0.4"], None),  # members' training sets differ: padded
        # 4 steps per Lightning call (``trainer.steps_per_call``; the CNN cases take 2)
        ([*VECTORS, "trainer.max_steps=32", "trainer.validations_per_fit=4"], None),
        ([*DRIVING, "regime=multi_task"], None),  # convolutions with per-member BatchNorm
        ([*DRIVING, "regime=single_task"], ["car"]),  # one fit of a single-task arm
        ([*VECTORS, "data.label_rate=0.2", *STATIC], None),  # tasks absent from some batches
    ],
    ids=["mlp", "mlp-padded", "mlp-grouped", "cnn", "cnn-one-task", "mlp-static"],
)
def test_member_k_ends_as_the_single_fit_of_seed_k(make_cfg, tmp_path, overrides, tasks):
    ctxs = _contexts(make_cfg, tmp_path, overrides, seeds=[0, 1, 2])
    fit_tasks_list = selected_tasks(ctxs[0].world, tasks or list(ctxs[0].cfg.data.tasks))
    stacked = fit_tasks_stacked(ctxs, fit_tasks_list, "all")
    singles = [fit_tasks(ctx, fit_tasks_list, "all") for ctx in ctxs]
    for member, single in zip(stacked, singles, strict=True):
        assert isinstance(member, FitOutcome)
        _assert_same_fit(member, single)
    # the members did differ from each other: three seeds, three networks
    auroc = next(k for k in singles[0].metrics if k.startswith("test/") and "auroc" in k)
    assert len({round(s.metrics[auroc], 6) for s in singles}) == 3


def _training_rows(output_dir) -> list[tuple[int, float]]:
    """(step, train/loss) of every training row a fit's CSV logger wrote."""
    import csv

    (path,) = list(output_dir.glob("csv/*/metrics.csv"))
    with path.open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/loss")]
    return [(int(r["step"]), float(r["train/loss"])) for r in rows]


def test_member_k_logs_the_training_rows_of_the_single_fit_of_seed_k(make_cfg, tmp_path):
    """Windows of log_every_n_steps steps filed under the steps taken by then, as a single
    fit logs them: a window one step short or a last step never logged shows here."""
    overrides = [*VECTORS, "logger.csv=true", "trainer.max_steps=12", "trainer.steps_per_call=1"]
    stacked_ctxs = _contexts(make_cfg, tmp_path / "stacked", overrides, seeds=[0, 1])
    single_ctxs = _contexts(make_cfg, tmp_path / "single", overrides, seeds=[0, 1])
    tasks = selected_tasks(stacked_ctxs[0].world, list(stacked_ctxs[0].cfg.data.tasks))
    fit_tasks_stacked(stacked_ctxs, tasks, "all")
    for stacked_ctx, single_ctx in zip(stacked_ctxs, single_ctxs, strict=True):
        fit_tasks(single_ctx, tasks, "all")
        member, single = (_training_rows(c.output_dir) for c in (stacked_ctx, single_ctx))
        assert [step for step, _ in single] == [4, 8, 12]
        assert [step for step, _ in member] == [4, 8, 12]
        for (_, a), (_, b) in zip(member, single, strict=True):
            assert math.isclose(a, b, rel_tol=TOLERANCE)


def test_padded_members_really_had_training_sets_of_different_sizes(make_cfg, tmp_path):
    ctxs = _contexts(make_cfg, tmp_path, [*VECTORS, "data.label_rate=0.4"], seeds=[0, 1, 2])
    tasks = selected_tasks(ctxs[0].world, list(ctxs[0].cfg.data.tasks))
    sizes = set()
    for ctx in ctxs:
        dm = WorldDataModule(ctx.world, tasks, ctx.budgets, seed=ctx.cfg.seed)
        dm.setup()
        sizes.add(len(dm.splits["train"]))
    assert len(sizes) > 1


@pytest.mark.slow
def test_batch_statistics_with_training_sets_of_different_sizes(make_cfg, tmp_path):
    """BatchNorm members whose short last batches fall at different steps run in groups of
    equal batch size, each on its real rows: every member ends as its single fit."""
    overrides = [*DRIVING, "data.label_rate=0.5", "regime=single_task"]
    ctxs = _contexts(make_cfg, tmp_path, overrides, seeds=[0, 1, 2])
    tasks = selected_tasks(ctxs[0].world, ["car"])
    sizes = []
    for ctx in ctxs:
        dm = WorldDataModule(ctx.world, tasks, ctx.budgets, seed=ctx.cfg.seed)
        dm.setup()
        sizes.append(len(dm.splits["train"]))
    batch = ctxs[0].cfg.data.batch_size
    assert len({n % batch for n in sizes}) > 1  # short batches of different sizes
    stacked = fit_tasks_stacked(ctxs, tasks, "car")
    singles = [fit_tasks(ctx, tasks, "car") for ctx in ctxs]
    for member, single in zip(stacked, singles, strict=True):
        assert isinstance(member, FitOutcome)
        _assert_same_fit(member, single)


def test_a_diverging_member_fails_alone(make_cfg, tmp_path, monkeypatch):
    build = stacking_fit.model_network
    built = []

    def poisoned(*args, **kwargs):
        net = build(*args, **kwargs)
        built.append(net)
        if len(built) == 2:  # the second member's network computes NaN from its first step
            with torch.no_grad():
                next(net.parameters()).fill_(float("nan"))
        return net

    monkeypatch.setattr(stacking_fit, "model_network", poisoned)
    ctxs = _contexts(make_cfg, tmp_path, VECTORS, seeds=[0, 1, 2])
    tasks = selected_tasks(ctxs[0].world, list(ctxs[0].cfg.data.tasks))
    outcomes = fit_tasks_stacked(ctxs, tasks, "all")
    assert isinstance(outcomes[1], str)
    assert outcomes[1].startswith("NonFiniteLossError: training loss became nan by step 4")
    for k in (0, 2):
        _assert_same_fit(outcomes[k], fit_tasks(ctxs[k], tasks, "all"))  # type: ignore[arg-type]


def test_every_member_diverging_stops_the_fit(make_cfg, tmp_path):
    ctxs = _contexts(make_cfg, tmp_path, [*VECTORS, "optim.lr=1e30"], seeds=[0, 1])
    tasks = selected_tasks(ctxs[0].world, list(ctxs[0].cfg.data.tasks))
    with pytest.raises(NonFiniteLossError, match=r"lower optim\.lr"):
        fit_tasks_stacked(ctxs, tasks, "all")


def _records(sweep):
    return {p.parent.name: json.loads(p.read_text()) for p in sweep.glob(f"*/{RESULT_FILE}")}


@pytest.mark.slow
def test_a_sweep_stacks_each_configs_seeds_and_writes_one_record_per_seed(tmp_path, run_cli):
    common = [*SMALL_RUN, "trainer.max_steps=6", "regime=single_task,multi_task"]
    sequential = run_cli(
        train_main, "-m", *common, "seed=0,1,2", f"hydra.sweep.dir={tmp_path / 'one'}"
    )
    assert sequential.returncode == 0, sequential.stderr[-3000:]
    stacked = run_cli(
        train_main,
        "-m",
        *common,
        "seed=0,1,2",
        "trainer.seeds_per_fit=2",
        f"hydra.sweep.dir={tmp_path / 'stacked'}",
    )
    assert stacked.returncode == 0, stacked.stderr[-3000:]
    one, many = _records(tmp_path / "one"), _records(tmp_path / "stacked")
    assert one.keys() == many.keys() and len(many) == 6  # the same folders: seeds_per_fit
    # names no job
    for run_id, record in many.items():
        assert record["status"] == "ok" and record["seed"] == one[run_id]["seed"]
        asked = [o for o in record["overrides"] if o != "trainer.seeds_per_fit=2"]
        assert asked == one[run_id]["overrides"]  # as Hydra gave them to the seed's own job
        assert record["config_key"] == one[run_id]["config_key"]
        for key, value in one[run_id]["metrics"].items():
            assert math.isclose(record["metrics"][key], value, abs_tol=TOLERANCE), key
        members = [f.get("stacked", {}).get("members", 1) for f in record["fits"]]
        # seeds 0 and 1 of each regime trained as one; seed 2 was left alone
        assert set(members) == ({1} if record["seed"] == 2 else {2})
    # the job of seed 1 found its run done by seed 0's job
    assert stacked.stdout.count("skipped (finished earlier)") == 2


def test_a_config_that_cannot_be_stacked_trains_each_seed_alone(tmp_path, run_cli):
    result = run_cli(
        train_main,
        "-m",
        *SMALL_RUN,
        "seed=0,1",
        "mtl/weighting=dwa",
        "trainer.seeds_per_fit=2",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "trainer.seeds_per_fit=2: mtl/weighting=dwa cannot be stacked yet (only equal, static); "
        "this seed trains on its own" in result.stdout
    )
    records = _records(tmp_path)
    assert len(records) == 2 and all(r["status"] == "ok" for r in records.values())
    assert not any("stacked" in f for r in records.values() for f in r["fits"])


@pytest.mark.slow
def test_a_killed_stacked_sweep_resumes_as_exactly_as_an_unbroken_one(tmp_path, run_cli):
    run = [o for o in RESUME_RUN if not o.startswith("seed=")]
    stacked = [*run, "seed=3,4", "trainer.seeds_per_fit=2"]
    killed = tmp_path / "killed"

    def launch():
        return subprocess.Popen(
            [sys.executable, "-m", "tasklab.train", "-m", *stacked, f"hydra.sweep.dir={killed}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "WANDB_MODE": "disabled"},
        )

    proc = launch()
    deadline = time.monotonic() + 240
    pattern = f"*/{CHECKPOINT_DIR}/stacked-s3-4-all/last.ckpt"
    while not list(killed.glob(pattern)) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL and not _records(killed)
    (ckpt,) = killed.glob(pattern)
    assert 30 <= torch.load(ckpt, weights_only=True)["global_step"] < 150

    again = launch()
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out[-3000:]
    assert f"Restored all states from the checkpoint at {ckpt}" in out
    unbroken = run_cli(train_main, "-m", *stacked, f"hydra.sweep.dir={tmp_path / 'unbroken'}")
    assert unbroken.returncode == 0, unbroken.stderr[-3000:]
    resumed, whole = _records(killed), _records(tmp_path / "unbroken")
    assert resumed.keys() == whole.keys() and len(resumed) == 2
    for run_id, record in resumed.items():
        assert record["status"] == "ok" and record["fits"][0]["steps"] == 150
        assert record["metrics"] == whole[run_id]["metrics"]  # bit for bit


@pytest.mark.parametrize("shared", [False, True])
def test_the_direct_forward_of_an_mlp_is_the_vmapped_one(make_cfg, tmp_path, shared):
    from tasklab.fit.stacked.net import StackedNet, runs_direct
    from tasklab.models.multihead import build_net

    world = build_world(make_cfg(*VECTORS).data)
    tasks = [
        TaskSpec("a"),
        TaskSpec("b", "regression", loc=3.0, scale=2.0),
        TaskSpec("c", "multiclass", num_classes=3),
    ]
    nets = []
    for seed in range(3):
        torch.manual_seed(seed)
        nets.append(build_net("mlp", world.input_shape, TrunkShape(width=8, depth=2), tasks))
    assert runs_direct(nets[0])
    x = torch.randn(5, *world.input_shape) if shared else torch.randn(3, 5, *world.input_shape)
    direct = StackedNet(nets, direct=True)(x, shared_input=shared)
    mapped = StackedNet(nets, direct=False)(x, shared_input=shared)
    for k, net in enumerate(nets):
        own = net(x if shared else x[k])
        for name in own:
            assert direct[name][k].shape == own[name].shape
            assert torch.allclose(direct[name][k], own[name], atol=1e-6)
            assert torch.allclose(mapped[name][k], own[name], atol=1e-6)


@pytest.mark.slow
def test_by_default_mlp_seeds_are_stacked_and_cnn_seeds_are_not(tmp_path, run_cli):
    mlp = run_cli(
        train_main,
        "-m",
        *SMALL_RUN,
        "data=vectors",
        "model=mlp",
        "seed=0,1,2",
        f"hydra.sweep.dir={tmp_path / 'mlp'}",
    )
    cnn = run_cli(train_main, "-m", *SMALL_RUN, "seed=0,1", f"hydra.sweep.dir={tmp_path / 'cnn'}")
    assert mlp.returncode == 0 and cnn.returncode == 0, mlp.stderr[-3000:] + cnn.stderr[-3000:]
    stacked = [r["fits"][0].get("stacked") for r in _records(tmp_path / "mlp").values()]
    assert stacked == [{"members": 3, "wall_time_s": stacked[0]["wall_time_s"]}] * 3
    assert not any("stacked" in r["fits"][0] for r in _records(tmp_path / "cnn").values())
    assert "seeds_per_fit" not in cnn.stdout + cnn.stderr  # chosen automatically: no note
    assert "3 seeds trained as one stacked model (trainer.seeds_per_fit)" in mlp.stdout
    # a stacked member re-run on its own reproduces within float32 rounding
    (member,) = [
        p.parent
        for p in (tmp_path / "mlp").glob("*/result.json")
        if json.loads(p.read_text())["seed"] == 1
    ]
    again = run_cli(
        reproduce_main, str(member), "--out", str(tmp_path / "again"), prog="tasklab-reproduce"
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "trained stacked with other seeds" in again.stdout
    assert "metrics within 1e-05" in again.stdout


def test_a_seed_another_launch_is_training_is_left_out_of_the_stack(make_cfg, tmp_path):
    from tasklab.fit.stacked.group import Member
    from tasklab.results import write_json_atomic
    from tasklab.runner import _train_stacked
    from tasklab.runs.markers import RUNNING_FILE, process_start

    members = [
        Member(make_cfg(*VECTORS, f"seed={s}"), tmp_path / f"s{s}", [f"seed={s}"]) for s in range(3)
    ]
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:  # another live process holds seed 1's folder
        members[1].output_dir.mkdir(parents=True)
        write_json_atomic(
            members[1].output_dir / RUNNING_FILE,
            {
                "host": socket.gethostname(),
                "pid": holder.pid,
                "process_start": process_start(holder.pid),
                "started": time.time(),
            },
        )
        result = _train_stacked(members)
    finally:
        holder.kill()
        holder.wait()
    assert result is not None and result.status == "ok" and result.seed == 0
    records = {s: tmp_path / f"s{s}" / RESULT_FILE for s in range(3)}
    assert not records[1].exists() and (tmp_path / "s1" / RUNNING_FILE).exists()
    for s in (0, 2):
        record = json.loads(records[s].read_text())
        assert record["status"] == "ok" and record["seed"] == s
        assert record["fits"][0]["stacked"]["members"] == 2
        assert not (tmp_path / f"s{s}" / RUNNING_FILE).exists()
