"""Deterministic train/val/test split from an image id, so every import agrees."""

from __future__ import annotations

from collections.abc import Callable
from hashlib import blake2b

DEFAULT_RATIOS: tuple[float, float, float] = (0.7, 0.2, 0.1)
SPLITS = ("train", "val", "test")


def split_fraction(image_id: str) -> float:
    """A stable pseudo-random number in [0, 1) derived from the id alone."""
    digest = blake2b(image_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def split_for_id(image_id: str, ratios: tuple[float, float, float] = DEFAULT_RATIOS) -> str:
    """Return "train", "val" or "test" for this id under the given ratios."""
    return split_chooser(ratios)(image_id)


def split_chooser(ratios: tuple[float, float, float] = DEFAULT_RATIOS) -> Callable[[str], str]:
    """split_for_id with the ratios checked once, for assigning splits to many ids."""
    total = sum(ratios)
    if total <= 0 or any(r < 0 for r in ratios):
        raise ValueError(f"split ratios must be non-negative and not all zero: {ratios}")
    train_below, val_below = ratios[0], ratios[0] + ratios[1]

    def choose(image_id: str) -> str:
        point = split_fraction(image_id) * total
        return "train" if point < train_below else "val" if point < val_below else "test"

    return choose


def parse_ratios(text: str) -> tuple[float, float, float]:
    """Parse "70/20/10" or "0.8,0.1,0.1" into three ratios."""
    parts = [p for p in text.replace(",", "/").split("/") if p.strip()]
    if len(parts) != 3:
        raise ValueError(f"expected three ratios like 70/20/10, got {text!r}")
    values = tuple(float(p) for p in parts)
    if any(v < 0 for v in values) or sum(values) <= 0:
        raise ValueError(f"ratios must be non-negative and not all zero: {text!r}")
    return values  # type: ignore[return-value]
