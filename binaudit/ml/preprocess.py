"""The one image preprocessing used by training and inference: decode, resize (squash, or letterbox: keep the
aspect ratio and pad), normalise, TTA, and the training-only colour/contrast jitter."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
INPUT_SIZES: tuple[int, ...] = (64, 128, 224)
MAX_PIXELS = 40_000_000  # far above any bin photo; refuses decompression bombs before decoding
MAX_SIDE = 16_384  # a side longer than this is a forged or broken header, not a bin photo

PathLike = str | os.PathLike
LETTERBOX_FILL: tuple[int, int, int] = (round(255 * IMAGENET_MEAN[0]), round(255 * IMAGENET_MEAN[1]),
                                        round(255 * IMAGENET_MEAN[2]))  # normalises to ~0


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


class LetterboxResize:
    """PIL image -> S x S PIL image: the longer side resized to S (aspect ratio kept), centred on a pad of the
    ImageNet mean colour (zero after normalisation). Picklable, for DataLoader workers."""

    def __init__(self, size: int, fill: tuple[int, int, int] = LETTERBOX_FILL):
        self.size, self.fill = _check_size(size), tuple(fill)

    def __call__(self, image: Image.Image) -> Image.Image:
        w, h = image.size
        scale = self.size / max(w, h)
        nw, nh = max(1, min(self.size, round(w * scale))), max(1, min(self.size, round(h * scale)))
        resized = v2.Resize((nh, nw), antialias=True)(image)
        canvas = Image.new("RGB", (self.size, self.size), self.fill)
        canvas.paste(resized, ((self.size - nw) // 2, (self.size - nh) // 2))
        return canvas


def resize_step(input_size: int, letterbox: bool = False):
    """The resize of every path: squash to S x S (the published recipes), or letterbox."""
    size = _check_size(input_size)
    return LetterboxResize(size) if letterbox else v2.Resize((size, size), antialias=True)


def pixel_transform(input_size: int = 224, letterbox: bool = False) -> v2.Compose:
    """PIL image -> float tensor (3, S, S) in [0, 1], squashed to S x S (aspect ratio not kept) or letterboxed."""
    return v2.Compose([
        resize_step(input_size, letterbox),
        v2.PILToTensor(),
        v2.ToDtype(torch.float32, scale=True),
    ])


def eval_transform(input_size: int = 224, letterbox: bool = False) -> v2.Compose:
    """Inference preprocessing: squash-resize (or letterbox) to S x S, scale to [0, 1], ImageNet mean/std."""
    return v2.Compose([
        resize_step(input_size, letterbox),
        v2.PILToTensor(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def resize_uint8(image: Image.Image, input_size: int, letterbox: bool = False) -> np.ndarray:
    """The resized photo as uint8 (3, S, S), exactly the pixels eval_transform normalises (the training cache)."""
    return v2.PILToTensor()(resize_step(input_size, letterbox)(image)).numpy()


def color_jitter(image: torch.Tensor, strength: float, rng: np.random.Generator) -> torch.Tensor:
    """Training augmentation on a uint8 (3, S, S) tensor: brightness, contrast and saturation factors drawn
    from [1 - s, 1 + s] and a hue shift from [-s/10, s/10] (torchvision.transforms.v2.functional), in a
    random order, all from rng, so an epoch's augmentation is the same after a resume."""
    if strength <= 0:
        return image
    s = float(strength)
    ops = [(v2.functional.adjust_brightness, rng.uniform(max(0.0, 1 - s), 1 + s)),
           (v2.functional.adjust_contrast, rng.uniform(max(0.0, 1 - s), 1 + s)),
           (v2.functional.adjust_saturation, rng.uniform(max(0.0, 1 - s), 1 + s)),
           (v2.functional.adjust_hue, rng.uniform(-min(0.5, s / 10), min(0.5, s / 10)))]
    for k in rng.permutation(len(ops)):
        fn, factor = ops[int(k)]
        image = fn(image, float(factor))
    return image


def train_transform(input_size: int = 224, hflip: bool = True, letterbox: bool = False,
                    jitter: float = 0.0) -> v2.Compose:
    """Training preprocessing on PIL images: eval_transform plus an optional random horizontal flip and
    colour jitter (v2.ColorJitter with the strengths color_jitter uses). Training itself runs on the cache
    (training.data), which applies the same steps per sample from a seeded generator."""
    steps = [resize_step(input_size, letterbox)]
    if hflip:
        steps.append(v2.RandomHorizontalFlip(p=0.5))
    if jitter > 0:
        steps.append(v2.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter,
                                    hue=min(0.5, jitter / 10)))
    steps += [
        v2.PILToTensor(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ]
    return v2.Compose(steps)


def preprocessing_spec(input_size: int, letterbox: bool = False, jitter: float = 0.0) -> dict:
    """The description of eval_transform written into model manifests (scoring reads "resize" back)."""
    spec: dict[str, Any] = {
        "decode": "PIL JPEG, RGB",
        "resize": "letterbox" if letterbox else "squash",
        "input_size": int(input_size),
        "interpolation": "bilinear, antialias",
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
    }
    if letterbox:
        spec["pad"] = list(LETTERBOX_FILL)
    if jitter:
        spec["train_color_jitter"] = float(jitter)
    return spec


def letterbox_of(spec: dict | None) -> bool:
    """Whether a manifest's preprocessing says letterbox (old manifests: squash)."""
    return isinstance(spec, dict) and spec.get("resize") == "letterbox"


def tta_views(batch: torch.Tensor) -> list[torch.Tensor]:
    """Test-time augmentation views of a (B, C, H, W) batch: the batch and its horizontal flip."""
    if batch.ndim != 4:
        raise ValueError(f"expected a (B, C, H, W) batch, got shape {tuple(batch.shape)}")
    return [batch, torch.flip(batch, dims=[-1])]
