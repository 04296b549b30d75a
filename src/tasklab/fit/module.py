"""The one LightningModule for every regime.

It knows a network with one output per task, the tasks' specs, and the optimiser settings;
which tasks it trains, on which data and from which initial weights is decided by the regime
that builds it. Training logs only every ``log_every_n_steps`` steps from a loss accumulated on
the device: a ``self.log`` call per step would cost a small model more than half its speed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pytorch_lightning as pl
import torch

from tasklab.data.tasks import TaskSpec
from tasklab.fit.affinity import AffinityMeter, lookahead_affinity
from tasklab.fit.losses import masked_multitask_loss
from tasklab.fit.metrics import TaskMetrics
from tasklab.fit.prediction_collector import PredictionCollector
from tasklab.fit.step_dispatch import PlainDispatch
from tasklab.metric_keys import SPLITS
from tasklab.models.memory_format import train_in_preferred_layout
from tasklab.predictions import TaskPredictions
from tasklab.weightings import LossWeighting


class NonFiniteLossError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


_PLAIN_TYPES = frozenset({int, float, str, bool, type(None)})


class TaskLabModule(pl.LightningModule):
    def __setattr__(self, name: str, value: object) -> None:
        # Lightning sets bookkeeping attributes (the current hook's name, step counters) on the
        # module dozens of times per step, and ``nn.Module.__setattr__`` checks each against
        # parameters, buffers and submodules. A plain value replacing a plain attribute already
        # in ``__dict__`` is none of those, so it skips the checks (measured: a tiny MLP ~4%
        # faster).
        if type(value) in _PLAIN_TYPES and name in self.__dict__:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def __init__(
        self,
        net: torch.nn.Module,
        tasks: Sequence[TaskSpec],
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        log_every_n_steps: int = 50,
        lr_scales: Sequence[tuple[torch.nn.Module, float]] = (),
        frozen: Sequence[torch.nn.Module] = (),
        task_weights: dict[str, float] | None = None,
        schedule: str = "constant",
        total_steps: int = 1,
        weighting: LossWeighting | None = None,
        affinity_every: int = 0,
    ) -> None:
        """``lr_scales`` trains the named submodules at ``lr`` times a factor (a gentler trunk
        when fine-tuning); ``frozen`` submodules get no updates and stay in eval mode, so their
        BatchNorm statistics do not drift either. ``task_weights`` scales each task's loss
        (default 1: an auxiliary task can count for less than the target). ``weighting``
        replaces the plain masked loss's equal-weight sum with one of ``tasklab.weightings``; its
        per-step task weights are logged as ``train/<task>/weight``."""
        super().__init__()
        self.net, self.tasks = net, list(tasks)
        self.task_weights = task_weights
        self.weighting = weighting  # a submodule: uncertainty weighting's parameters train too
        self.schedule, self.total_steps = schedule, max(1, total_steps)
        self.lr, self.weight_decay = lr, weight_decay
        self._lr_scales = list(lr_scales)
        self._frozen = list(frozen)
        for module in self._frozen:
            module.requires_grad_(False)
            module.eval()  # Lightning keeps the modes it finds at the start of a fit
        self.log_every_n_steps = max(1, log_every_n_steps)
        self.split_metrics = torch.nn.ModuleDict(
            {split: TaskMetrics(self.tasks) for split in ("val", "test")}
        )
        self.latest: dict[str, float] = {}
        self.bar_loss: float | None = None  # the last logging window's mean training loss
        # inter-task affinity by lookahead every ``affinity_every`` steps (0: never)
        self.affinity_every = affinity_every if len(self.tasks) > 1 else 0
        self.affinity = AffinityMeter()
        # the step of the last validation: a fit whose last step was validated is not again
        self.validated_at_step: int | None = None
        # per-example predictions of the last evaluation of each split (see ``predictions``)
        self._collectors = {split: PredictionCollector(self.tasks) for split in SPLITS}
        self.predictions: dict[str, dict[str, TaskPredictions]] = {}
        # Manual optimisation skips automatic optimisation's per-step closure machinery (with
        # the DataModule's direct batch transfer, a tiny MLP ~4% faster), and gradient-based
        # loss weightings need it anyway.
        self.automatic_optimization = False
        self.dispatch = PlainDispatch()
        # The logging window's steps: (loss, per-task sums, per-task counts) as each step left
        # them, summed once per window (``_window_sums``).
        self._window: list[tuple[torch.Tensor, dict, dict]] = []
        # per task: the sum of its weights and the number of steps it took part in
        self._weight_window = torch.zeros(2 * len(self.tasks))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(x)

    def training_step(
        self, batch: dict[str, torch.Tensor] | list[dict[str, torch.Tensor]], batch_idx: int
    ) -> torch.Tensor:
        return each_step(batch, self._train_step)

    def _train_step(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        optimiser = self.optimizers()
        outputs = self.net(batch["x"])
        loss, sums, counts = masked_multitask_loss(
            self.tasks, outputs, batch["y"], batch["mask"], self.task_weights
        )
        if self.affinity_every and self.global_step % self.affinity_every == 0:
            self._measure_affinity(batch, sums, counts, optimiser)
        weights = None
        if self.weighting is not None:
            loss, weights = self.weighting.combine(sums, counts, batch["y"].shape[0])
        optimiser.zero_grad(set_to_none=True)  # type: ignore[union-attr]
        if self.weighting is not None and self.weighting.shared_gradients:
            shared = list(getattr(self.net, "trunk", self.net).parameters())
            # a gradient aggregation that weighs the tasks' gradients says with which weights
            weights = self.weighting.backward(loss, sums, counts, shared, self._backward) or weights
        else:
            self._backward(loss)
        if weights is not None:
            self._accumulate_weights(weights)
        self.dispatch.step(optimiser)  # type: ignore[arg-type]
        if self.schedule != "constant":
            self.lr_schedulers().step()  # type: ignore[union-attr]
        if self.weighting is not None and self.weighting.needs_losses_after_step:
            self.weighting.after_step(*self._losses_after_step(batch))
        self._accumulate(loss, sums, counts)
        # the step just taken is counted: a window holds log_every_n_steps steps and is filed
        # under the number of steps taken by then, as validation rows are
        if self.global_step % self.log_every_n_steps == 0:
            self._flush_training_log()
        return loss

    def _backward(self, loss: torch.Tensor) -> None:
        self.dispatch.backward(self, loss)

    def on_fit_start(self) -> None:
        train_in_preferred_layout(self.net, self.device)

    def on_train_start(self) -> None:
        self.dispatch.decide(self.trainer, self)

    def _measure_affinity(self, batch, sums, counts, optimiser) -> None:
        present = {n: sums[n] / counts[n] for n in (t.name for t in self.tasks) if counts[n] > 0}
        shared = list(getattr(self.net, "trunk", self.net).parameters())
        lr = float(optimiser.param_groups[0]["lr"])  # type: ignore[union-attr]
        self.affinity.add(lookahead_affinity(self.net, self.tasks, batch, present, shared, lr))

    def _losses_after_step(
        self, batch: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The batch's per-task loss sums and counts under the updated weights, in training
        mode as the step saw it, with normalisation statistics left as the step left them."""
        buffers = [(b, b.detach().clone()) for b in self.net.buffers()]
        with torch.no_grad():
            _, sums, counts = masked_multitask_loss(
                self.tasks, self.net(batch["x"]), batch["y"], batch["mask"], self.task_weights
            )
            for buffer, saved in buffers:
                buffer.copy_(saved)
        return sums, counts

    def _accumulate(self, loss, sums, counts) -> None:
        """Keeps the step's values for the window. Stacking them at every step cost ~30 us
        of a tiny MLP's ~1.3 ms step; kept, they are summed with one stack per quantity per
        window. Detached, so that no step's graph outlives it (a weighting may keep one)."""
        self._window.append((loss.detach(), {n: v.detach() for n, v in sums.items()}, counts))

    def _window_sums(self) -> list[float]:
        """[loss, per-task loss sums, per-task label counts], summed over the window."""
        names = [t.name for t in self.tasks]
        with torch.no_grad():
            columns = [torch.stack([loss for loss, _, _ in self._window]).sum()]
            for part in (1, 2):  # the sums, then the counts
                steps = [step[part] for step in self._window]
                columns += [torch.stack([values[n] for values in steps]).sum() for n in names]
            return torch.stack(columns).tolist()

    def _accumulate_weights(self, weights: dict[str, torch.Tensor]) -> None:
        n_tasks = len(self.tasks)
        for k, spec in enumerate(self.tasks):
            if spec.name in weights:
                self._weight_window[k] += float(weights[spec.name])
                self._weight_window[n_tasks + k] += 1

    def _flush_training_log(self) -> None:
        if not self._window:
            return
        n_tasks = len(self.tasks)
        window = self._window_sums()
        mean_loss = window[0] / len(self._window)
        if not math.isfinite(mean_loss):
            raise NonFiniteLossError(
                f"training loss became {mean_loss} by step {self.global_step}; "
                "lower optim.lr or check the inputs for NaN/inf"
            )
        values = {"train/loss": mean_loss}
        for k, spec in enumerate(self.tasks):
            task_sum, count = window[1 + k], window[1 + n_tasks + k]
            if count > 0:
                values[f"train/{spec.name}/loss"] = task_sum / count
            weight_sum, steps = self._weight_window[k], self._weight_window[n_tasks + k]
            if self.weighting is not None and steps > 0:
                values[f"train/{spec.name}/weight"] = float(weight_sum / steps)
        self._write_to_loggers(values, self.global_step)
        self.bar_loss = mean_loss  # shown by the progress bar (``TrainingLossBar``)
        self._window = []
        self._weight_window.zero_()

    def _write_to_loggers(self, values: dict[str, float], step: int) -> None:
        """Values straight to the loggers, filed as Lightning files them (``logger_row``).
        ``self.log`` costs ~1 ms a key in a tiny model's step budget (measured with cProfile:
        7.5 ms per window of 10 keys) and, with several steps per call, would file rows under
        its call count; these values need none of its reduction or syncing (training sums
        are this process's own, evaluation metrics are torchmetrics', already gathered)."""
        row = logger_row(values, self.trainer.current_epoch)
        for logger in self.loggers:
            logger.log_metrics(row, step=step)
            logger.save()

    def on_train_end(self) -> None:
        # A NaN in the last partial window must still fail the run.
        total = self._window_sums()[0] if self._window else 0.0
        if not math.isfinite(total):
            raise NonFiniteLossError(
                f"training loss became {total} near the end of training; "
                "lower optim.lr or check the inputs for NaN/inf"
            )

    def _eval_step(self, split: str, batch: dict[str, torch.Tensor]) -> None:
        outputs = self.net(batch["x"])
        self.split_metrics[split].update(outputs, batch["y"], batch["mask"])
        if "index" in batch:
            self._collectors[split].update(outputs, batch["y"], batch["mask"], batch["index"])

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step("test", batch)

    def _eval_epoch_end(self, split: str) -> None:
        values = self.split_metrics[split].compute(split)
        self.split_metrics[split].reset()
        self.latest.update(values)
        # Under DDP each process sees only its share of the rows: no predictions are kept
        # then, and comparisons fall back to intervals over seeds (labelled as such).
        if self.trainer.world_size == 1:
            self.predictions[split] = self._collectors[split].result()
        self._collectors[split].reset()
        if len(self.tasks) == 1:
            # a fit of one task logs its task's names only: in W&B, ``test/mean/auroc`` always
            # means a mean over several tasks (a single-task arm logs one run per task)
            values = {k: v for k, v in values.items() if f"{split}/mean/" not in k}
        if values:
            self._write_to_loggers(values, evaluation_step(self.trainer))

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")
        self.validated_at_step = self.global_step

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def train(self, mode: bool = True) -> TaskLabModule:
        # Lightning calls train() again after each validation run.
        super().train(mode)
        for module in self._frozen:
            module.eval()
        return self

    def configure_optimizers(self):
        scaled: dict[int, float] = {}
        for module, scale in self._lr_scales:
            scaled.update({id(p): scale for p in module.parameters()})
        groups: dict[float, list[torch.nn.Parameter]] = {}
        trained = [*self.net.parameters()]
        if self.weighting is not None:
            trained += list(self.weighting.parameters())
            scale = self.weighting.lr_scale
            scaled.update({id(p): scale for p in self.weighting.parameters()})
        for param in trained:
            if param.requires_grad:
                groups.setdefault(scaled.get(id(param), 1.0), []).append(param)
        return adamw_with_schedule(
            [{"params": params, "lr": self.lr * scale} for scale, params in groups.items()],
            self.lr,
            self.weight_decay,
            self.schedule,
            self.total_steps,
        )


def each_step(
    batch: dict[str, torch.Tensor] | list[dict[str, torch.Tensor]],
    step: Callable[[dict[str, torch.Tensor]], torch.Tensor],
) -> torch.Tensor:
    """``step`` on a batch, or on each of a list of batches (``trainer.steps_per_call``):
    Lightning's per-call cost is paid once for all of them, and each step is exactly the step
    it would be; the last loss is returned."""
    if not isinstance(batch, list):
        return step(batch)
    for one in batch:
        loss = step(one)
    return loss


def logger_row(values: dict[str, float], epoch: int) -> dict[str, float]:
    """A row as Lightning hands it to its loggers: float32 values and the epoch."""
    return {"epoch": epoch, **{key: float(np.float32(v)) for key, v in values.items()}}


def evaluation_step(trainer: pl.Trainer) -> int:
    """The step Lightning files an evaluation under: the last training step's index inside
    a fit, the number of steps taken after it."""
    return int(trainer.global_step) - int(trainer.state.fn == "fit")


def adamw_with_schedule(
    groups: list[dict], lr: float, weight_decay: float, schedule: str, total_steps: int
):
    """AdamW over ``groups``, with a cosine decay to 0 over ``total_steps`` unless
    ``schedule == "constant"`` (Lightning's ``configure_optimizers`` return value)."""
    optimiser = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    if schedule == "constant":
        return optimiser
    steps = max(1, total_steps)
    cosine = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))
    )
    return {"optimizer": optimiser, "lr_scheduler": cosine}
