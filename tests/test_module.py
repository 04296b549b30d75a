import math

import pytest
import torch

from tasklab.data.tasks import TaskSpec
from tasklab.fit.module import NonFiniteLossError, TaskLabModule
from tasklab.models.backbones import TrunkShape
from tasklab.models.multihead import build_net

from .conftest import bare_trainer


class _Batches:
    def __init__(self, x: torch.Tensor, n: int) -> None:
        self.x, self.n = x, n

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        for _ in range(self.n):
            yield {"x": self.x, "y": torch.ones(4, 1), "mask": torch.ones(4, 1, dtype=torch.bool)}


def _fit(x: torch.Tensor, steps: int = 3, log_every: int = 1) -> TaskLabModule:
    tasks = [TaskSpec("a")]
    torch.manual_seed(0)
    module = TaskLabModule(
        build_net("mlp", (3,), TrunkShape(width=8, depth=1), tasks),
        tasks,
        log_every_n_steps=log_every,
    )
    trainer = bare_trainer(steps, log_every_n_steps=log_every)
    trainer.fit(module, train_dataloaders=_Batches(x, steps))
    return module


@pytest.mark.parametrize("log_every", [1, 50])  # caught at a log step, or at the end
def test_nan_inputs_stop_training_with_a_clear_error(log_every):
    x = torch.ones(4, 3)
    x[0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match=r"training loss became nan.*lower optim\.lr"):
        _fit(x, log_every=log_every)


class _NanFromStep:
    """Finite batches, then NaN inputs from step ``first_nan`` on."""

    def __init__(self, n: int, first_nan: int) -> None:
        self.n, self.first_nan = n, first_nan

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        for step in range(self.n):
            x = torch.full((4, 3), float("nan") if step >= self.first_nan else 1.0)
            yield {"x": x, "y": torch.ones(4, 1), "mask": torch.ones(4, 1, dtype=torch.bool)}


def test_a_failed_checkpoint_write_never_hides_the_fits_own_error(tmp_path, monkeypatch, capsys):
    """The background writer's error surfaces at teardown, which Lightning runs while the fit
    is already failing: the NaN loss must stay the error, the disk's a warning line."""
    import threading

    from pytorch_lightning.callbacks import Callback, ModelCheckpoint

    from tasklab.runs.checkpoints import AtomicCheckpointIO, checkpoint_writer

    fit_failed = threading.Event()

    class SignalFailure(Callback):
        def on_exception(self, trainer, pl_module, exception):
            fit_failed.set()

    def disk_full(self, checkpoint, path, storage_options=None):
        fit_failed.wait(timeout=30)  # the write fails while the fit is failing
        raise OSError("No space left on device")

    monkeypatch.setattr(AtomicCheckpointIO, "save_checkpoint", disk_full)
    tasks = [TaskSpec("a")]
    torch.manual_seed(0)
    module = TaskLabModule(
        build_net("mlp", (3,), TrunkShape(width=8, depth=1), tasks), tasks, log_every_n_steps=1
    )
    at_step_2 = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=2, save_top_k=-1)
    trainer = bare_trainer(
        4,
        enable_checkpointing=True,
        callbacks=[at_step_2, SignalFailure()],
        plugins=[checkpoint_writer()],
    )
    with pytest.raises(NonFiniteLossError, match="training loss became nan by step 3;"):
        trainer.fit(module, train_dataloaders=_NanFromStep(4, first_nan=2))  # the third step
    assert "a checkpoint write also failed (OSError: No space left on device)" in (
        capsys.readouterr().err
    )


def test_a_failed_checkpoint_write_alone_fails_the_fit(tmp_path):
    from tasklab.runs.checkpoints import checkpoint_writer

    writer = checkpoint_writer()
    writer.save_checkpoint({"state_dict": {}}, tmp_path / "no_such_dir" / "x" / "last.ckpt")
    blocked = tmp_path / "blocker"
    blocked.write_text("a file where a folder should be")
    writer.save_checkpoint({"state_dict": {}}, blocked / "last.ckpt")
    with pytest.raises(OSError):
        writer.teardown()  # a fit that ends well still reports its lost checkpoint
    writer.teardown()  # reported once


def test_finite_training_does_not_raise():
    module = _fit(torch.ones(4, 3))
    assert module._window == []  # every window logged
    assert module.bar_loss is not None and math.isfinite(module.bar_loss)


def test_each_training_log_window_holds_log_every_n_steps_steps():
    """Windows of 2 steps, each filed under the number of steps taken by then; a window one
    step short, or a last step never logged, shows as a wrong mean or row."""
    from pytorch_lightning.callbacks import Callback
    from pytorch_lightning.loggers.logger import Logger

    class Rows(Logger):
        name, version = "rows", 0

        def __init__(self):
            super().__init__()
            self.rows = []

        def log_metrics(self, metrics, step=None):
            self.rows.append((step, metrics))

        def log_hyperparams(self, *args, **kwargs):
            pass

    class StepLosses(Callback):
        def __init__(self):
            self.losses = []

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.losses.append(float(outputs["loss"] if isinstance(outputs, dict) else outputs))

    tasks = [TaskSpec("a")]
    torch.manual_seed(0)
    module = TaskLabModule(
        build_net("mlp", (3,), TrunkShape(width=8, depth=1), tasks),
        tasks,
        lr=0.1,
        log_every_n_steps=2,
    )
    rows, losses = Rows(), StepLosses()
    trainer = bare_trainer(6, logger=rows, callbacks=[losses])
    trainer.fit(module, train_dataloaders=_Batches(torch.ones(4, 3), 6))
    logged = [(step, metrics["train/loss"]) for step, metrics in rows.rows]
    assert [step for step, _ in logged] == [2, 4, 6]
    assert len(set(losses.losses)) == 6  # the loss moves every step: the windows are visible
    windows = [losses.losses[0:2], losses.losses[2:4], losses.losses[4:6]]
    for (_, mean), pair in zip(logged, windows, strict=True):
        assert mean == pytest.approx(sum(pair) / 2, rel=1e-6)


def test_the_progress_bar_shows_the_last_windows_training_loss():
    from tasklab.fit.lightning_trainer import TrainingLossBar

    bar = TrainingLossBar()
    tasks = [TaskSpec("a")]
    torch.manual_seed(0)
    module = TaskLabModule(
        build_net("mlp", (3,), TrunkShape(width=8, depth=1), tasks), tasks, log_every_n_steps=2
    )
    trainer = bare_trainer(4, enable_progress_bar=True, callbacks=[bar])
    trainer.fit(module, train_dataloaders=_Batches(torch.ones(4, 3), 4))
    assert module.bar_loss is not None and module.bar_loss > 0
    assert bar.get_metrics(trainer, module)["loss"] == f"{module.bar_loss:.3g}"


def test_cosine_schedule_decays_the_learning_rate_to_zero_over_the_fit():
    net = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 1)})
    module = TaskLabModule(net, [TaskSpec("a")], lr=1.0, schedule="cosine", total_steps=4)
    configured = module.configure_optimizers()
    optimiser, schedule = configured["optimizer"], configured["lr_scheduler"]
    rates = []
    for _ in range(4):
        optimiser.step()
        schedule.step()
        rates.append(optimiser.param_groups[0]["lr"])
    # 0.5 (1 + cos(pi t / 4)) for t = 1..4
    torch.testing.assert_close(torch.tensor(rates), torch.tensor([0.853553, 0.5, 0.146447, 0.0]))
    constant = TaskLabModule(net, [TaskSpec("a")], lr=1.0, total_steps=4)
    assert isinstance(constant.configure_optimizers(), torch.optim.AdamW)
