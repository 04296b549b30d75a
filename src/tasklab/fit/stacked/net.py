"""K networks of one architecture evaluated as one: their weights stacked, the forward batched.

Networks made only of linear layers, ReLU, flattening and regression heads (the MLP and
linear trunks) run a direct forward: one batched matrix product per layer
(``torch.baddbmm``). Any other network runs ``torch.func.vmap`` over ``functional_call``,
which keeps every layer's own code (convolutions, BatchNorm with its running statistics), so
any network tasklab builds stacks without a stacked twin of each layer; vmap's own cost per
call is what the direct path saves small networks. Each member's parameters are a slice of
one tensor per parameter; gradients of a sum of the members' losses are exactly each
member's own gradients, and AdamW works element by element, so each slice trains as its
network would.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from tasklab.models.multihead import MultiHeadNet, ScaledOutput

_DIRECT = (MultiHeadNet, nn.ModuleDict, nn.Sequential, nn.Linear, nn.ReLU, nn.Flatten, ScaledOutput)


def has_batch_statistics(net: nn.Module) -> bool:
    return any(isinstance(m, _BatchNorm) for m in net.modules())


def runs_direct(net: nn.Module) -> bool:
    """Whether every layer of ``net`` has a batched forward here (else vmap is used)."""
    return all(type(m) in _DIRECT for m in net.modules()) and isinstance(net, MultiHeadNet)


class StackedNet(nn.Module):
    """``forward(x)``: x (K, B, ...) per member, or (B, ...) shared by all members (evaluation
    data); returns per task (K, B[, C])."""

    def __init__(self, nets: Sequence[nn.Module], direct: bool | None = None) -> None:
        """``direct``: force (True) or forbid (False) the batched-matmul forward; by default
        it is used wherever the network allows it."""
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
        self.batch_statistics = has_batch_statistics(nets[0])
        self.direct = runs_direct(nets[0]) if direct is None else direct
        if self.direct and not runs_direct(nets[0]):
            raise ValueError("this network has layers without a direct stacked forward")

    def _buffers_by_name(self) -> dict[str, torch.Tensor]:
        return {
            name: getattr(self, f"stacked_buffer_{k}") for k, name in enumerate(self._buffer_names)
        }

    def _member_call(self, params, buffers, x):
        return functional_call(self._template, (params, buffers), (x,))

    def forward(
        self, x: torch.Tensor, shared_input: bool = False, rows: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """``rows`` (K,): how many of each member's B rows are real (the rest padding)."""
        params = dict(zip(self._param_names, self.stacked_params, strict=True))
        if self.direct:
            return self._direct(self._template, "", x, params, shared_input)
        # BatchNorm reads the mode from the template's modules. Lightning restores modes
        # after validation by setting each registered module's flag, never the template's,
        # so the template follows this module's flag at every call.
        if self._template.training != self.training:
            self._template.train(self.training)
        if rows is not None and self.batch_statistics and self.training:
            sizes = rows.tolist()
            if len(set(sizes)) > 1:
                return self._by_batch_size(params, x, sizes)
        batched = vmap(self._member_call, in_dims=(0, 0, None if shared_input else 0))
        return batched(params, self._buffers_by_name(), x)

    def _by_batch_size(
        self, params: dict[str, torch.Tensor], x: torch.Tensor, sizes: list[int]
    ) -> dict[str, torch.Tensor]:
        """The forward of members whose batches hold different numbers of real rows, with
        batch statistics: padding rows would enter the statistics, so the members are run in
        groups of equal size, each on its real rows only (its single fit's batch), and the
        outputs padded back to (K, B, ...). Each member's running statistics are written back
        to its own slice; gradients reach each member's slice through the indexing."""
        buffers = self._buffers_by_name()
        batched = vmap(self._member_call, in_dims=(0, 0, 0))
        pieces: dict[str, list[torch.Tensor]] = {}
        order = []
        for size in sorted(set(sizes)):
            members = torch.tensor([k for k, n in enumerate(sizes) if n == size], device=x.device)
            own_buffers = {name: b[members] for name, b in buffers.items()}
            out = batched(
                {n: p[members] for n, p in params.items()}, own_buffers, x[members, :size]
            )
            for name, b in buffers.items():
                b[members] = own_buffers[name]  # running statistics updated in the call
            for task, value in out.items():
                padding = value.new_zeros((value.shape[0], x.shape[1] - size, *value.shape[2:]))
                pieces.setdefault(task, []).append(torch.cat([value, padding], dim=1))
            order.append(members)
        back = torch.argsort(torch.cat(order))
        return {task: torch.cat(parts)[back] for task, parts in pieces.items()}

    def _direct(self, module: nn.Module, prefix: str, x, params, shared: bool):
        """``module``'s forward for all members: x is (K, B, ...), or (B, ...) if shared."""
        if isinstance(module, MultiHeadNet):
            features = self._direct(module.trunk, "trunk.", x, params, shared)
            outputs = {}
            for name, head in module.heads.items():
                out = self._direct(head, f"heads.{name}.", features, params, False)
                outputs[name] = out.squeeze(-1) if out.shape[-1] == 1 else out
            return outputs
        if isinstance(module, nn.Sequential):
            for index, child in enumerate(module):
                x = self._direct(child, f"{prefix}{index}.", x, params, shared)
                shared = shared and not isinstance(child, nn.Linear)
            return x
        if isinstance(module, nn.Linear):
            weight = params[f"{prefix}weight"].transpose(1, 2)  # (K, in, out)
            bias = params.get(f"{prefix}bias")
            if shared:  # (B, in) @ (K, in, out): every member on the same rows
                out = torch.matmul(x, weight)
                return out if bias is None else out + bias.unsqueeze(1)
            if bias is None:
                return torch.bmm(x, weight)
            return torch.baddbmm(bias.unsqueeze(1), x, weight)
        if isinstance(module, nn.Flatten):
            return x.flatten(1) if shared else x.flatten(2)
        if isinstance(module, nn.ReLU):
            return F.relu(x)
        return module(x)  # elementwise (a regression head's scale)

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
