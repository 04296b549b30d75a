"""Standard networks as trunks: any torchvision or timm classification model, classifier removed.

``model=torchvision model.arch=resnet18`` builds ``torchvision.models.get_model(arch)`` and
replaces its last linear layer (the classifier: ``fc``, ``classifier[-1]``, ``heads.head``)
by the identity, so it maps an image to its feature vector and tasklab puts a head per task
on top; ``model=timm model.arch=<name>`` asks timm for the same (``num_classes=0``). Both are
optional (``pip install 'tasklab[vision]'``); a missing one is named in one line.

Inputs are tasklab's images in [0, 1]; the trunk normalises them with ImageNet's mean and
spread (what published weights expect; from scratch it is a fixed affine map that the first
batch norm absorbs) and repeats a grey channel three times.
"""

from __future__ import annotations

import importlib
import math
from types import ModuleType

import torch
from torch import nn

from tasklab.models.backbones import TrunkShape
from tasklab.models.checkpoint_weights import CheckpointError, is_hub
from tasklab.registry import BACKBONES
from tasklab.settings import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INSTALL = "pip install 'tasklab[vision]' (or make setup-vision)"


def _library(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ConfigError(
            f"model.backbone={name} needs {name}, which is not installed ({error}); {INSTALL}"
        ) from None
    except RuntimeError as error:  # a torchvision built for another torch ("nms does not exist")
        raise ConfigError(
            f"model.backbone={name}: {name} is installed but does not fit torch "
            f"{torch.__version__} ({error}); install the {name} built for this torch, or "
            "make setup-vision"
        ) from None


class StandardTrunk(nn.Module):
    """A library's network without its classifier: (B, C, H, W) in [0, 1] → (B, features).

    Its state dict names the network's own keys under ``state_prefix``, so a checkpoint of the
    plain network loads into it (``checkpoint_weights.fit_to_trunk``)."""

    state_prefix = "model."

    def __init__(self, model: nn.Module, channels: int) -> None:
        super().__init__()
        self.model, self.channels = model, channels
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.model((x - self.mean) / self.std).flatten(1)

    def blocks(self) -> list[nn.Module]:
        """What ``partial`` freezes, input side first: the network's top-level parts with
        weights, a plain sequence of stages (``features`` of EfficientNet, VGG, ConvNeXt)
        split into its stages."""
        out: list[nn.Module] = []
        for child in self.model.children():
            parts = list(child.children()) if isinstance(child, nn.Sequential) else [child]
            out += [p for p in parts if any(True for _ in p.parameters())]
        return out


def _drop_classifier(model: nn.Module, arch: str) -> None:
    """Replace the network's last linear layer (its classifier) by the identity."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        raise ConfigError(
            f"model.arch={arch}: has no final linear classifier to remove; choose a network "
            "whose classifier is a Linear layer (ResNet, EfficientNet, ConvNeXt, ViT, …)"
        )
    parent_name, _, attribute = last.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attribute, nn.Identity())


def _feature_dim(trunk: StandardTrunk, input_shape: tuple[int, ...], arch: str) -> int:
    """Features per image, from one forward pass on a blank batch (which also says early
    when the network cannot read images of this size)."""
    was_training = trunk.training
    trunk.eval()
    try:
        with torch.no_grad():
            out = trunk(torch.zeros(1, *input_shape))
    except (RuntimeError, AssertionError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"model.arch={arch} cannot read images of shape {tuple(input_shape)} ({first[:160]}); "
            "set data.images.size to what it needs (224 for ViTs) or choose a convolutional "
            "network"
        ) from None
    finally:
        trunk.train(was_training)
    return int(math.prod(out.shape[1:]))


def _check_input(input_shape: tuple[int, ...], backbone: str) -> int:
    if len(input_shape) != 3 or input_shape[0] not in (1, 3):
        raise ConfigError(
            f"model.backbone={backbone} needs images (1 or 3, H, W), got inputs of shape "
            f"{tuple(input_shape)}; use model=cnn, cnn1d or mlp for other inputs"
        )
    return int(input_shape[0])


def _need_arch(shape: TrunkShape, backbone: str, example: str) -> None:
    if not shape.arch:
        raise ConfigError(f"model.backbone={backbone} needs model.arch, e.g. model.arch={example}")


@BACKBONES.register("torchvision", input_ranks=(3,), advice="use model=cnn1d or mlp", min_batch=2)
def torchvision_trunk(input_shape: tuple[int, ...], shape: TrunkShape) -> tuple[nn.Module, int]:
    """``torchvision.models.get_model(model.arch)`` without its classifier; published weights
    with ``model.weights=torchvision:<NAME>`` (torchvision's cache and download)."""
    channels = _check_input(input_shape, "torchvision")
    _need_arch(shape, "torchvision", "resnet18")
    models = _library("torchvision").models
    available = models.list_models(module=models)
    if shape.arch not in available:
        raise ConfigError(
            f"model.arch={shape.arch!r} is not a torchvision classification model; e.g. "
            f"{', '.join(a for a in available if a.startswith(('resnet', 'efficientnet_b')))}"
        )
    weights = (
        shape.weights.removeprefix("torchvision:")
        if shape.weights.startswith("torchvision:")
        else None
    )
    try:
        model = models.get_model(shape.arch, weights=weights)
    except (OSError, ValueError, KeyError) as error:  # offline, or an unknown weights name
        raise CheckpointError(
            f"model.weights=torchvision:{weights}: torchvision could not provide {shape.arch}'s "
            f"weights ({type(error).__name__}: {str(error)[:160]}); they download once into "
            f"{torch.hub.get_dir()} on a machine with network access, or give a local file"
        ) from None
    _drop_classifier(model, shape.arch)
    trunk = StandardTrunk(model, channels)
    return trunk, _feature_dim(trunk, input_shape, shape.arch)


@BACKBONES.register("timm", input_ranks=(3,), advice="use model=cnn1d or mlp", min_batch=2)
def timm_trunk(input_shape: tuple[int, ...], shape: TrunkShape) -> tuple[nn.Module, int]:
    """``timm.create_model(model.arch, num_classes=0)``: timm's network as a feature
    extractor; its published weights with ``model.weights=timm:pretrained``."""
    channels = _check_input(input_shape, "timm")
    _need_arch(shape, "timm", "resnet18")
    timm = _library("timm")
    if not timm.list_models(shape.arch):
        raise ConfigError(f"model.arch={shape.arch!r} is not a timm model (timm.list_models())")
    pretrained = shape.weights == "timm:pretrained"
    if is_hub(shape.weights) and not pretrained:
        raise ConfigError(f"model.weights={shape.weights}: for timm use timm:pretrained or a file")
    try:
        model = timm.create_model(shape.arch, pretrained=pretrained, num_classes=0)
    except (OSError, RuntimeError) as error:
        raise CheckpointError(
            f"model.weights=timm:pretrained: timm could not provide {shape.arch}'s weights "
            f"({type(error).__name__}: {str(error)[:160]}); they download once into the Hugging "
            "Face cache on a machine with network access, or give a local file"
        ) from None
    trunk = StandardTrunk(model, channels)
    return trunk, _feature_dim(trunk, input_shape, shape.arch)
