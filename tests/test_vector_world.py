"""The vector world: one group of related tasks is the original world bit for bit; several
groups make tasks that share no features."""

from __future__ import annotations

import hashlib

import torch

from tasklab.data.vectors import VectorWorld


def test_one_group_renders_the_original_world_bit_for_bit():
    x, y = VectorWorld(seed=3, n_tasks=6).render(5, torch.arange(2000))
    digest = hashlib.sha256(x.numpy().tobytes() + y.numpy().tobytes()).hexdigest()[:16]
    assert digest == "65ca8e9a96fecf17"  # rendered before task groups existed


def test_each_group_reads_its_own_features():
    world = VectorWorld(seed=1, n_tasks=4, task_groups=2, label_noise=0.0)
    w, v, centre = world._weights
    assert w.shape == (2, world.n_hidden, world.n_features)
    torch.testing.assert_close(w[0], VectorWorld(seed=1, n_tasks=4)._weights[0][0])
    x, y = world.render(0, torch.arange(500))
    for j in range(4):
        g = j % 2
        expected = (torch.relu(x @ w[g].T) @ v[j] - centre[j]) > 0
        assert torch.equal(y[:, j].bool(), expected)
    assert 0.4 < float(y.mean()) < 0.6  # still balanced


def test_tasks_of_different_groups_are_unrelated():
    """Shared features make tasks' labels agree beyond chance; separate ones do not."""

    def agreement(world: VectorWorld) -> float:
        _, y = world.render(0, torch.arange(20_000))
        return float((2 * y - 1).T.corrcoef().abs().fill_diagonal_(0).sum() / (8 * 7))

    related = agreement(VectorWorld(seed=0, n_tasks=8, label_noise=0.0))
    unrelated = agreement(VectorWorld(seed=0, n_tasks=8, task_groups=8, label_noise=0.0))
    assert related > 0.15 and unrelated < related / 2, (related, unrelated)


def test_a_world_setting_may_follow_another_setting(make_cfg):
    from tasklab.data.registry import build_world

    cfg = make_cfg("experiment=vectors_mtl_unrelated_tasks", "data.vectors.n_tasks=6")
    world = build_world(cfg.data)
    assert world.task_groups == 6 and world.n_tasks == 6  # ${data.vectors.n_tasks}
    assert list(cfg.data.tasks) == [f"t{k}" for k in range(6)]  # ${tasklab_numbered:…}
