"""Runs with different settings are never one arm; the arm's name says what tells them apart.

Regression test: with a weighting's settings swept (``mtl.weighting.alpha``, …) the runs of
every value were one arm ``multi_task/gradnorm`` and the report kept the last record it read.
Records are built as ``train`` builds them (``describe_arm`` on the composed config).
"""

import pytest
from omegaconf import OmegaConf

from tasklab.regimes import describe_arm
from tasklab.report.analysis import analyse
from tasklab.report.grouping import group_records
from tasklab.report.records import Records
from tasklab.report.summary import summary_lines


def _record(cfg, overrides, seed, value):
    arm, axes, keys = describe_arm(cfg)
    return {
        "status": "ok",
        "name": "sweep",
        "regime": cfg.regime.name,
        "seed": seed,
        "arm": arm,
        "arm_axes": axes,
        "arm_keys": keys,
        "overrides": [*overrides, f"seed={seed}"],
        "metrics": {"test/mean/auroc": value},
        "config": OmegaConf.to_container(cfg, resolve=True),
    }


def _records(make_cfg, settings):
    records = []
    for k, overrides in enumerate(settings):
        cfg = make_cfg(*overrides)
        records += [_record(cfg, overrides, s, 0.6 + 0.1 * k + 0.01 * s) for s in range(3)]
    return records


@pytest.mark.parametrize(
    "settings, arms",
    [
        (
            [
                ["mtl/weighting=gradnorm", "mtl.weighting.alpha=0.5"],
                ["mtl/weighting=gradnorm", "mtl.weighting.alpha=1.5"],
            ],
            ["multi_task/gradnorm [alpha=0.5]", "multi_task/gradnorm [alpha=1.5]"],
        ),
        (
            [["mtl/weighting=dwa", "mtl.weighting.period=10"], ["mtl/weighting=dwa"]],
            ["multi_task/dwa [period=10]", "multi_task/dwa [period=50]"],
        ),
        (
            [
                ["mtl/weighting=uncertainty", "mtl.weighting.lr_scale=10"],
                ["mtl/weighting=uncertainty"],
            ],
            ["multi_task/uncertainty [lr_scale=1.0]", "multi_task/uncertainty [lr_scale=10.0]"],
        ),
        (
            [
                ["regime=transfer", "regime.n_source=1000", "regime.trunk_lr_scale=0.1"],
                ["regime=transfer", "regime.n_source=1000", "regime.trunk_lr_scale=0.5"],
            ],
            [
                "related/full(trunk_lr×0.1) n_source=1000",
                "related/full(trunk_lr×0.5) n_source=1000",
            ],
        ),
    ],
)
def test_a_swept_setting_gives_one_arm_per_value(make_cfg, settings, arms):
    records = _records(make_cfg, settings)
    (experiment,) = group_records(records, ["test/mean/auroc"])
    (cell,) = experiment.cells("test/mean/auroc")
    found = experiment.values["test/mean/auroc"][cell]
    assert sorted(found) == sorted(arms)
    assert all(len(seeds) == 3 for seeds in found.values())
    assert not experiment.disagreeing
    analysis = analyse(experiment, ["test/mean/auroc"])
    assert len(analysis.comparisons) == 1  # the two arms, compared
    text = "\n".join(summary_lines(Records(ok=records), "test/mean/auroc"))
    assert all(arm in text for arm in arms)


def test_static_weights_tell_arms_apart(make_cfg):
    tasks = ["data.tasks=[car,stop_sign]", "mtl/weighting=static"]
    settings = [
        [*tasks, "+mtl.weighting.weights={car: 1, stop_sign: 1}"],
        [*tasks, "+mtl.weighting.weights={car: 1, stop_sign: 5}"],
    ]
    records = _records(make_cfg, settings)
    (experiment,) = group_records(records, ["test/mean/auroc"])
    (cell,) = experiment.cells("test/mean/auroc")
    assert len(experiment.values["test/mean/auroc"][cell]) == 2


def test_settings_an_arm_ignores_keep_it_one_arm(make_cfg):
    """A linear probe never trains its trunk, and a single-task fit uses no weighting: their
    runs stay one arm (identical runs are replicas, not arms)."""
    records = _records(
        make_cfg,
        [
            ["regime=transfer", "regime.n_source=1000", "regime.mode=linear_probe"],
            [
                "regime=transfer",
                "regime.n_source=1000",
                "regime.mode=linear_probe",
                "regime.trunk_lr_scale=0.1",
            ],
            ["regime=single_task", "mtl/weighting=gradnorm"],
            ["regime=single_task", "mtl/weighting=gradnorm", "mtl.weighting.alpha=0.5"],
        ],
    )
    names = {r["arm"] for r in records}
    assert names == {"related/linear_probe n_source=1000", "single_task"}
    (experiment,) = group_records(records, ["test/mean/auroc"])
    arms = {arm for cell in experiment.values["test/mean/auroc"].values() for arm in cell}
    assert arms == names
