import torch

from tasklab.data.driving import TASK_NAMES, DrivingWorld
from tasklab.data.world import TEST_STREAM, VAL_STREAM, train_stream


def test_render_shapes_and_types():
    x, y = DrivingWorld(seed=0).render(train_stream(0), torch.arange(8))
    assert x.shape == (8, 3, 32, 32) and x.dtype == torch.uint8
    assert y.shape == (8, len(TASK_NAMES)) and set(y[:, :5].unique().tolist()) <= {0.0, 1.0}


def test_sample_is_pure_function_of_seed_and_index_so_subsets_nest():
    world = DrivingWorld(seed=3)
    big_x, big_y = world.render(train_stream(0), torch.arange(300))
    small_x, small_y = world.render(train_stream(0), torch.arange(100))
    assert torch.equal(big_x[:100], small_x) and torch.equal(big_y[:100], small_y)
    # an index far out (within the 10M range) renders the same alone or in a batch
    far = torch.tensor([9_999_999, 5, 1_000_000])
    alone, _ = world.render(train_stream(0), far[:1])
    assert torch.equal(world.render(train_stream(0), far)[0][:1], alone)


def test_streams_and_world_seeds_differ():
    world = DrivingWorld(seed=0)
    index = torch.arange(64)
    train, _ = world.render(train_stream(0), index)
    val, _ = world.render(VAL_STREAM, index)
    test, _ = world.render(TEST_STREAM, index)
    other_seed, _ = world.render(train_stream(1), index)
    for other in (val, test, other_seed):
        assert not (train == other).all(dim=(1, 2, 3)).any()
    assert not torch.equal(train, DrivingWorld(seed=1).render(train_stream(0), index)[0])


def test_labels_are_balanced_and_independent():
    y = DrivingWorld(seed=0).labels(train_stream(0), torch.arange(20_000))[:, :4]
    assert torch.allclose(y.mean(0), torch.full((4,), 0.5), atol=0.02)
    corr = torch.corrcoef(y.T)
    assert (corr - torch.eye(4)).abs().max() < 0.03


def test_relation_label_is_half_of_the_scenes_with_both_objects():
    y = DrivingWorld(seed=0).labels(train_stream(0), torch.arange(20_000))
    both = (y[:, 0] == 1) & (y[:, 1] == 1)
    relation = y[:, TASK_NAMES.index("ped_left_of_car")]
    assert torch.equal(relation * both, relation)  # positive only when both are present
    assert abs(relation[both].mean().item() - 0.5) < 0.03


def test_relation_label_follows_the_drawn_positions():
    # no clutter, no noise: the orange (pedestrian) pixels lie left of the blue (car) pixels
    world = DrivingWorld(seed=0, noise_std=0.0, n_clutter=0, presence_prob=1.0)
    x, y = world.render(train_stream(0), torch.arange(300))
    r, g, b = (x[:, c].float() for c in range(3))
    cols = torch.arange(x.shape[-1], dtype=torch.float32)

    def mean_column(mask: torch.Tensor) -> torch.Tensor:
        weights = mask.float().sum(dim=1)  # (B, W)
        return (weights * cols).sum(1) / weights.sum(1).clamp(min=1)

    orange = (r > 180) & (g > 110) & (g < 200) & (b < 120)
    blue = (b - r > 80) & (b - g > 40)
    gap = mean_column(blue) - mean_column(orange)
    # objects can overlap and hide each other; judge scenes where both are clearly apart
    clear = (orange.sum((1, 2)) >= 8) & (blue.sum((1, 2)) >= 8) & (gap.abs() > 3)
    label = y[:, TASK_NAMES.index("ped_left_of_car")] == 1
    assert clear.sum() > 150
    assert torch.equal((gap > 0)[clear], label[clear])


def test_present_objects_change_the_image():
    world = DrivingWorld(seed=0, noise_std=0.0, n_clutter=0)
    index = torch.arange(2000)
    x, y = world.render(train_stream(0), index)
    # with no clutter or noise, the share of strongly blue pixels tracks the car label
    blue = ((x[:, 2].float() - x[:, 0].float()) > 80).float().mean(dim=(1, 2))
    assert blue[y[:, 1] == 1].mean() > 5 * blue[y[:, 1] == 0].mean()


def test_labels_agree_with_render():
    world = DrivingWorld(seed=2)
    index = torch.arange(500)
    assert torch.equal(world.render(VAL_STREAM, index)[1], world.labels(VAL_STREAM, index))


def test_real_objects_carry_the_shared_rim_and_decoys_do_not():
    index = torch.arange(200)

    def white_pixels(**knobs):
        world = DrivingWorld(seed=0, noise_std=0.0, **knobs)
        x, y = world.render(train_stream(0), index)
        return (x.min(dim=1).values > 240).sum(dim=(1, 2)), y

    rimmed, y = white_pixels(presence_prob=1.0, n_clutter=0)
    assert bool(y[:, :4].all()) and bool((rimmed > 0).all())
    decoys, y = white_pixels(presence_prob=0.0, n_clutter=4, decoy_rate=1.0)
    assert not y.any() and int(decoys.sum()) == 0  # four decoys per image, none rimmed, all "0"
    empty, _ = white_pixels(presence_prob=0.0, n_clutter=0)
    assert int(empty.sum()) == 0


def test_object_area_is_the_summed_squared_size_of_the_objects_present():
    world = DrivingWorld(min_object_size=0.25, max_object_size=0.25)
    _, y = world.render(0, torch.arange(200))
    present = y[:, :4].sum(dim=1)
    area = y[:, TASK_NAMES.index("object_area")]
    torch.testing.assert_close(area, present * (0.25 * 32) ** 2)
    spec = DrivingWorld().task_specs["object_area"]
    assert (spec.kind, spec.scale) == ("regression", 1.0) and 150 < spec.loc < 250
