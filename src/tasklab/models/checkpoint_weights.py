"""Trunk weights from a checkpoint: a state dict in a file, or a library's published weights.

``model.weights`` (any regime's starting trunk) and ``regime.checkpoint`` (transfer from a
checkpoint) name one of:

- a file: ``.safetensors`` (read with safetensors), or ``.pt`` / ``.pth`` / ``.ckpt`` (a state
  dict, or a dict holding one under ``state_dict`` or ``model``, as Lightning and many training
  scripts save them; read with ``weights_only=True``, so no code in the file runs);
- ``torchvision:<WEIGHTS>`` (e.g. ``torchvision:DEFAULT``) or ``timm:pretrained``: the
  library's own weights for ``model.arch``, through its own download cache.

Key names are mapped by a declared prefix map (``{"backbone.": ""}`` strips a wrapper's
prefix); a tasklab run's own Lightning checkpoint gives its trunk's part (``net.trunk.*``),
and a standard network's trunk takes the plain network's keys (its ``state_prefix``). A
shape mismatch, or a checkpoint none of whose keys fit, ends the run in one line; keys that
are only missing or unexpected (a classifier the trunk does not have) are listed in one line
and the rest load.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import torch
from torch import nn

from tasklab.settings import ConfigError

HUB_PREFIXES: tuple[str, ...] = ("torchvision:", "timm:")
# where a trunk's keys sit in tasklab's own files: a run's Lightning checkpoint
# (checkpoints/<fit>/last.ckpt holds the module's ``net.trunk.*``) and a saved network
OWN_PREFIXES: tuple[str, ...] = ("net.trunk.", "trunk.")
_SHOWN = 6  # keys named in a one-line report before "… and N more"


class CheckpointError(ConfigError):
    """A checkpoint cannot be read or does not fit the trunk; the message names both."""


def is_hub(weights: str) -> bool:
    return weights.startswith(HUB_PREFIXES)


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN])
    return shown + (f" … and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else "")


def read_state(path: str, field: str) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, on the CPU."""
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"{field}={path}: no such file; give a .safetensors, .pt or .pth")
    if file.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise CheckpointError(
                f"{field}={path}: reading .safetensors needs safetensors; pip install "
                "'tasklab[vision]' (or pip install safetensors)"
            ) from None
        try:
            return load_file(str(file), device="cpu")
        except Exception as error:
            raise CheckpointError(f"{field}={path}: not a safetensors file ({error})") from None
    try:
        loaded = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise CheckpointError(
            f"{field}={path}: cannot be read as a PyTorch state dict ({type(error).__name__}: "
            f"{first[:100]}); save it with torch.save(model.state_dict(), path)"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    tensors = (
        {k: v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
        if isinstance(loaded, dict)
        else {}
    )
    if not tensors:
        raise CheckpointError(
            f"{field}={path}: holds no tensors by name (a {type(loaded).__name__}); save a "
            "state dict, torch.save(model.state_dict(), path)"
        )
    return tensors


def mapped(state: dict[str, torch.Tensor], prefixes: dict[str, str]) -> dict[str, torch.Tensor]:
    """Keys renamed by the first declared prefix each starts with (``{"old.": "new."}``)."""
    if not prefixes:
        return dict(state)
    out = {}
    for key, value in state.items():
        for old, new in prefixes.items():
            if key.startswith(old):
                key = new + key[len(old) :]
                break
        out[key] = value
    return out


def fit_to_trunk(
    trunk: nn.Module, state: dict[str, torch.Tensor], field: str, source: str
) -> dict[str, torch.Tensor]:
    """``state`` with keys as ``trunk`` names them: a trunk that wraps a library's network
    (``state_prefix``) takes that network's own checkpoint keys as they are."""
    own = trunk.state_dict()
    if not any(k in own for k in state):  # tasklab's own checkpoint: the trunk's part of it
        for wrapper in OWN_PREFIXES:
            inner = {k[len(wrapper) :]: v for k, v in state.items() if k.startswith(wrapper)}
            if any(k in own for k in inner):
                state = inner
                break
    prefix = getattr(trunk, "state_prefix", "")
    if prefix and not any(k in own for k in state) and any(prefix + k in own for k in state):
        state = {prefix + k: v for k, v in state.items()}
    matching = [k for k in state if k in own]
    if not matching:
        raise CheckpointError(
            f"{field}={source}: none of its {len(state)} keys is a key of the trunk (its keys: "
            f"{_listed(sorted(state))}; the trunk's: {_listed(list(own))}); map them with "
            f"{field.rsplit('.', 1)[0]}.weights_prefix (e.g. {{'backbone.': ''}}) or check "
            "model.arch"
        )
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in matching
        if state[k].shape != own[k].shape
    ]
    if wrong:
        raise CheckpointError(
            f"{field}={source}: shapes differ from the trunk's (checkpoint vs trunk: "
            f"{_listed(wrong)}); use the model.arch and input channels it was trained with"
        )
    return state


def load_into_trunk(
    trunk: nn.Module, state: dict[str, torch.Tensor], field: str, source: str
) -> tuple[list[str], list[str]]:
    """Load what fits; the trunk keys the checkpoint lacks and its keys the trunk lacks, both
    also said in one line on stderr (once per checkpoint and process)."""
    state = fit_to_trunk(trunk, state, field, source)
    outcome = trunk.load_state_dict(state, strict=False)
    missing = [k for k in outcome.missing_keys if not k.endswith("num_batches_tracked")]
    unexpected = list(outcome.unexpected_keys)
    if missing or unexpected:
        _say_once(
            f"tasklab-train: warning: {field}={source}: loaded {len(state) - len(unexpected)} "
            f"tensors; trunk keys it lacks (left as initialised): {_listed(missing) or 'none'}; "
            f"its keys the trunk lacks (ignored): {_listed(unexpected) or 'none'}"
        )
    return missing, unexpected


_said: set[str] = set()


def _say_once(line: str) -> None:
    if line not in _said:
        _said.add(line)
        print(line, file=sys.stderr)


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """A short content hash of a state dict (names, shapes and values)."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]
