import torch

from tasklab.data.datamodule import WorldDataModule
from tasklab.data.driving import DrivingWorld
from tasklab.data.label_masks import TaskBudget
from tasklab.data.tasks import TaskSpec

TASKS = [TaskSpec(n) for n in ("pedestrian", "car", "stop_sign", "traffic_light")]


def _dm(budgets, materialise_max=300_000, tasks=TASKS):
    dm = WorldDataModule(
        DrivingWorld(seed=0),
        tasks,
        budgets,
        seed=4,
        batch_size=50,
        n_val=40,
        n_test=60,
        materialise_max=materialise_max,
    )
    dm.setup()
    return dm


def test_each_task_has_its_own_size_and_rate():
    budgets = {
        "pedestrian": TaskBudget(2000, 1.0),
        "car": TaskBudget(100, 1.0),
        "stop_sign": TaskBudget(2000, 0.25),
        "traffic_light": TaskBudget(500, 0.5),
    }
    counts = _dm(budgets).labelled_counts()
    assert counts["pedestrian"] == 2000 and counts["car"] == 100
    assert 440 < counts["stop_sign"] < 560 and 215 < counts["traffic_light"] < 285


def test_single_task_sees_only_its_labelled_rows():
    dm = _dm({"car": TaskBudget(1000, 0.3)}, tasks=[TaskSpec("car")])
    split = dm.splits["train"]
    assert len(split) == dm.labelled_counts()["car"] and bool(split.mask.all())


def test_streamed_and_materialised_batches_are_identical():
    budgets = {t.name: TaskBudget(300, 0.5) for t in TASKS}
    kept, streamed = _dm(budgets), _dm(budgets, materialise_max=0)
    assert streamed.splits["train"]._x is None and kept.splits["train"]._x is not None
    a, b = next(iter(kept.train_dataloader())), next(iter(streamed.train_dataloader()))
    for key in ("x", "y", "mask"):
        assert torch.equal(a[key], b[key])
    assert a["x"].dtype == torch.float32 and float(a["x"].max()) <= 1.0
    assert float(a["y"][~a["mask"]].abs().sum()) == 0.0  # unknown labels are zero-filled


def test_an_evaluation_only_fit_renders_no_training_images():
    # a staged pipeline evaluated on 100,000 pairs it never trains on spent a minute drawing them
    budgets = {t.name: TaskBudget(3000, 1.0) for t in TASKS}
    dm = WorldDataModule(
        DrivingWorld(seed=0), TASKS, budgets, seed=4, n_val=40, n_test=60, train_batches=0
    )
    dm.setup()
    assert dm.splits["train"]._x is None and dm.splits["test"]._x is not None
    assert dm.labelled_counts()["car"] == 3000


def test_validation_and_test_do_not_depend_on_training_size():
    small = _dm({t.name: TaskBudget(100, 1.0) for t in TASKS})
    large = _dm({t.name: TaskBudget(5000, 0.2) for t in TASKS})
    for split in ("val", "test"):
        assert torch.equal(small.splits[split]._x, large.splits[split]._x)
        assert bool(small.splits[split].mask.all())
    assert not torch.equal(small.splits["val"]._x, small.splits["test"]._x[:40])


def test_epochs_reshuffle_deterministically():
    budgets = {t.name: TaskBudget(200, 1.0) for t in TASKS}
    first, again = _dm(budgets).train_dataloader(), _dm(budgets).train_dataloader()
    e1 = torch.cat([b["x"][:, 0, 0, 0] for b in first])
    e2 = torch.cat([b["x"][:, 0, 0, 0] for b in first])
    assert not torch.equal(e1, e2)
    assert torch.equal(e1, torch.cat([b["x"][:, 0, 0, 0] for b in again]))
    assert len(first) == 4  # ceil(200 / 50)


def test_a_step_budget_spans_passes_with_fresh_shuffles():
    budgets = {t.name: TaskBudget(100, 1.0) for t in TASKS}
    dm = _dm(budgets)
    stream = dm.train_dataloader()
    stream.total_batches = 5  # 2 batches per pass of 100 rows
    firsts = [b["x"][:, 0, 0, 0] for b in stream]
    assert len(firsts) == 5 and stream.passes == 3
    assert not torch.equal(torch.cat(firsts[0:2]), torch.cat(firsts[2:4]))
    assert torch.equal(torch.cat(firsts[0:2]).sort().values, torch.cat(firsts[2:4]).sort().values)


def test_fits_of_one_run_share_the_rendered_evaluation_sets():
    cache = {}
    fits = [
        WorldDataModule(
            DrivingWorld(seed=0),
            [TaskSpec(name)],
            {name: TaskBudget(50, 1.0)},
            seed=4,
            n_val=40,
            n_test=60,
            eval_cache=cache,
        )
        for name in ("car", "stop_sign")
    ]
    for dm in fits:
        dm.setup()
    assert len(cache) == 2  # val and test, rendered once for both fits
    car, stop = fits[0].splits["test"], fits[1].splits["test"]
    assert car._x is stop._x
    fresh = _dm({t.name: TaskBudget(50, 1.0) for t in TASKS}).splits["test"]
    assert torch.equal(car._x, fresh._x)
    assert torch.equal(car._y[:, 0], fresh._y[:, 1]) and torch.equal(stop._y[:, 0], fresh._y[:, 2])


class _GappyWorld:
    """A world whose second task is unknown on every third example (as in a user's file)."""

    task_names = ("a", "b")
    input_shape = (2,)

    @property
    def task_specs(self) -> dict[str, TaskSpec]:
        return {"a": TaskSpec("a"), "b": TaskSpec("b")}

    def render(self, stream: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.stack([index.float(), torch.full_like(index, stream).float()], dim=1)
        b = torch.where(index % 3 == 0, torch.nan, (index % 2).float())
        return x, torch.stack([torch.ones_like(b), b], dim=1)


def test_labels_the_data_lack_are_masked_in_every_split():
    budgets = {"a": TaskBudget(30, 1.0), "b": TaskBudget(30, 1.0)}
    for materialise_max in (300_000, 0):  # rendered in advance, and streamed
        dm = WorldDataModule(
            _GappyWorld(),
            [TaskSpec("a"), TaskSpec("b")],
            budgets,
            seed=0,
            batch_size=30,
            n_val=9,
            n_test=12,
            materialise_max=materialise_max,
        )
        dm.setup()
        batch = next(iter(dm.train_dataloader()))
        gaps = batch["x"][:, 0] % 3 == 0
        assert bool(batch["mask"][:, 0].all()) and torch.equal(batch["mask"][:, 1], ~gaps)
        assert not torch.isnan(batch["y"]).any()  # unknown entries are zero-filled
        test = dm.splits["test"].batch(torch.arange(12))
        assert int(test["mask"][:, 1].sum()) == 8
    materialised = WorldDataModule(
        _GappyWorld(), [TaskSpec("a"), TaskSpec("b")], budgets, seed=0, n_val=9, n_test=12
    )
    assert materialised.labelled_counts() == {"a": 30, "b": 20}


def test_a_last_batch_too_small_for_the_network_joins_the_one_before():
    from tasklab.data.batches import BatchStream, RenderedSplit
    from tasklab.data.vectors import VectorWorld

    world = VectorWorld(seed=0)
    mask = torch.ones(33, 1, dtype=torch.bool)
    split = RenderedSplit(world, 1000, torch.arange(33), torch.tensor([0]), mask, True)
    plain = [len(r) for r in BatchStream(split, 16, True, 0).row_batches()]
    assert plain == [16, 16, 1]
    stream = BatchStream(split, 16, True, 0, total_batches=5, min_rows=2)
    sizes = [len(r) for r in stream.row_batches()]
    assert sizes == [16, 17, 16, 17, 16] and stream.batches_per_pass == 2
    resumed = BatchStream(split, 16, True, 0, total_batches=5, start=3, min_rows=2)
    whole = list(BatchStream(split, 16, True, 0, total_batches=5, min_rows=2).row_batches())
    assert [r.tolist() for r in resumed.row_batches()] == [r.tolist() for r in whole[3:]]
