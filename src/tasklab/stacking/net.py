"""K networks of one architecture evaluated as one: their weights stacked, the forward vmapped.

``torch.func.vmap`` over ``functional_call`` keeps every layer's own code (convolutions,
BatchNorm with its running statistics, regression heads), so any network tasklab builds
stacks without a stacked twin of each layer. Each member's parameters are a slice of one
tensor per parameter; gradients of a sum of the members' losses are exactly each member's own
gradients, and AdamW works element by element, so each slice trains as its network would.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap


class StackedNet(nn.Module):
    """``forward(x)``: x (K, B, ...) per member, or (B, ...) shared by all members (evaluation
    data); returns per task (K, B[, C])."""

    def __init__(self, nets: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(nets) < 1:
            raise ValueError("StackedNet needs at least one network")
        params, buffers = stack_module_state(list(nets))
        self.members = len(nets)
        self._param_names = list(params)
        self._buffer_names = list(buffers)
        self.stacked_params = nn.ParameterList(
            nn.Parameter(params[name].detach().clone()) for name in self._param_names
        )
        for k, name in enumerate(self._buffer_names):
            self.register_buffer(f"stacked_buffer_{k}", buffers[name].clone())
        # The template holds the architecture only (its tensors live on the meta device) and
        # is kept out of the module tree, so it is neither trained nor checkpointed.
        object.__setattr__(self, "_template", copy.deepcopy(nets[0]).to("meta"))

    def _buffers_by_name(self) -> dict[str, torch.Tensor]:
        return {
            name: getattr(self, f"stacked_buffer_{k}") for k, name in enumerate(self._buffer_names)
        }

    def _member_call(self, params, buffers, x):
        return functional_call(self._template, (params, buffers), (x,))

    def forward(self, x: torch.Tensor, shared_input: bool = False) -> dict[str, torch.Tensor]:
        params = dict(zip(self._param_names, self.stacked_params, strict=True))
        # BatchNorm reads the mode from the template's modules. Lightning restores modes
        # after validation by setting each registered module's flag, never the template's,
        # so the template follows this module's flag at every call.
        if self._template.training != self.training:
            self._template.train(self.training)
        batched = vmap(self._member_call, in_dims=(0, 0, None if shared_input else 0))
        return batched(params, self._buffers_by_name(), x)

    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        """Member ``k``'s state dict, as its own network names it."""
        state = {
            name: p[k].detach().clone()
            for name, p in zip(self._param_names, self.stacked_params, strict=True)
        }
        state.update({name: b[k].clone() for name, b in self._buffers_by_name().items()})
        return state

    def member(self, k: int, template: nn.Module) -> nn.Module:
        """A copy of ``template`` (an unstacked network of the same architecture) holding
        member ``k``'s weights."""
        net = copy.deepcopy(template)
        net.load_state_dict(self.member_state(k))
        return net
