"""The vector world: one group of related tasks is the original world bit for bit; several
groups make tasks that share no features."""

from __future__ import annotations

import torch

from tasklab.data.vectors import VectorWorld


def test_one_group_renders_the_original_world():
    """Pinned to values rendered before task groups existed. Float kernels differ in the last
    bits between CPUs (a hash of the bytes made on one machine failed on an AVX-512 one), so
    the pin is a tolerance on x and the labels' counts; a changed random stream moves them all."""
    x, y = VectorWorld(seed=3, n_tasks=6).render(5, torch.arange(2000))
    assert x.shape == (2000, 32) and y.shape == (2000, 6)
    torch.testing.assert_close(
        x[0, :4],
        torch.tensor(
            [-1.647504448890686, -0.9731497764587402, 0.12137489765882492, 0.23830480873584747]
        ),
    )
    assert abs(float(x.sum()) - (-201.2620086669922)) < 1e-2
    assert abs(float((x**2).sum()) - 64095.375) < 1e-1
    counts = y.sum(0).tolist()
    expected = [959.0, 997.0, 1019.0, 991.0, 1018.0, 1026.0]
    # a label whose score is within rounding of its threshold may flip on another CPU
    assert all(abs(c - e) <= 2 for c, e in zip(counts, expected, strict=True)), counts


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
    from tasklab.data.building import build_world

    cfg = make_cfg("experiment=vectors_mtl_unrelated_tasks", "data.vectors.n_tasks=6")
    world = build_world(cfg.data)
    assert world.task_groups == 6 and world.n_tasks == 6  # ${data.vectors.n_tasks}
    assert list(cfg.data.tasks) == [f"t{k}" for k in range(6)]  # ${tasklab_numbered:…}
