"""torchvision ResNet18/34/50 count classifiers with an N-class head (or the optional EfficientNet-Lite0), and
their inference wrapper."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import models

from . import device as devmod
from . import efficientnet
from .heads import build_head, check_head, head_classes, probabilities
from .preprocess import eval_transform, tta_views
from .weights import PretrainedWeightsUnavailable, read_state_dict

ARCHITECTURES: dict[str, tuple] = {
    "resnet18": (models.resnet18, models.ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (models.resnet34, models.ResNet34_Weights.IMAGENET1K_V1),
    "resnet50": (models.resnet50, models.ResNet50_Weights.IMAGENET1K_V2),
}


def known_architecture(arch: str) -> bool:
    """A torchvision ResNet, or the optional EfficientNet-Lite0."""
    return arch in ARCHITECTURES or arch == efficientnet.ARCH


def _constructor(arch: str):
    try:
        return ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}") from None


def build_resnet(arch: str, num_classes: int = 6, weights: str | os.PathLike | None = None,
                 head: str = "softmax") -> nn.Module:
    """A ResNet with a num_classes head of the given type (binaudit.ml.heads); weights: None (scratch),
    "imagenet" (torchvision's weights API), or a local ImageNet state dict file."""
    check_head(head)
    if arch == efficientnet.ARCH:
        return efficientnet.build_efficientnet(build_head(efficientnet.FEATURES, int(num_classes), head), weights)
    ctor, imagenet = _constructor(arch)
    if weights is None:
        model = ctor(weights=None)
    elif str(weights) == "imagenet":
        model = _download_imagenet(ctor, imagenet, arch)
    else:
        model = ctor(weights=None)
        _load_imagenet_file(model, Path(weights))
    model.fc = build_head(model.fc.in_features, int(num_classes), head)
    return model


def _download_imagenet(ctor, imagenet, arch: str) -> nn.Module:
    try:
        return ctor(weights=imagenet)
    except Exception as exc:  # URLError, OSError, hash mismatch: all mean "not available here"
        raise PretrainedWeightsUnavailable(
            f"cannot get the ImageNet weights for {arch} ({type(exc).__name__}: {exc}). "
            f"Offline? Download {imagenet.url} elsewhere and pass the local file instead "
            f"(a .pth state dict or a .safetensors file), or train from scratch."
        ) from exc


def _load_imagenet_file(model: nn.Module, path: Path) -> None:
    """Load every body tensor of a torchvision state dict (the fc head is replaced): names and shapes must fit."""
    state = read_state_dict(path)
    body = {k.removeprefix("module."): v for k, v in state.items()}
    body = {k: v for k, v in body.items() if not k.startswith("fc.")}
    own = {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    missing = [k for k in own if k not in body]
    unexpected = [k for k in body if k not in own]
    wrong = [f"{k} {tuple(body[k].shape)} != {tuple(v.shape)}" for k, v in own.items()
             if k in body and tuple(body[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong:
        raise PretrainedWeightsUnavailable(
            f"{path} does not fit this architecture: missing {missing[:3]}, unexpected {unexpected[:3]}, "
            f"shape {wrong[:2]}")
    model.load_state_dict(body, strict=False)


ImageLike = Image.Image | torch.Tensor


_Counter = TypeVar("_Counter", bound="ResNetCounter")  # to() returns the subclass it is called on (3.10: no Self)


class ResNetCounter:
    """Inference wrapper: preprocess, forward on the chosen device, softmax to a (B, N) probability array."""

    kind = "resnet"

    def __init__(self, model: nn.Module, architecture: str, input_size: int = 224,
                 classes: Sequence[int] | None = None, device: str | torch.device | None = "cpu",
                 head: str = "softmax", temperature: float = 1.0, letterbox: bool = False):
        self.architecture = architecture
        self.input_size = int(input_size)
        self.classes = list(classes) if classes is not None else list(range(head_classes(model)))
        self.model = model.eval()
        self.head = check_head(head)
        self.temperature = float(temperature)
        self.letterbox = bool(letterbox)
        self.device = torch.device("cpu")
        self.transform = eval_transform(self.input_size, letterbox=self.letterbox)
        self.to(device)

    def to(self: _Counter, device: str | torch.device | None) -> _Counter:
        """Move the network to a device ("auto" allowed), in that device's fastest layout."""
        self.device = device if isinstance(device, torch.device) else devmod.choose_device(device)
        self.model = devmod.prepare_module(self.model, self.device)
        return self

    @torch.inference_mode()
    def predict_batch(self, batch: torch.Tensor, tta: bool = False) -> np.ndarray:
        """Probabilities (B, N) for a preprocessed (B, 3, S, S) batch: the head's probabilities, averaged over
        the flip with tta, then the stored temperature (softmax(log p / T), binaudit.core.calibration)."""
        batch = devmod.prepare_batch(batch, self.device)
        views = tta_views(batch) if tta else [batch]
        with devmod.autocast_context(self.device):
            mean = torch.stack([probabilities(self.model(v).float(), self.head) for v in views]).sum(dim=0) / len(views)
        probs = mean.double().cpu().numpy()
        probs = probs / probs.sum(axis=1, keepdims=True)
        if self.temperature != 1.0:
            from binaudit.core.calibration import apply_temperature
            probs = apply_temperature(probs, self.temperature)
        return probs

    def predict_proba(self, images: torch.Tensor | Sequence[ImageLike], tta: bool = False) -> np.ndarray:
        """Probabilities (B, N) for a preprocessed batch tensor or a list of PIL images / (3, S, S) tensors."""
        if isinstance(images, torch.Tensor):
            batch = images if images.ndim == 4 else images.unsqueeze(0)
        else:
            batch = torch.stack([im if isinstance(im, torch.Tensor) else self.transform(im) for im in images])
        return self.predict_batch(batch, tta=tta)
