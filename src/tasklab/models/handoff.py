"""Stage-1 → stage-2 hand-off: copy a trained trunk into a fresh network, then choose what
fine-tuning may change. The stage-1 heads are never carried over: the target task gets a new
head, so any gain comes from the trunk's features alone."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from tasklab.models.backbones import trunk_blocks
from tasklab.models.multihead import MultiHeadNet

FINE_TUNE_MODES: tuple[str, ...] = ("full", "linear_probe", "partial")


class TrunkMismatchError(ValueError):
    """The checkpoint's trunk does not fit the target network's trunk."""


@dataclass
class TrunkLoadReport:
    """Keys of the target trunk the checkpoint lacked, and checkpoint keys the trunk lacks."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


def trunk_state(net: MultiHeadNet) -> dict[str, torch.Tensor]:
    """The trunk's weights and buffers, detached on the CPU (no head: heads never transfer)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in net.trunk.state_dict().items()}


def load_trunk(net: MultiHeadNet, state: dict[str, torch.Tensor]) -> TrunkLoadReport:
    """Load ``state`` into ``net.trunk`` only; raise on any shape mismatch, report the rest."""
    own = net.trunk.state_dict()
    mismatched = [
        f"{key} {tuple(value.shape)} vs {tuple(own[key].shape)}"
        for key, value in state.items()
        if key in own and own[key].shape != value.shape
    ]
    if mismatched:
        raise TrunkMismatchError(
            "the stage-1 trunk does not fit the target network (checkpoint vs target: "
            f"{'; '.join(mismatched)}); use the same model.* settings for both stages"
        )
    outcome = net.trunk.load_state_dict(state, strict=False)
    return TrunkLoadReport(list(outcome.missing_keys), list(outcome.unexpected_keys))


@dataclass
class FineTunePlan:
    """Which trunk blocks stay fixed and how fast the rest of the trunk learns."""

    frozen: list[nn.Module]
    lr_scales: list[tuple[nn.Module, float]]


def fine_tune_plan(
    net: MultiHeadNet, mode: str, frozen_blocks: int, trunk_lr_scale: float
) -> FineTunePlan:
    """``full`` trains everything (trunk at ``trunk_lr_scale`` × lr), ``linear_probe`` only the
    head, ``partial`` everything but the first ``frozen_blocks`` trunk blocks."""
    blocks = trunk_blocks(net.trunk)
    if mode == "linear_probe":  # the whole trunk, weights held outside any block included
        return FineTunePlan(frozen=[net.trunk], lr_scales=[])
    if mode == "full":
        n_frozen = 0
    elif mode == "partial":
        if not 0 <= frozen_blocks <= len(blocks):
            raise ValueError(
                f"regime.frozen_blocks={frozen_blocks} is out of range: the trunk has "
                f"{len(blocks)} blocks"
            )
        n_frozen = frozen_blocks
    else:
        raise ValueError(f"regime.mode={mode!r} is unknown; allowed: {', '.join(FINE_TUNE_MODES)}")
    trainable = blocks[n_frozen:]
    return FineTunePlan(
        frozen=blocks[:n_frozen], lr_scales=[(b, trunk_lr_scale) for b in trainable]
    )
