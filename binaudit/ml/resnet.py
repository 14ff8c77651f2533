"""torchvision ResNet18/34/50 count classifiers with an N-class head, and their inference wrapper."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import models

from . import device as devmod
from .preprocess import eval_transform, tta_views

ARCHITECTURES: dict[str, tuple] = {
    "resnet18": (models.resnet18, models.ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (models.resnet34, models.ResNet34_Weights.IMAGENET1K_V1),
    "resnet50": (models.resnet50, models.ResNet50_Weights.IMAGENET1K_V2),
}


class PretrainedWeightsUnavailable(RuntimeError):
    """ImageNet weights were asked for but cannot be downloaded or read."""


def _constructor(arch: str):
    try:
        return ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}") from None


def build_resnet(arch: str, num_classes: int = 6, weights: Optional[Union[str, os.PathLike]] = None) -> nn.Module:
    """A ResNet with a num_classes head; weights: None (scratch), "imagenet", or a local ImageNet state dict file."""
    ctor, imagenet = _constructor(arch)
    if weights is None:
        model = ctor(weights=None)
    elif str(weights) == "imagenet":
        model = _download_imagenet(ctor, imagenet, arch)
    else:
        model = ctor(weights=None)
        _load_imagenet_file(model, Path(weights))
    model.fc = nn.Linear(model.fc.in_features, int(num_classes))
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


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a state dict without unpickling: safetensors, or torch.load(weights_only=True) for .pth/.pt."""
    if not path.is_file():
        raise PretrainedWeightsUnavailable(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path), device="cpu")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PretrainedWeightsUnavailable(f"{path} is not a plain tensor state dict: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise PretrainedWeightsUnavailable(f"{path} holds a {type(state).__name__}, not a state dict")
    return state


def _load_imagenet_file(model: nn.Module, path: Path) -> None:
    state = read_state_dict(path)
    body = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = model.load_state_dict(body, strict=False)
    missing = [k for k in missing if not k.startswith("fc.")]
    if missing or unexpected:
        raise PretrainedWeightsUnavailable(
            f"{path} does not fit this architecture: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )


ImageLike = Union[Image.Image, torch.Tensor]


class ResNetCounter:
    """Inference wrapper: preprocess, forward on the chosen device, softmax to a (B, N) probability array."""

    kind = "resnet"

    def __init__(self, model: nn.Module, architecture: str, input_size: int = 224,
                 classes: Optional[Sequence[int]] = None, device: Union[str, torch.device, None] = "cpu"):
        self.architecture = architecture
        self.input_size = int(input_size)
        self.classes = list(classes) if classes is not None else list(range(model.fc.out_features))
        self.model = model.eval()
        self.device = torch.device("cpu")
        self.transform = eval_transform(self.input_size)
        self.to(device)

    def to(self, device: Union[str, torch.device, None]) -> "ResNetCounter":
        """Move the network to a device ("auto" allowed), in that device's fastest layout."""
        self.device = device if isinstance(device, torch.device) else devmod.choose_device(device)
        self.model = devmod.prepare_module(self.model, self.device)
        return self

    @torch.inference_mode()
    def predict_batch(self, batch: torch.Tensor, tta: bool = False) -> np.ndarray:
        """Probabilities (B, N) for a preprocessed (B, 3, S, S) batch; tta averages over the flip."""
        batch = devmod.prepare_batch(batch, self.device)
        views = tta_views(batch) if tta else [batch]
        with devmod.autocast_context(self.device):
            probs = sum(torch.softmax(self.model(v).float(), dim=1) for v in views) / len(views)
        probs = probs.double().cpu().numpy()
        return probs / probs.sum(axis=1, keepdims=True)

    def predict_proba(self, images: Union[torch.Tensor, Sequence[ImageLike]], tta: bool = False) -> np.ndarray:
        """Probabilities (B, N) for a preprocessed batch tensor or a list of PIL images / (3, S, S) tensors."""
        if isinstance(images, torch.Tensor):
            batch = images if images.ndim == 4 else images.unsqueeze(0)
        else:
            batch = torch.stack([im if isinstance(im, torch.Tensor) else self.transform(im) for im in images])
        return self.predict_batch(batch, tta=tta)
