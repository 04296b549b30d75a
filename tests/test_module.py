import math

import pytest
import torch

from tasklab.data.tasks import TaskSpec
from tasklab.models.backbones import TrunkShape
from tasklab.models.multihead import build_net
from tasklab.module import NonFiniteLossError, TaskLabModule

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


def test_finite_training_does_not_raise():
    module = _fit(torch.ones(4, 3))
    assert module._window == []  # every window logged
    assert module.bar_loss is not None and math.isfinite(module.bar_loss)


def test_the_progress_bar_shows_the_last_windows_training_loss():
    from tasklab.regimes.lightning_trainer import TrainingLossBar

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
