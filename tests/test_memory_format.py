"""CNNs train channels-last on a CPU: the same Parameter objects (the optimiser keeps
updating them), outputs equal to the default layout's up to float rounding, MLPs untouched."""

from __future__ import annotations

import torch

from tasklab.data.tasks import TaskSpec
from tasklab.fit.module import TaskLabModule
from tasklab.models.backbones import TrunkShape
from tasklab.models.memory_format import prefers_channels_last, train_in_preferred_layout
from tasklab.models.multihead import build_net

from .conftest import bare_trainer

TASKS = [TaskSpec("a")]


def _cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_net("cnn", (3, 16, 16), TrunkShape(width=4, depth=2), TASKS)


class _Images:
    def __len__(self) -> int:
        return 4

    def __iter__(self):
        generator = torch.Generator().manual_seed(2)
        for _ in range(4):
            x = torch.rand(8, 3, 16, 16, generator=generator)
            y = (x.mean(dim=(1, 2, 3)) > 0.5).float()[:, None]
            yield {"x": x, "y": y, "mask": torch.ones(8, 1, dtype=torch.bool)}


def test_a_cpu_fit_trains_its_convolutions_channels_last():
    net = _cnn()
    parameters = list(net.parameters())
    before = [p.detach().clone() for p in parameters]
    module = TaskLabModule(net, TASKS, lr=1e-2, log_every_n_steps=2)
    trainer = bare_trainer(4)
    trainer.fit(module, train_dataloaders=_Images())
    convs = [m.weight for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert all(a is b for a, b in zip(net.parameters(), parameters, strict=True))
    # the optimiser updated the converted parameters themselves
    assert all(not torch.equal(p, b) for p, b in zip(parameters, before, strict=True))


def test_the_layout_changes_outputs_only_by_rounding():
    net = _cnn().eval()
    x = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    default = net(x)["a"]
    train_in_preferred_layout(net, torch.device("cpu"))
    assert torch.allclose(net(x)["a"], default, atol=1e-5)


def test_only_convolutions_on_a_cpu_change_layout():
    mlp = build_net("mlp", (6,), TrunkShape(width=4, depth=1), TASKS)
    assert not prefers_channels_last(mlp, torch.device("cpu"))
    assert prefers_channels_last(_cnn(), torch.device("cpu"))
    assert not prefers_channels_last(_cnn(), torch.device("cuda"))
