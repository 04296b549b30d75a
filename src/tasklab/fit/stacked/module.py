"""The Lightning module of a stacked fit: K members of one config trained in one step.

It does for each member what ``TaskLabModule`` does for one network — the masked multi-task loss,
AdamW (with the same schedule), windowed training logs, validation and test metrics and
per-example predictions — for the features a stacked fit supports (``tasklab.fit.stacked.group``
refuses the rest). A member whose loss turns NaN or infinite fails alone: its failure is
recorded at the same logging boundary where a single fit would stop, and the others go on.
What each member logged is kept and written to its own loggers when the fit ends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytorch_lightning as pl
import torch
from torch import nn

from tasklab.data.tasks import TaskSpec
from tasklab.fit.metrics import TaskMetrics
from tasklab.fit.module import (
    NonFiniteLossError,
    adamw_with_schedule,
    each_step,
    evaluation_step,
    logger_row,
)
from tasklab.fit.prediction_collector import PredictionCollector
from tasklab.fit.stacked.loss import stacked_masked_loss
from tasklab.fit.stacked.net import StackedNet
from tasklab.fit.step_dispatch import PlainDispatch
from tasklab.metric_keys import SPLITS
from tasklab.predictions import TaskPredictions

LoggedRow = tuple[int, dict[str, float]]


class StackedSeedsModule(pl.LightningModule):
    def __init__(
        self,
        net: StackedNet,
        tasks: Sequence[TaskSpec],
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        log_every_n_steps: int = 50,
        schedule: str = "constant",
        total_steps: int = 1,
        static_weights: Sequence[float] | None = None,
    ) -> None:
        """``static_weights`` (one per task): ``mtl/weighting=static``'s Σ w_t · mean loss of
        each task present in the batch, in place of the equal sum."""
        super().__init__()
        self.net, self.tasks, self.members = net, list(tasks), net.members
        self.static_weights = None if static_weights is None else torch.tensor(static_weights)
        self.lr, self.weight_decay = lr, weight_decay
        self.schedule, self.total_steps = schedule, max(1, total_steps)
        self.log_every_n_steps = max(1, log_every_n_steps)
        self.bar_loss: float | None = None  # mean over living members, last logging window
        self.automatic_optimization = False
        self.dispatch = PlainDispatch()
        self.split_metrics = nn.ModuleList(
            nn.ModuleDict({split: TaskMetrics(self.tasks) for split in ("val", "test")})
            for _ in range(self.members)
        )
        self._collectors = [
            {split: PredictionCollector(self.tasks) for split in SPLITS}
            for _ in range(self.members)
        ]
        self.latest: list[dict[str, float]] = [{} for _ in range(self.members)]
        self.predictions: list[dict[str, dict[str, TaskPredictions]]] = [
            {} for _ in range(self.members)
        ]
        # member -> why it failed (the message a single fit would have raised)
        self.failed: dict[int, str] = {}
        # member -> the rows a single fit would have logged, replayed into its loggers
        self.logged: list[list[LoggedRow]] = [[] for _ in range(self.members)]
        self.validated_at_step: int | None = None
        # per member: [loss, per-task sums, per-task counts] over the logging window
        self._window = torch.zeros(self.members, 1 + 2 * len(self.tasks))
        self._steps_in_window = 0
        # per member and task: the sum of its weights and the steps it took part in (static)
        self._weight_window = torch.zeros(self.members, 2 * len(self.tasks))

    def training_step(
        self, batch: dict[str, torch.Tensor] | list[dict[str, torch.Tensor]], batch_idx: int
    ) -> torch.Tensor:
        return each_step(batch, self._train_step)

    def _train_step(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        optimiser = self.optimizers()
        outputs = self.net(batch["x"], rows=batch["rows"])
        total, sums, counts = stacked_masked_loss(
            self.tasks, outputs, batch["y"], batch["mask"], batch["rows"]
        )
        if self.static_weights is not None:
            total = self._static_total(sums, counts)
        optimiser.zero_grad(set_to_none=True)  # type: ignore[union-attr]
        # The gradient of a sum is each member's own gradient: members never mix.
        self.dispatch.backward(self, total.sum())
        self.dispatch.step(optimiser)  # type: ignore[arg-type]
        if self.schedule != "constant":
            self.lr_schedulers().step()  # type: ignore[union-attr]
        step = torch.cat([total.detach()[:, None], sums.detach(), counts], dim=1)
        if self._window.device != step.device:
            self._window = self._window.to(step.device)
        self._window += step
        self._steps_in_window += 1
        # the step just taken is counted: a window holds log_every_n_steps steps and is filed
        # under the number of steps taken by then, as validation rows are
        if self.global_step % self.log_every_n_steps == 0:
            self._flush_training_log()
        return total.sum()

    def _static_total(self, sums: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Per member, Σ w_t · sum_t / count_t over the tasks labelled in its batch (the
        single fit's ``StaticWeighting.combine``); the weights of those tasks are logged."""
        weights = self.static_weights.to(sums.device)
        present = counts > 0
        means = torch.where(present, sums / counts.clamp(min=1), torch.zeros_like(sums))
        if self._weight_window.device != sums.device:
            self._weight_window = self._weight_window.to(sums.device)
        n_tasks = len(self.tasks)
        self._weight_window[:, :n_tasks] += torch.where(present, weights, 0.0)
        self._weight_window[:, n_tasks:] += present.to(self._weight_window.dtype)
        return (means * weights).sum(dim=1)

    def on_train_start(self) -> None:
        self.dispatch.decide(self.trainer, self)

    def _flush_training_log(self) -> None:
        if self._steps_in_window == 0:
            return
        n_tasks = len(self.tasks)
        window = self._window.tolist()
        for k, row in enumerate(window):
            if k in self.failed:
                continue
            mean_loss = row[0] / self._steps_in_window
            if not math.isfinite(mean_loss):
                self.failed[k] = (
                    f"NonFiniteLossError: training loss became {mean_loss} by step "
                    f"{self.global_step}; lower optim.lr or check the inputs for NaN/inf"
                )
                continue
            values = {"train/loss": mean_loss}
            for t, spec in enumerate(self.tasks):
                task_sum, count = row[1 + t], row[1 + n_tasks + t]
                if count > 0:
                    values[f"train/{spec.name}/loss"] = task_sum / count
                if self.static_weights is None:
                    continue
                weight_sum, steps = self._weight_window[k, t], self._weight_window[k, n_tasks + t]
                if steps > 0:  # float32, as a single fit
                    values[f"train/{spec.name}/weight"] = float(weight_sum / steps)
            self._keep_row(k, int(self.global_step), values)
        alive = [
            row[0] / self._steps_in_window for k, row in enumerate(window) if k not in self.failed
        ]
        if alive:  # shown by the progress bar (``TrainingLossBar``)
            self.bar_loss = sum(alive) / len(alive)
        self._window.zero_()
        self._weight_window.zero_()
        self._steps_in_window = 0
        if len(self.failed) == self.members:  # nothing left to train
            raise NonFiniteLossError(self.failed[0].split(": ", 1)[1])

    def _keep_row(self, k: int, step: int, values: dict[str, float]) -> None:
        """A row as a single fit's logger gets it."""
        self.logged[k].append((step, logger_row(values, self.trainer.current_epoch)))

    def on_train_end(self) -> None:
        # A NaN in the last partial window fails that member too.
        if self._steps_in_window:
            for k in range(self.members):
                value = float(self._window[k, 0])
                if k not in self.failed and not math.isfinite(value):
                    self.failed[k] = (
                        f"NonFiniteLossError: training loss became {value} near the end of "
                        "training; lower optim.lr or check the inputs for NaN/inf"
                    )

    def _eval_step(self, split: str, batch: dict[str, torch.Tensor]) -> None:
        outputs = self.net(batch["x"], shared_input=True)  # every member sees the same rows
        for k in range(self.members):
            member = {name: out[k] for name, out in outputs.items()}
            self.split_metrics[k][split].update(member, batch["y"], batch["mask"])
            if "index" in batch:
                self._collectors[k][split].update(member, batch["y"], batch["mask"], batch["index"])

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step("test", batch)

    def _eval_epoch_end(self, split: str) -> None:
        for k in range(self.members):
            values = self.split_metrics[k][split].compute(split)
            self.split_metrics[k][split].reset()
            self.latest[k].update(values)
            self.predictions[k][split] = self._collectors[k][split].result()
            self._collectors[k][split].reset()
            if len(self.tasks) == 1:  # as a single fit logs (``TaskLabModule``)
                values = {key: v for key, v in values.items() if f"{split}/mean/" not in key}
            if values and k not in self.failed:
                self._keep_row(k, evaluation_step(self.trainer), values)

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")
        self.validated_at_step = self.global_step

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # copies: the checkpoint is written in the background while training goes on
        checkpoint["tasklab_stacked"] = {
            "failed": dict(self.failed),
            "logged": [list(rows) for rows in self.logged],
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        saved = checkpoint.get("tasklab_stacked", {})
        self.failed = {int(k): v for k, v in saved.get("failed", {}).items()}
        self.logged = [list(rows) for rows in saved.get("logged", self.logged)]

    def configure_optimizers(self):
        params = [p for p in self.net.parameters() if p.requires_grad]
        return adamw_with_schedule(
            [{"params": params, "lr": self.lr}],
            self.lr,
            self.weight_decay,
            self.schedule,
            self.total_steps,
        )
