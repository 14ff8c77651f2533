"""The one image preprocessing used by training and inference: decode, squash-resize, normalise, TTA."""

from __future__ import annotations

import os
from typing import Union

import torch
from PIL import Image
from torchvision.transforms import v2

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
INPUT_SIZES: tuple[int, ...] = (64, 128, 224)
MAX_PIXELS = 40_000_000  # far above any bin photo; refuses decompression bombs before decoding
MAX_SIDE = 16_384  # a side longer than this is a forged or broken header, not a bin photo

PathLike = Union[str, os.PathLike]


class ImageDecodeError(Exception):
    """An image file that cannot be used: missing, not a JPEG, truncated, or absurdly large."""


def decode_image(path: PathLike) -> Image.Image:
    """Decode a JPEG file to an RGB PIL image; raise ImageDecodeError for anything unusable.

    Only the JPEG decoder is allowed (ABID photos are JPEGs; no other parser sees the bytes), and
    images over MAX_PIXELS are refused from the header, before any pixel is decoded.
    """
    try:
        with Image.open(path, formats=["JPEG"]) as img:
            w, h = img.size
            if w * h > MAX_PIXELS or max(w, h) > MAX_SIDE:
                raise ImageDecodeError(f"{path}: {w}x{h} exceeds the size limit "
                                       f"({MAX_PIXELS} pixels, {MAX_SIDE} px a side)")
            return img.convert("RGB")  # convert() forces the full decode inside the with block
    except ImageDecodeError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(f"{path}: cannot decode as JPEG ({exc})") from exc


def _check_size(input_size: int) -> int:
    if int(input_size) <= 0:
        raise ValueError(f"input size must be positive, got {input_size}")
    return int(input_size)


def pixel_transform(input_size: int = 224) -> v2.Compose:
    """PIL image -> float tensor (3, S, S) in [0, 1], squashed to S x S (aspect ratio not kept)."""
    size = _check_size(input_size)
    return v2.Compose([
        v2.Resize((size, size), antialias=True),
        v2.PILToTensor(),
        v2.ToDtype(torch.float32, scale=True),
    ])


def eval_transform(input_size: int = 224) -> v2.Compose:
    """Inference preprocessing: squash-resize to S x S, scale to [0, 1], ImageNet mean/std."""
    size = _check_size(input_size)
    return v2.Compose([
        v2.Resize((size, size), antialias=True),
        v2.PILToTensor(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def train_transform(input_size: int = 224, hflip: bool = True) -> v2.Compose:
    """Training preprocessing: eval_transform plus an optional random horizontal flip."""
    size = _check_size(input_size)
    steps = [v2.Resize((size, size), antialias=True)]
    if hflip:
        steps.append(v2.RandomHorizontalFlip(p=0.5))
    steps += [
        v2.PILToTensor(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ]
    return v2.Compose(steps)


def preprocessing_spec(input_size: int) -> dict:
    """The description of eval_transform written into model manifests."""
    return {
        "decode": "PIL JPEG, RGB",
        "resize": "squash",
        "input_size": int(input_size),
        "interpolation": "bilinear, antialias",
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
    }


def tta_views(batch: torch.Tensor) -> list[torch.Tensor]:
    """Test-time augmentation views of a (B, C, H, W) batch: the batch and its horizontal flip."""
    if batch.ndim != 4:
        raise ValueError(f"expected a (B, C, H, W) batch, got shape {tuple(batch.shape)}")
    return [batch, torch.flip(batch, dims=[-1])]
