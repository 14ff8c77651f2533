"""Synthetic bins in the ABID layout: the project's embedded default dataset.

``generate_dataset(out, n, seed, mismatch_rate)`` writes ``out/bin-images/<id>.jpg``
and ``out/metadata/<id>.json`` exactly like the Amazon Bin Image Dataset, plus
``out/truth.json`` with the true count of every bin (the app never reads it while
auditing; tests and benchmarks do).

The photos imitate the real ones: a camera looking into a khaki fabric bin, the bin
frame around the edges, a bin tag on the front lip, translucent elastic tape bands
across the front, and products (boxes, books, bottles, jars, cans, pouches) that
overlap but each stay partly visible, so the count can be learnt from the pixels.

Every image uses its own ``numpy.random.default_rng([seed, index])``, so the output is
byte-identical for a seed whatever the order, the process or the number of workers.
Pure numpy + Pillow: no torch, no Qt.
"""

from __future__ import annotations

import io
import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

__all__ = [
    "SynthSummary",
    "generate_dataset",
    "render_record",
    "count_distribution",
    "sample_count",
    "image_id",
    "MODERATE_SHARES",
]

# ABID "moderate" task class shares for counts 0..5 (percent).
MODERATE_SHARES = (2.7, 11.4, 21.3, 25.0, 22.3, 17.3)
TAIL_SHARE = 0.10  # share of counts 6..max_count
TAIL_DECAY = 0.75  # each further count is this much rarer
ABID_WIDTH = (315, 785)
ABID_HEIGHT = (240, 1069)
ABID_MEDIAN = (487, 334)

# ---------------------------------------------------------------------------------
# public helpers


@dataclass
class SynthSummary:
    """What ``generate_dataset`` wrote."""

    out: Path
    n: int  # images written
    n_mismatched: int  # of those, how many carry a wrong EXPECTED_QUANTITY
    counts: dict[int, int] = field(default_factory=dict)  # true count -> images
    cancelled: bool = False
    n_requested: int = 0
    seconds: float = 0.0


def image_id(index: int) -> str:
    """ABID file stem: zero-padded to 5 digits below 100000, plain above."""
    return f"{index:05d}" if index < 100000 else str(index)


def count_distribution(max_count: int = 8) -> np.ndarray:
    """Probabilities of true counts 0..max_count.

    Counts 0..5 follow ABID's moderate shares (90 %), 6..max_count share the
    remaining 10 % with a geometric decay. Truncated and renormalised when
    max_count < 6.
    """
    if max_count < 1:
        raise ValueError("max_count must be >= 1")
    head = np.asarray(MODERATE_SHARES[: min(6, max_count + 1)], dtype=np.float64)
    if max_count < 6:
        return head / head.sum()
    tail = TAIL_DECAY ** np.arange(max_count - 5, dtype=np.float64)
    p = np.concatenate([head / head.sum() * (1.0 - TAIL_SHARE), tail / tail.sum() * TAIL_SHARE])
    return p / p.sum()


def sample_count(rng: np.random.Generator, max_count: int = 8) -> int:
    """Draw one true count from ``count_distribution(max_count)``."""
    p = count_distribution(max_count)
    return int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right").clip(0, len(p) - 1))


# ---------------------------------------------------------------------------------
# product catalogue (metadata)

_BRANDS = [
    "Northfield", "BrightHome", "Kirkwood", "Amberline", "PureLeaf", "Summit Trail",
    "Everyday Basics", "Greenway", "Playtime", "NutriGold", "Oak & Pine", "Blue Harbor",
    "Sunny Day", "Vitalis", "HomeCraft", "Trailmate", "Crafty Kids", "Silverline",
    "Maple Ridge", "Zenith", "Harbor Bay", "Little Explorer", "Fresh Fields", "Ironwood",
    "Clearwater", "Golden Valley", "Redwood", "Starlight", "Urban Chef", "Wild Meadow",
]
_ADJ = ["Deluxe", "Classic", "Premium", "Compact", "Original", "Mini", "Professional",
        "Kids'", "Essential", "Ultra", "Sweet Shoppe", "Everyday"]
_BOX_ITEMS = [
    "Ice Cream Sundae Cart Playset", "Building Blocks Set, 120 Pieces",
    "Stainless Steel Measuring Cups, Set of 4", "LED Desk Lamp", "Wireless Computer Mouse",
    "Airplane Model Kit, A380 Air Bus", "Ceramic Coffee Mug, 12 Ounce", "Jigsaw Puzzle, 1000 Pieces",
    "Digital Kitchen Timer", "Bluetooth Speaker", "Art Supplies Kit", "USB Charging Cable, 6 Feet",
    "Family Board Game", "Herbal Tea Sampler, 40 Bags", "Cereal Bars, 8 Count",
    "Crackers, 10 Ounce Box", "Saline Enema, 7.8 Ounce", "Toothpaste, 4.8 Ounce",
    "Electric Toothbrush Heads, 4 Count", "Card Game", "Water Filter Cartridge",
    "Non-Stick Frying Pan, 10 Inch", "Camping Stove", "Bike Light Set", "Candy Box, 5 Ounce",
]
_BOOK_ADJ = ["Silent", "Hidden", "Last", "Golden", "Broken", "Distant", "Secret", "Quiet",
             "Winter", "Lost", "Banquet of", "Game of", "Little", "Midnight", "Wild"]
_BOOK_NOUN = ["Garden", "River", "Promise", "Harbor", "Kingdom", "Letters", "Orchard",
              "Signal", "Tide", "Lantern", "Divorce", "Consequences", "Summer", "Island", "Crown"]
_BOOK_TOPICS = ["Home Gardening", "Watercolor Painting", "Data Analysis", "Bread Baking",
                "Woodworking", "Personal Finance", "Birdwatching", "Chess Openings"]
_BOOK_SUFFIX = [": A Novel", " (Paperback)", " (Hardcover)", ", 2nd Edition", "", ""]
_BOTTLE_ITEMS = [
    "Vitamin D3 5000 IU, 360 Softgels", "Fish Oil 1200 mg, 180 Capsules", "Magnesium Citrate, 120 Tablets",
    "Probiotic, 60 Capsules", "Liquid Collagen Skin Revitalization, 16 Fl Ounce", "Multivitamin Gummies, 90 Count",
    "Biotin 10000 mcg, 100 Tablets", "Alpha Lipoic Acid 600 mg, 60 Capsules", "Liquid Hand Soap, 12 Fl Ounce",
    "Moisturizing Shampoo, 13.5 Fl Ounce", "Body Lotion, 16 Fl Ounce", "Extra Virgin Olive Oil, 17 Fl Ounce",
    "Hot Sauce, 5 Fl Ounce", "Sunscreen Lotion SPF 50, 8 Fl Ounce",
]
_JAR_ITEMS = [
    "Creamy Peanut Butter, 16.3 Ounce", "Raw Honey, 12 Ounce", "Organic Coconut Oil, 14 Fl Ounce",
    "Whey Protein Powder, 2 Pounds", "Instant Coffee, 8 Ounce Jar", "Almond Butter, 12 Ounce",
    "Petroleum Jelly, 13 Ounce",
]
_CAN_ITEMS = [
    "Premium Chunk Chicken Breast Packed in Water, 12.5 Ounce, 6 Count", "Diced Tomatoes, 14.5 Ounce",
    "Black Beans, 15 Ounce", "Cat Food Pate, 3 Ounce", "Infant Formula Powder, 23.2 Ounce",
    "Sweetened Condensed Milk, 14 Ounce", "Tuna in Olive Oil, 5 Ounce",
]
_BAG_ITEMS = [
    "Organic Trail Mix, 12 Ounce", "Dried Mango Slices, 16 Ounce", "Grain Free Dog Treats, 10 Ounce",
    "Whole Bean Coffee, 2 Pound Bag", "Jasmine Rice, 5 Pound", "Zipper Storage Bags, 50 Count",
    "Chia Seeds, 32 Ounce", "Gummy Bears, 5 Pound Bag", "Potting Soil, 8 Quart",
]
_KINDS = ["box", "book", "bottle", "jar", "can", "bag"]
_KIND_P = np.array([0.43, 0.20, 0.12, 0.07, 0.07, 0.11])
# inch ranges (length, width, height) and pounds
_DIMS = {
    "box": ((4, 16), (3, 11), (1, 7), (0.2, 6.0)),
    "book": ((7, 11), (5, 8.5), (0.4, 2.2), (0.4, 3.0)),
    "bottle": ((5, 11), (2, 4), (2, 4), (0.3, 2.5)),
    "jar": ((4, 7), (3, 5), (3, 5), (0.6, 3.0)),
    "can": ((3, 6), (3, 5), (3, 5), (0.3, 2.0)),
    "bag": ((6, 14), (4, 10), (1, 4), (0.3, 5.5)),
}
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _code(rng: np.random.Generator, k: int) -> str:
    return "".join(_ALNUM[int(i)] for i in rng.integers(0, len(_ALNUM), size=k))


def _product_name(rng: np.random.Generator, kind: str) -> str:
    brand = _pick(rng, _BRANDS)
    if kind == "book":
        if rng.random() < 0.75:
            name = f"The {_pick(rng, _BOOK_ADJ)} {_pick(rng, _BOOK_NOUN)}{_pick(rng, _BOOK_SUFFIX)}"
        else:
            name = f"A Practical Guide to {_pick(rng, _BOOK_TOPICS)}{_pick(rng, _BOOK_SUFFIX)}"
        return name
    if kind == "box":
        name = f"{brand} {_pick(rng, _ADJ)} {_pick(rng, _BOX_ITEMS)}"
    elif kind == "bottle":
        name = f"{brand} {_pick(rng, _BOTTLE_ITEMS)}"
    elif kind == "jar":
        name = f"{brand} {_pick(rng, _JAR_ITEMS)}"
    elif kind == "can":
        name = f"{brand} {_pick(rng, _CAN_ITEMS)}"
    else:
        name = f"{brand} {_pick(rng, _BAG_ITEMS)}"
    if rng.random() < 0.15:
        name += f" (Pack of {int(rng.integers(2, 7))})"
    return name


def _normalized(name: str) -> str:
    """ABID's normalizedName moves a trailing "(Pack of N)" to the front."""
    if name.endswith(")") and " (Pack of " in name:
        head, _, pack = name.rpartition(" (Pack of ")
        return f"(Pack of {pack} {head}"
    return name


def _inches(rng: np.random.Generator, lo: float, hi: float) -> float:
    v = float(rng.uniform(lo, hi))
    style = int(rng.integers(3))
    if style == 0:
        return round(v, 1)
    if style == 1:  # float residue as in the real exports: 8.199999991636
        return round(v, 1) * (1.0 - float(rng.uniform(1e-10, 1.2e-9)))
    return round(v * 2.54) / 2.54  # entered in cm: 11.1417322721...


def _pounds(rng: np.random.Generator, lo: float, hi: float) -> float:
    v = float(rng.uniform(lo, hi))
    if rng.random() < 0.5:
        return round(v, 2)
    return round(v * 10) * 0.1  # e.g. 1.9000000000000001


def _sku_record(rng: np.random.Generator, kind: str, quantity: int, with_norm: bool) -> tuple[str, dict]:
    asin = "B0" + _code(rng, 8)
    key = asin if rng.random() < 0.75 else "ZZ" + _code(rng, 8)
    name = _product_name(rng, kind)
    (l0, l1), (w0, w1), (h0, h1), (p0, p1) = _DIMS[kind]
    rec: dict[str, Any] = {
        "asin": asin,
        "height": {"unit": "IN", "value": _inches(rng, h0, h1)},
        "length": {"unit": "IN", "value": _inches(rng, l0, l1)},
        "name": name,
        "quantity": int(quantity),
        "weight": {"unit": "pounds", "value": _pounds(rng, p0, p1)},
        "width": {"unit": "IN", "value": _inches(rng, w0, w1)},
    }
    if with_norm:
        rec["normalizedName"] = _normalized(name)
    return key, rec


# ---------------------------------------------------------------------------------
# drawing helpers

_PALETTE = np.array([
    (200, 40, 40), (165, 28, 48), (30, 70, 160), (45, 115, 205), (25, 35, 80), (236, 236, 230),
    (240, 240, 236), (30, 30, 32), (235, 120, 30), (240, 200, 40), (40, 140, 60), (20, 80, 50),
    (110, 60, 140), (230, 130, 170), (170, 130, 85), (195, 160, 110), (180, 182, 185),
    (20, 140, 140), (230, 220, 190), (100, 60, 35), (140, 190, 230), (215, 215, 210),
    (205, 85, 60), (60, 60, 70), (244, 242, 236), (232, 228, 218), (250, 250, 250), (200, 175, 140),
], dtype=np.float64)


def _color(rng: np.random.Generator, jitter: float = 18.0) -> tuple[int, int, int]:
    c = _PALETTE[int(rng.integers(len(_PALETTE)))] + rng.normal(0.0, jitter, 3)
    lum = float(c @ np.array([0.3, 0.59, 0.11]))
    c = lum + rng.uniform(0.45, 0.85) * (c - lum)  # printed inks under warehouse light
    return tuple(int(v) for v in np.clip(c, 0, 255))


def _contrast(c: tuple[int, int, int], rng: np.random.Generator) -> tuple[int, int, int]:
    """A colour that stands out against c."""
    for _ in range(6):
        d = _color(rng)
        if sum(abs(a - b) for a, b in zip(c, d)) > 160:
            return d
    lum = 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2]
    return (25, 25, 30) if lum > 120 else (240, 240, 235)


def _shade(c, f: float) -> tuple[int, int, int]:
    return tuple(int(max(0, min(255, v * f))) for v in c)


def _rect(d: ImageDraw.ImageDraw, x0, y0, x1, y1, **kw) -> None:
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    if x1 - x0 >= 1 and y1 - y0 >= 1:
        d.rectangle((x0, y0, x1, y1), **kw)


def _ellipse(d: ImageDraw.ImageDraw, x0, y0, x1, y1, **kw) -> None:
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    if x1 - x0 >= 1 and y1 - y0 >= 1:
        d.ellipse((x0, y0, x1, y1), **kw)


@lru_cache(maxsize=128)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=max(6, int(size)))
    except Exception:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _fit_font(text: str, max_w: float, max_h: float) -> int:
    return int(max(0, min(max_h, max_w / (0.6 * max(1, len(text))))))


def _text(d: ImageDraw.ImageDraw, x, y, text: str, size: int, fill) -> None:
    if size >= 6 and text:
        d.text((x, y), text, font=_font(size), fill=fill)


def _text_marks(d, x0, y0, x1, y1, rng, color, rows: int) -> None:
    """Rows of short dashes: fine print seen from afar."""
    w, h = x1 - x0, y1 - y0
    if w < 6 or h < 4 or rows <= 0:
        return
    th = max(1, int(h / (rows * 2.2)))
    for r in range(rows):
        y = y0 + (r + 0.5) * h / rows
        x = x0
        while x < x1 - 2:
            ln = float(rng.uniform(0.06, 0.22)) * w
            _rect(d, x, y, min(x1, x + ln), y + th, fill=color)
            x += ln + max(2.0, 0.05 * w)


def _barcode(d, x0, y0, x1, y1, rng) -> None:
    _rect(d, x0, y0, x1, y1, fill=(245, 245, 242))
    w = x1 - x0
    if w < 8:
        return
    x = x0 + 0.08 * w
    while x < x1 - 0.08 * w:
        bw = float(rng.choice([1.0, 1.0, 2.0, 3.0])) * max(1.0, w / 60)
        _rect(d, x, y0 + 0.15 * (y1 - y0), x + bw - 0.01, y1 - 0.2 * (y1 - y0), fill=(30, 30, 30))
        x += bw + max(1.0, w / 60) * float(rng.choice([1.0, 2.0]))


def _picture(d, x0, y0, x1, y1, rng) -> None:
    """A product photo on the package: a few overlapping coloured blobs."""
    w, h = x1 - x0, y1 - y0
    if w < 4 or h < 4:
        return
    for _ in range(int(rng.integers(2, 6))):
        cx, cy = x0 + rng.uniform(0.1, 0.9) * w, y0 + rng.uniform(0.1, 0.9) * h
        rx, ry = rng.uniform(0.1, 0.4) * w, rng.uniform(0.1, 0.4) * h
        _ellipse(d, cx - rx, cy - ry, cx + rx, cy + ry, fill=_color(rng, 30))


def _qr(d, x0, y0, size, rng) -> None:
    k = 7
    cell = size / k
    if cell < 0.7:
        return
    bits = rng.random((k, k)) < 0.5
    bits[:2, :2] = bits[:2, -2:] = bits[-2:, :2] = True
    for r in range(k):
        for c in range(k):
            if bits[r, c]:
                _rect(d, x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell - 0.01, y0 + (r + 1) * cell - 0.01,
                      fill=(25, 25, 30))


# ---------------------------------------------------------------------------------
# product sprites: an RGB picture plus an L mask, drawn in the product's own frame


def _make_look(rng: np.random.Generator, kind: str) -> dict:
    for _ in range(8):  # keep products distinguishable from the khaki fabric behind them
        base = _color(rng)
        if sum(abs(a - b) for a, b in zip(base, (205, 180, 120))) > 90:
            break
    look = {
        "kind": kind,
        "base": base,
        "c2": _contrast(base, rng),
        "c3": _color(rng),
        "prints": [],
        "light": float(rng.uniform(-0.25, 0.25)),
        "seed": int(rng.integers(1 << 31)),
    }
    if kind == "box":
        look["aspect"] = float(rng.uniform(0.55, 2.2))
        look["prints"] = list(rng.choice(["band", "picture", "title", "lines", "sticker", "logo"],
                                         size=int(rng.integers(2, 5)), replace=False))
        look["top"] = float(rng.uniform(0.0, 0.12)) if rng.random() < 0.6 else 0.0
    elif kind == "book":
        look["aspect"] = float(rng.uniform(1.35, 1.7)) if rng.random() < 0.5 else float(rng.uniform(3.0, 6.0))
        look["prints"] = list(rng.choice(["band", "picture", "lines"], size=int(rng.integers(1, 3)), replace=False))
    elif kind == "bottle":
        look["aspect"] = float(rng.uniform(1.6, 3.0))
        look["cap"] = _color(rng)
    elif kind == "jar":
        look["aspect"] = float(rng.uniform(0.95, 1.45))
        look["cap"] = _color(rng)
    elif kind == "can":
        look["aspect"] = 1.0
        look["top_view"] = bool(rng.random() < 0.6)
        look["rim"] = _color(rng) if rng.random() < 0.5 else (150, 152, 156)
        if not look["top_view"]:
            look["aspect"] = float(rng.uniform(1.1, 1.6))
    else:  # bag
        look["aspect"] = float(rng.uniform(0.9, 1.7))
        look["clear"] = bool(rng.random() < 0.25)
        if look["clear"]:
            look["base"] = (222, 224, 226)
    words = ["BEST", "NUTRI", "AIR BUS", "ORGANIC", "DELUXE", "FRESH", "KIDS", "PRO", "ULTRA", "GOLD",
             "PURE", "MAX", "CLASSIC", "BIO", "ROCK", "MEGA", "PLAY", "HOME", "NATURAL", "SNACK"]
    look["word"] = _pick(rng, words) if rng.random() < 0.7 else _code(rng, int(rng.integers(3, 7)))
    return look


def _shade_sprite(img: Image.Image, profile_x: np.ndarray | None, profile_y: np.ndarray | None,
                  rng: np.random.Generator) -> Image.Image:
    """Light the flat drawing: side/top profiles times a smooth random field (dents, folds)."""
    w, h = img.size
    g = rng.uniform(0.86, 1.08, (int(rng.integers(2, 5)), int(rng.integers(2, 5))))
    field = np.asarray(Image.fromarray((g * 200).astype(np.uint8), "L").resize((w, h), Image.BILINEAR),
                       dtype=np.float32) * (1.0 / 200.0)
    if profile_x is not None:
        field *= profile_x[None, :]
    if profile_y is not None:
        field *= profile_y[:, None]
    a = np.asarray(img, dtype=np.float32) * field[:, :, None]
    np.minimum(a, 255.0, out=a)
    return Image.fromarray(a.astype(np.uint8))


def _render_sprite(look: dict, w: int, h: int) -> tuple[Image.Image, Image.Image]:
    rng = np.random.default_rng(look["seed"])
    w, h = max(3, int(w)), max(3, int(h))
    kind = look["kind"]
    base, c2, c3 = look["base"], look["c2"], look["c3"]
    rgb = Image.new("RGB", (w, h), base)
    mask = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(rgb, "RGBA")
    md = ImageDraw.Draw(mask)
    s = max(1.0, min(w, h) / 60.0)
    edge = _shade(base, 0.55)
    xs = np.linspace(-1.0, 1.0, w, dtype=np.float32)
    prof_x = 1.0 + look["light"] * xs
    prof_y = None

    if kind in ("box", "book"):
        top = int(h * look.get("top", 0.0))
        md.polygon([(top, 0), (w - 1, 0), (w - 1, h - 1), (0, h - 1), (0, top)], fill=255)
        if top >= 2:
            d.polygon([(top, 0), (w - 1, 0), (w - 1, top), (0, top)], fill=_shade(base, 1.2))
            d.line([(0, top), (w - 1, top)], fill=edge, width=1)
        fy0, fy1 = top, h
        vertical = kind == "book" and h > 2.4 * w
        for p in look["prints"]:
            if p == "band":
                y = fy0 + rng.uniform(0.0, 0.7) * (fy1 - fy0)
                _rect(d, 0, y, w, y + rng.uniform(0.1, 0.3) * (fy1 - fy0), fill=c2)
            elif p == "picture":
                _picture(d, w * 0.1, fy0 + (fy1 - fy0) * rng.uniform(0.1, 0.4), w * 0.9,
                         fy0 + (fy1 - fy0) * rng.uniform(0.6, 0.9), rng)
            elif p == "lines":
                y = fy0 + rng.uniform(0.5, 0.8) * (fy1 - fy0)
                _text_marks(d, w * 0.1, y, w * 0.9, min(fy1 - 2, y + 0.18 * (fy1 - fy0)), rng,
                            _shade(c2, 0.8), int(rng.integers(2, 5)))
            elif p == "sticker":
                sx = rng.uniform(0.05, 0.55) * w
                sy = fy0 + rng.uniform(0.05, 0.7) * (fy1 - fy0)
                _barcode(d, sx, sy, sx + 0.35 * w, sy + 0.14 * (fy1 - fy0), rng)
            elif p == "logo":
                cx, cy = rng.uniform(0.3, 0.7) * w, fy0 + rng.uniform(0.25, 0.75) * (fy1 - fy0)
                r = rng.uniform(0.12, 0.3) * min(w, fy1 - fy0)
                _ellipse(d, cx - r, cy - r * 0.8, cx + r, cy + r * 0.8, fill=c3)
                _ellipse(d, cx - r * 0.55, cy - r * 0.45, cx + r * 0.55, cy + r * 0.45, fill=c2)
        if kind == "book" or "title" in look["prints"]:
            word = look["word"]
            if vertical:
                size = _fit_font(word, h * 0.8, w * 0.7)
                if size >= 6:
                    tw, th = int(size * 0.62 * len(word)) + 4, int(size * 1.3)
                    tm = Image.new("L", (tw, th), 0)
                    ImageDraw.Draw(tm).text((2, 0), word, font=_font(size), fill=255)
                    tm = tm.rotate(90, expand=True)
                    rgb.paste(Image.new("RGB", tm.size, c2), (int((w - tm.width) / 2), int(h * 0.12)), tm)
            else:
                size = _fit_font(word, w * 0.85, (fy1 - fy0) * 0.22)
                _text(d, w * 0.07, fy0 + (fy1 - fy0) * rng.uniform(0.05, 0.35), word, size, c2)
        if kind == "book":
            _rect(d, 0, 0, w, max(1, h * 0.03), fill=_shade(base, 0.8))
        d.rectangle((0, 0, w - 1, h - 1), outline=edge, width=max(1, int(s * 0.8)))
        prof_y = np.linspace(1.08, 0.9, h, dtype=np.float32)

    elif kind in ("bottle", "jar"):
        jar = kind == "jar"
        cap_h = int(h * (rng.uniform(0.14, 0.22) if jar else rng.uniform(0.1, 0.16)))
        cap_w = w * (rng.uniform(0.85, 0.95) if jar else rng.uniform(0.38, 0.55))
        neck = 0 if jar else int(h * rng.uniform(0.08, 0.14))
        cx = w / 2
        body_y = cap_h + neck
        r = max(2, int(w * 0.18))
        d.rectangle((0, 0, w, h), fill=base)
        md.rounded_rectangle((0, body_y, w - 1, h - 1), radius=r, fill=255)
        if neck:
            md.polygon([(cx - cap_w / 2, cap_h), (cx + cap_w / 2, cap_h), (w - 1, body_y + r),
                        (0, body_y + r)], fill=255)
        md.rounded_rectangle((cx - cap_w / 2, 0, cx + cap_w / 2, cap_h + 1), radius=max(1, int(s)), fill=255)
        d.rectangle((0, 0, w, cap_h), fill=look["cap"])
        for k in range(1, 4):  # cap ridges
            y = cap_h * k / 4
            d.line([(0, y), (w, y)], fill=_shade(look["cap"], 0.8), width=1)
        ly0 = body_y + (h - body_y) * rng.uniform(0.12, 0.3)
        ly1 = h - (h - body_y) * rng.uniform(0.05, 0.18)
        _rect(d, 0, ly0, w, ly1, fill=c2)
        lh = ly1 - ly0
        _text(d, w * 0.08, ly0 + lh * 0.1, look["word"], _fit_font(look["word"], w * 0.84, lh * 0.3), c3)
        if rng.random() < 0.6:
            _ellipse(d, w * 0.3, ly0 + lh * 0.45, w * 0.7, ly0 + lh * 0.7, fill=c3)
        _text_marks(d, w * 0.15, ly0 + lh * 0.72, w * 0.85, ly1 - lh * 0.05, rng, _shade(c3, 0.7), 2)
        cyl = np.sqrt(np.clip(1.0 - xs ** 2, 0.0, 1.0)).astype(np.float32)
        prof_x = (0.62 + 0.45 * cyl + 0.35 * np.exp(-((xs + 0.45) / 0.12) ** 2)).astype(np.float32)
        prof_x *= 1.0 + 0.5 * look["light"] * xs

    elif kind == "can":
        if look["top_view"]:
            md.ellipse((0, 0, w - 1, h - 1), fill=255)
            metal = (175, 177, 180)
            d.ellipse((0, 0, w - 1, h - 1), fill=look["rim"])
            for k, f in ((0.07, 1.05), (0.14, 0.8), (0.2, 1.1), (0.3, 0.85), (0.42, 1.0)):
                _ellipse(d, w * k, h * k, w * (1 - k), h * (1 - k), fill=_shade(metal, f),
                         outline=_shade(metal, 0.6))
            d.polygon([(w * 0.25, h * 0.2), (w * 0.55, h * 0.12), (w * 0.35, h * 0.55)],
                      fill=(255, 255, 255, 60))
            prof_y = np.linspace(1.12, 0.85, h, dtype=np.float32)
        else:
            md.rounded_rectangle((0, 0, w - 1, h - 1), radius=max(2, int(w * 0.1)), fill=255)
            ey = max(2, int(h * 0.12))
            d.rectangle((0, 0, w, h), fill=base)
            _ellipse(d, 0, 0, w - 1, ey * 2, fill=(180, 182, 186), outline=(120, 120, 125))
            _rect(d, 0, h * 0.3, w, h * 0.75, fill=c2)
            _text(d, w * 0.1, h * 0.35, look["word"], _fit_font(look["word"], w * 0.8, h * 0.18), c3)
            cyl = np.sqrt(np.clip(1.0 - xs ** 2, 0.0, 1.0)).astype(np.float32)
            prof_x = (0.65 + 0.4 * cyl + 0.3 * np.exp(-((xs + 0.4) / 0.15) ** 2)).astype(np.float32)

    else:  # bag / pouch
        n_pts = 10
        ys = np.linspace(0.1 * h, h - 1, n_pts)
        wob = rng.uniform(0.02, 0.07) * w
        left = [(float(wob * (1 + math.sin(k * 1.3 + look["seed"] % 7))), float(y)) for k, y in enumerate(ys)]
        right = [(float(w - 1 - wob * (1 + math.cos(k * 1.1 + look["seed"] % 5))), float(y))
                 for k, y in enumerate(ys)]
        top = []
        zig = max(2, int(w / max(2.0, 3 * s)))
        for k in range(zig + 1):
            top.append((float(w * 0.04 + (w * 0.92) * k / zig), float(h * (0.03 if k % 2 else 0.05))))
        poly = top + right + left[::-1]
        md.polygon(poly, fill=215 if look["clear"] else 255)
        d.rectangle((0, 0, w, h), fill=base)
        _rect(d, 0, 0, w, h * 0.12, fill=_shade(base, 0.85))
        for k in range(1, zig, 2):
            x = w * 0.04 + (w * 0.92) * k / zig
            d.line([(x, h * 0.02), (x, h * 0.11)], fill=_shade(base, 0.6), width=1)
        if look["clear"]:
            _picture(d, w * 0.1, h * 0.2, w * 0.9, h * 0.9, rng)
            d.rectangle((0, 0, w, h), fill=(235, 236, 238, 140))
        else:
            cy = h * rng.uniform(0.35, 0.6)
            r = rng.uniform(0.12, 0.26) * w
            _ellipse(d, w / 2 - r, cy - r * 0.7, w / 2 + r, cy + r * 0.7, fill=c2)
            _picture(d, w * 0.15, cy + r * 0.5, w * 0.85, h * 0.75, rng)
            _text(d, w * 0.1, h * 0.16, look["word"], _fit_font(look["word"], w * 0.8, h * 0.14), c3)
            _text_marks(d, w * 0.15, h * 0.78, w * 0.85, h * 0.92, rng, _shade(c2, 0.7), 2)
        for _ in range(int(rng.integers(1, 4))):  # glossy streaks
            x = rng.uniform(0.05, 0.8) * w
            d.polygon([(x, h * 0.12), (x + w * 0.08, h * 0.12), (x + w * 0.02, h * 0.95), (x - w * 0.05, h * 0.95)],
                      fill=(255, 255, 255, int(rng.integers(30, 90))))
        prof_y = np.linspace(1.05, 0.88, h, dtype=np.float32)

    if kind in ("box", "book", "bag") and rng.random() < 0.45:  # glare on shrink wrap or gloss
        x = rng.uniform(-0.2, 0.7) * w
        gw = rng.uniform(0.08, 0.3) * w
        sl = rng.uniform(-0.4, 0.4) * w
        d.polygon([(x, 0), (x + gw, 0), (x + gw + sl, h), (x + sl, h)], fill=(255, 255, 255, int(rng.integers(25, 80))))
    return _shade_sprite(rgb, prof_x, prof_y, rng), mask


# ---------------------------------------------------------------------------------
# scene


def _sample_size(rng: np.random.Generator, scale: float) -> tuple[int, int]:
    w = float(np.clip(rng.lognormal(math.log(ABID_MEDIAN[0]), 0.2), *ABID_WIDTH))
    a = float(rng.lognormal(math.log(ABID_MEDIAN[1] / ABID_MEDIAN[0]), 0.22))
    h = float(np.clip(w * a, *ABID_HEIGHT))
    return max(32, int(round(w * scale))), max(32, int(round(h * scale)))


def _split_quantities(rng: np.random.Generator, count: int) -> list[int]:
    qs = []
    left = count
    while left > 0:
        q = int(rng.choice([1, 2, 3], p=[0.68, 0.22, 0.10]))
        q = min(q, left)
        qs.append(q)
        left -= q
    return qs


@dataclass
class _Frame:
    W: int
    H: int
    left: float
    right: float
    top: float
    lip: float  # y of the lip's highest point
    sag: float
    floor: float

    def lip_y(self, x: np.ndarray) -> np.ndarray:
        u = (np.asarray(x, dtype=np.float64) - self.W / 2) / (self.W / 2)
        return self.lip + self.sag * (1.0 - u ** 2)


def _sample_frame(rng: np.random.Generator, W: int, H: int) -> _Frame:
    left = W * rng.uniform(0.015, 0.08)
    right = W * rng.uniform(0.015, 0.08)
    top = H * (rng.uniform(0.0, 0.07) if rng.random() < 0.85 else rng.uniform(0.07, 0.18))
    lip_h = H * rng.uniform(0.07, 0.16)
    sag = H * rng.uniform(-0.01, 0.035)
    lip = H - lip_h - max(0.0, sag)
    floor = lip + lip_h * rng.uniform(0.2, 0.6)
    return _Frame(W, H, left, right, top, lip, sag, floor)


def _aabb(x, y, w, h, angle_deg):
    """Axis-aligned box of a w x h rectangle with top-left (x, y) rotated about its centre."""
    a = math.radians(angle_deg)
    cw = abs(w * math.cos(a)) + abs(h * math.sin(a))
    ch = abs(w * math.sin(a)) + abs(h * math.cos(a))
    cx, cy = x + w / 2, y + h / 2
    return cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2


def _layout(rng, looks, quantities, fr: _Frame):
    """Place every item so that each stays partly visible.

    Returns (sizes per SKU, placements [(sku, x, y, angle)], min visible fraction).
    """
    W, H = fr.W, fr.H
    ix0, ix1 = fr.left, W - fr.right
    iy0, iy1 = fr.top, fr.floor
    Wi, Hi = ix1 - ix0, iy1 - iy0
    n_sku = len(looks)
    n = sum(quantities)
    gw = 48
    cell = W / gw
    gh = int(math.ceil(H / cell))
    best = None
    for attempt in range(14):
        shrink = 0.92 ** attempt
        lying = [bool(looks[k]["kind"] in ("box", "book", "bag") and n >= 2 and rng.random() < 0.2)
                 for k in range(n_sku)]
        if all(lying):
            lying[0] = False
        row_skus = [k for k in range(n_sku) if not lying[k]]
        # two tiers when crowded
        tiers = [row_skus]
        if len(row_skus) >= 2 and sum(quantities[k] for k in row_skus) >= 5 and rng.random() < 0.5:
            cut = int(rng.integers(1, len(row_skus)))
            order = list(rng.permutation(row_skus))
            tiers = [order[:cut], order[cut:]]
        sizes: list[tuple[int, int]] = [(0, 0)] * n_sku
        placements = []
        for t, tier in enumerate(tiers):
            r_items = sum(quantities[k] for k in tier)
            if r_items == 0:
                continue
            back = len(tiers) == 2 and t == 0
            front = len(tiers) == 2 and t == 1
            h_lo, h_hi = (0.3, 0.55) if front else (0.62, 1.02)
            hshrink = 1.0 if attempt < 6 else shrink
            ws, hs = {}, {}
            for k in tier:
                hs[k] = Hi * rng.uniform(h_lo, h_hi) * hshrink
                ws[k] = hs[k] / looks[k]["aspect"]
            total = sum(ws[k] * quantities[k] for k in tier)
            if r_items == 1:
                lo_t, hi_t = 0.25 * Wi, 0.8 * Wi
            else:
                lo_t, hi_t = Wi * rng.uniform(0.7, 0.9), Wi * rng.uniform(1.0, 1.35)
            f = 1.0
            if total > hi_t:
                f = hi_t / total
            elif total < lo_t:
                f = min(1.6, lo_t / total)
            f *= shrink
            for k in tier:
                w, h = ws[k] * f, hs[k]
                if looks[k]["kind"] == "can" and looks[k].get("top_view"):
                    w = h = min(w, h)
                sizes[k] = (max(4, int(w)), max(4, int(h)))
            seq = []
            ks = list(rng.permutation(tier))
            for k in ks:
                seq += [k] * quantities[k]
            if rng.random() < 0.2:
                seq = list(rng.permutation(seq))
            lefts, x = [], 0.0
            for j, k in enumerate(seq):
                lefts.append(x)
                wk = sizes[k][0]
                nxt = sizes[seq[j + 1]][0] if j + 1 < len(seq) else wk
                x += wk + rng.uniform(-0.22, 0.06) * min(wk, nxt)
            span = lefts[-1] + sizes[seq[-1]][0]
            if span > Wi and lefts[-1] > 0:
                c = max(0.0, Wi - sizes[seq[-1]][0]) / lefts[-1]
                lefts = [v * c for v in lefts]
                off = 0.0
            else:
                off = rng.uniform(0, max(0.0, Wi - span))
            y_base = iy1 - (Hi * rng.uniform(0.04, 0.16) if back else 0.0)
            tier_pl = []
            for j, k in enumerate(seq):
                w, h = sizes[k]
                ang = float(np.clip(rng.normal(0, 3.0), -8, 8))
                if h > 2 * w and rng.random() < 0.12:
                    ang = float(rng.choice([-1, 1]) * rng.uniform(8, 20))
                y = y_base - h + rng.uniform(-0.03, 0.02) * Hi
                tier_pl.append((k, ix0 + off + lefts[j], y, ang))
            order = rng.permutation(len(tier_pl))
            placements += [tier_pl[i] for i in order]
        for k in range(n_sku):
            if not lying[k]:
                continue
            w = Wi * rng.uniform(0.35, 0.7) * shrink
            h = min(Hi * rng.uniform(0.17, 0.3), w * 0.8)
            sizes[k] = (max(4, int(w)), max(4, int(h)))
            x = ix0 + rng.uniform(0, max(1.0, Wi - w))
            base_y = fr.lip + max(0.0, fr.sag) * 0.5 + rng.uniform(0.0, 0.25) * (fr.floor - fr.lip)
            for j in range(quantities[k]):
                placements.append((k, x + rng.uniform(-0.04, 0.04) * w,
                                   base_y - (j + 1) * h * 0.97, float(rng.normal(0, 1.5))))
        # visibility on a coarse grid
        grid = np.full((gh, gw), -1, dtype=np.int32)
        own = []
        for i, (k, x, y, ang) in enumerate(placements):
            w, h = sizes[k]
            a0, b0, a1, b1 = _aabb(x, y, w, h, ang)
            sh = 0.12 if abs(ang) > 4 else 0.03  # the box of a tilted item over-covers
            a0, a1 = a0 + sh * (a1 - a0), a1 - sh * (a1 - a0)
            b0, b1 = b0 + sh * (b1 - b0), b1 - sh * (b1 - b0)
            c0, c1 = int(round(a0 / cell)), int(round(a1 / cell))
            r0, r1 = int(round(b0 / cell)), int(round(b1 / cell))
            full = max(1, (c1 - c0) * (r1 - r0))
            c0c, c1c, r0c, r1c = max(0, c0), min(gw, c1), max(0, r0), min(gh, r1)
            inside = max(0, c1c - c0c) * max(0, r1c - r0c)
            own.append((full, inside))
            if inside:
                grid[r0c:r1c, c0c:c1c] = i
        grid[: int(round(fr.top / cell)), :] = -2
        grid[:, : int(round(fr.left / cell))] = -2
        grid[:, gw - int(round(fr.right / cell)):] = -2
        grid[int(round((fr.lip + max(0.0, fr.sag) * 0.5) / cell)):, :] = -2
        vis = np.bincount(grid.ravel() + 2, minlength=len(placements) + 2)[2:]
        fracs = [vis[i] / full if full else 0.0 for i, (full, _) in enumerate(own)]
        interior_cells = max(1.0, (Wi / cell) * ((fr.lip - fr.top) / cell))
        min_cells = max(3.0, 0.03 * interior_cells)
        ok = all(f >= 0.4 and v >= min_cells for f, v in zip(fracs, vis))
        score = min(fracs) if fracs else 1.0
        if best is None or score > best[2]:
            best = (sizes, placements, score)
        if ok:
            return sizes, placements, score
    return best


def _background(rng, W: int, H: int, fabric: np.ndarray) -> Image.Image:
    """The bin's back wall: khaki fabric with soft vertical folds, darker at the top."""
    xs = np.linspace(0.0, 1.0, W, dtype=np.float32)
    ys = np.linspace(0.0, 1.0, H, dtype=np.float32)
    hx = np.ones(W, dtype=np.float32)
    for _ in range(int(rng.integers(2, 6))):
        c, wd, a = rng.uniform(0, 1), rng.uniform(0.01, 0.08), rng.uniform(-0.18, 0.12)
        hx += (a * np.exp(-((xs - c) / wd) ** 2)).astype(np.float32)
    vy = (rng.uniform(0.7, 0.92) + rng.uniform(0.05, 0.25) * ys).astype(np.float32)
    f = np.outer(vy * (200.0 / 1.4), np.clip(hx, 0.0, 1.4))  # brightness in 0..200
    lum = Image.fromarray(np.clip(f, 0, 255).astype(np.uint8), "L")
    col = fabric * rng.uniform(0.75, 1.0) / 200.0
    bands = [lum.point([min(255, int(v * c)) for v in range(256)]) for c in col]
    return Image.merge("RGB", bands)


def _draw_frame(rng, img: Image.Image, fr: _Frame, fabric: tuple) -> None:
    W, H = fr.W, fr.H
    d = ImageDraw.Draw(img, "RGBA")
    s = max(1.0, H / 334)
    light = _shade(fabric, rng.uniform(1.02, 1.15))
    # top: the shelf or the bin above
    if fr.top > 1:
        if rng.random() < 0.65:
            g = int(rng.uniform(120, 185))
            top_col = (g, g - 2, g - 6)
        else:
            top_col = _shade(fabric, rng.uniform(0.85, 1.05))
        d.rectangle((0, 0, W, fr.top), fill=top_col)
        d.line([(0, fr.top), (W, fr.top)], fill=_shade(top_col, 0.6), width=max(1, int(s)))
        d.rectangle((0, fr.top, W, fr.top + 3 * s), fill=(0, 0, 0, 50))
        if rng.random() < 0.35:
            _draw_tag(rng, d, W * rng.uniform(0.3, 0.7), fr.top * rng.uniform(0.1, 0.4), max(6, fr.top * 0.8), s)
    # sides
    for side in (0, 1):
        wd = fr.left if side == 0 else fr.right
        wb = wd * rng.uniform(1.0, 1.5)
        col = _shade(fabric, rng.uniform(0.95, 1.1))
        if side == 0:
            poly = [(0, 0), (wd, 0), (wb, H), (0, H)]
            inner = [(wd, 0), (wb, H)]
        else:
            poly = [(W, 0), (W - wd, 0), (W - wb, H), (W, H)]
            inner = [(W - wd, 0), (W - wb, H)]
        d.polygon(poly, fill=col)
        d.line(inner, fill=_shade(col, 0.65), width=max(1, int(1.5 * s)))
        ox = 2 * s if side == 0 else -2 * s
        d.line([(inner[0][0] - ox, 0), (inner[1][0] - ox, H)], fill=_shade(col, 1.12), width=max(1, int(s)))
    if rng.random() < 0.3:  # a vertical strap
        x = W * rng.choice([rng.uniform(0.04, 0.12), rng.uniform(0.86, 0.96)])
        d.rectangle((x, 0, x + 3 * s, fr.lip), fill=_shade(light, 0.95))
    # front lip with its sag
    xs = np.linspace(0, W, 17)
    ys = fr.lip_y(xs)
    poly = [(float(x), float(y)) for x, y in zip(xs, ys)] + [(W, H), (0, H)]
    d.polygon(poly, fill=light)
    d.line([(float(x), float(y)) for x, y in zip(xs, ys)], fill=_shade(light, 0.7), width=max(1, int(1.5 * s)))
    d.line([(float(x), float(y) + 3 * s) for x, y in zip(xs, ys)], fill=_shade(light, 1.1), width=max(1, int(s)))
    if rng.random() < 0.5:  # a second fold lower on the lip
        d.line([(float(x), float(y) + (H - y) * 0.55) for x, y in zip(xs, ys)], fill=_shade(light, 0.85),
               width=max(1, int(s)))
    # the bin tag on the lip
    cx = W * rng.uniform(0.3, 0.7)
    ly = float(fr.lip_y(np.array([cx]))[0])
    th = max(7.0, (H - ly) * rng.uniform(0.55, 0.8))
    _draw_tag(rng, d, cx, ly + (H - ly) * rng.uniform(0.12, 0.35), th, s)


def _draw_tag(rng, d, cx, y, th, s) -> None:
    """The bin label: a coloured code block ("1Bt") and a white block with a 2-D code."""
    tw = th * rng.uniform(3.4, 4.8)
    x0 = cx - tw / 2
    kind = int(rng.integers(4))
    col, txt = [((246, 246, 240), (30, 30, 35)), ((80, 50, 105), (245, 245, 245)),
                ((232, 135, 105), (30, 30, 30)), ((150, 195, 230), (25, 25, 30))][kind]
    d.rectangle((x0, y, x0 + tw, y + th), fill=(244, 244, 238))
    d.rectangle((x0 + tw * 0.06, y + th * 0.1, x0 + tw * 0.62, y + th * 0.9), fill=col)
    label = f"{int(rng.integers(1, 5))}{'ABCDEF'[int(rng.integers(6))]}t"
    _text(d, x0 + tw * 0.14, y + th * 0.05, label, int(th * 0.75), txt)
    q = th * 0.7
    _qr(d, x0 + tw * 0.7, y + th * 0.15, q, rng)
    d.rectangle((x0, y, x0 + tw, y + th), outline=(120, 115, 105), width=max(1, int(s * 0.7)))


def _shifted(prof: np.ndarray, off: np.ndarray) -> np.ndarray:
    """H x W map whose column x is ``prof`` moved down by ``off[x]`` rows."""
    H = len(prof)
    out = np.empty((H, len(off)), dtype=prof.dtype)
    rows = np.arange(H)
    for u in np.unique(off):
        out[:, off == u] = prof[np.clip(rows - u, 0, H - 1)][:, None]
    return out


def _tape(rng, img: Image.Image, fr: _Frame) -> Image.Image:
    """Translucent elastic bands (bundles of thin white strands) across the front."""
    W, H = img.size
    s = max(1.0, H / 334)
    prof = np.zeros(H, dtype=np.float32)
    cord = np.zeros(H, dtype=np.float32)
    n_bands = int(rng.choice([2, 3, 4], p=[0.55, 0.33, 0.12]))
    lo, hi = fr.top + 0.05 * (fr.lip - fr.top), fr.lip + 0.6 * (H - fr.lip)
    edges = np.sort(rng.uniform(lo, hi, n_bands + 1))
    for b in range(n_bands):  # one band in each slot, so they rarely merge
        bh = H * rng.uniform(0.08, 0.26)
        c = rng.uniform(edges[b], edges[b + 1])
        y0, y1 = max(0, int(c - bh / 2)), min(H, int(c + bh / 2))
        if y1 - y0 < 3:
            continue
        m = y1 - y0
        gap = rng.uniform(1.6, 4.0) * s
        ys = np.cumsum(rng.uniform(0.5, 1.5, int(m / gap) + 2) * gap)
        ys = ys[ys < m].astype(np.int64)
        alpha = np.full(m, rng.uniform(0.06, 0.2), dtype=np.float32)
        alpha[ys] = rng.uniform(0.3, 0.75, len(ys))
        e = max(1, int(s))
        alpha[:e] = alpha[-e:] = rng.uniform(0.5, 0.8)
        prof[y0:y1] = np.maximum(prof[y0:y1], alpha)
        if rng.random() < 0.3:  # the yellow elastic cord along the band
            yc = min(H - 1, y1 + int(rng.uniform(-0.5, 1.0) * 3 * s))
            cord[max(0, yc - int(1.2 * s)): yc + int(1.2 * s) + 1] = 0.85
    bow = rng.uniform(-0.02, 0.02) * H
    tilt = rng.uniform(-0.01, 0.01) * H
    u = np.linspace(-1.0, 1.0, W)
    off = np.round(bow * (1 - u ** 2) + tilt * u).astype(np.int64)
    tape_col = tuple(int(v) for v in np.clip(np.array([228, 228, 224]) * rng.uniform(0.9, 1.05), 0, 255))
    alpha = Image.fromarray(_shifted((prof * 255).astype(np.uint8), off), "L")
    img = Image.composite(Image.new("RGB", img.size, tape_col), img, alpha)
    if cord.any():
        alpha = Image.fromarray(_shifted((cord * 255).astype(np.uint8), off), "L")
        img = Image.composite(Image.new("RGB", img.size, (205, 185, 115)), img, alpha)
    return img


@lru_cache(maxsize=1)
def _normal_quantiles() -> np.ndarray:
    """Standard normal quantiles at (i + 0.5) / 256: turns random bytes into Gaussian noise."""
    q = np.empty(256)
    for i in range(256):
        p = (i + 0.5) / 256
        lo, hi = -6.0, 6.0
        for _ in range(60):
            mid = (lo + hi) / 2
            if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
                lo = mid
            else:
                hi = mid
        q[i] = (lo + hi) / 2
    return q


def _light_field(rng, w: int, h: int) -> Image.Image:
    """Smooth brightness (<= 1): a gradient from one side and a vignette, as an L image."""
    g = 16
    xs = np.linspace(-1.0, 1.0, g)
    gx, gy = rng.uniform(-0.18, 0.18), rng.uniform(-0.2, 0.1)
    vig = rng.uniform(0.05, 0.2)
    f = np.outer((1 + gy * xs) * (1 - vig * xs ** 2), (1 + gx * xs) * (1 - vig * xs ** 2))
    f = f / f.max()
    small = Image.fromarray(np.clip(f * 255, 0, 255).astype(np.uint8), "L")
    return small.resize((w, h), Image.BILINEAR)


def _render_image(rng: np.random.Generator, looks: list[dict], quantities: list[int], W: int, H: int):
    # The scene is drawn a little smaller than the photo and scaled up at the end: the
    # softness of the real photos, for less work.
    r = rng.uniform(0.7, 0.9)
    w, h = max(24, int(round(W * r))), max(24, int(round(H * r)))
    fabric = np.array([218, 188, 126], dtype=np.float64) + rng.normal(0, 6, 3)
    fr = _sample_frame(rng, w, h)
    img = _background(rng, w, h, fabric)
    min_vis = 1.0
    if quantities:
        sizes, placements, min_vis = _layout(rng, looks, quantities, fr)
        sprites = {k: _render_sprite(looks[k], *sizes[k]) for k in sorted({p[0] for p in placements})}
        shadow_lut = [int(v * 0.45) for v in range(256)]
        sh = max(1, int(h / 160))
        for k, x, y, ang in placements:
            rgb, mask = sprites[k]
            if abs(ang) > 1.0:
                rgb = rgb.rotate(ang, resample=Image.BILINEAR, expand=True)
                mask = mask.rotate(ang, resample=Image.BILINEAR, expand=True)
            w0, h0 = sizes[k]
            px = int(round(x + w0 / 2 - rgb.width / 2))
            py = int(round(y + h0 / 2 - rgb.height / 2))
            img.paste((18, 14, 8), (px + sh, py + sh, px + sh + rgb.width, py + sh + rgb.height),
                      mask.point(shadow_lut))
            img.paste(rgb, (px, py), mask)
    _draw_frame(rng, img, fr, tuple(int(v) for v in fabric))
    img = _tape(rng, img, fr)
    # lighting, then one colour matrix: exposure, warm cast, desaturation, haze
    light = _light_field(rng, w, h)
    img = ImageChops.multiply(img, Image.merge("RGB", (light, light, light)))
    exposure = rng.uniform(0.8, 1.1)
    cast = np.array([1.0, rng.uniform(0.86, 0.93), rng.uniform(0.77, 0.88)])
    sat = rng.uniform(0.8, 1.0)
    haze = rng.uniform(0.08, 0.22)
    m = sat * np.eye(3) + (1 - sat) * np.array([[0.3, 0.59, 0.11]] * 3)
    m = (1 - haze) * exposure * cast[:, None] * m
    tone = haze * np.array([150.0, 128.0, 100.0])
    matrix = tuple(float(v) for row in np.hstack([m, tone[:, None]]) for v in row)
    img = img.convert("RGB", matrix)
    # sensor noise (luminance), from random bytes through the Gaussian quantile table
    sigma = rng.uniform(1.5, 4.0)
    lut = np.clip(np.round(128 + sigma * _normal_quantiles()), 0, 255).astype(np.uint8).tolist()
    noise = Image.frombytes("L", (w, h), rng.bytes(w * h)).point(lut)
    img = ImageChops.add(img, Image.merge("RGB", (noise, noise, noise)), 1.0, -128)
    if rng.random() < 0.2:  # a defocused or shaken shot
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.4) * max(1.0, h / 300)))
    img = img.resize((W, H), Image.BILINEAR)
    return img, min_vis


# ---------------------------------------------------------------------------------
# one record


def _mismatch_plan(seed: int, n: int, rate: float) -> dict[int, str]:
    """index -> "consistent" (SKU list agrees with the wrong count) or "inconsistent"."""
    k = int(round(n * rate))
    if k <= 0:
        return {}
    rng = np.random.default_rng([seed, 0x6D69736D, n])
    chosen = [int(i) + 1 for i in rng.permutation(n)[:k]]
    half = (k + 1) // 2
    return {i: ("consistent" if j < half else "inconsistent") for j, i in enumerate(chosen)}


def render_record(seed: int, index: int, mismatch: Optional[str] = None, *, max_count: int = 8,
                  image_scale: float = 1.0) -> tuple[bytes, str, dict]:
    """Render bin ``index``: (JPEG bytes, metadata JSON text, truth entry).

    ``mismatch`` is None, "consistent" or "inconsistent"; it changes only the metadata,
    never the photo.
    """
    rng = np.random.default_rng([seed, index])
    count = sample_count(rng, max_count)
    quantities = _split_quantities(rng, count)
    kinds = [_KINDS[int(i)] for i in rng.choice(len(_KINDS), size=len(quantities), p=_KIND_P)]
    looks = [_make_look(rng, k) for k in kinds]
    with_norm = bool(rng.random() < 0.6)
    skus = [_sku_record(rng, k, q, with_norm) for k, q in zip(kinds, quantities)]
    has_fname = bool(rng.random() < 0.3)
    quality = int(rng.integers(85, 91))
    W, H = _sample_size(rng, image_scale)
    img, min_vis = _render_image(rng, looks, quantities, W, H)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=False, progressive=False)
    jpeg = buf.getvalue()

    # metadata, with a deliberately wrong count for the chosen records
    mrng = np.random.default_rng([seed, index, 0x6D657461])
    recorded = count
    if mismatch is not None:
        deltas = [d for d in (-2, -1, 1, 2) if count + d >= 0]
        p = np.array([0.15 if abs(d) == 2 else 0.35 for d in deltas])
        recorded = count + int(mrng.choice(deltas, p=p / p.sum()))
        if mismatch == "consistent":
            if recorded > count:  # a SKU record for something not in the bin
                kind = _KINDS[int(mrng.choice(len(_KINDS), p=_KIND_P))]
                skus.append(_sku_record(mrng, kind, recorded - count, with_norm))
            else:  # records missing for items that are in the bin
                deficit = count - recorded
                keep = []
                for j in mrng.permutation(len(skus)):
                    key, rec = skus[int(j)]
                    if 0 < rec["quantity"] <= deficit:
                        deficit -= rec["quantity"]
                    else:
                        keep.append((key, rec))
                for key, rec in keep:
                    if deficit and rec["quantity"] > deficit:
                        rec["quantity"] -= deficit
                        deficit = 0
                skus = keep
    data: dict[str, Any] = {}
    for key, rec in skus:
        while key in data:  # never silently merge two SKU records
            key = "ZZ" + _code(mrng, 8)
        data[key] = rec
    meta: dict[str, Any] = {"BIN_FCSKU_DATA": data, "EXPECTED_QUANTITY": int(recorded)}
    if has_fname:
        meta["image_fname"] = f"{index}.jpg"
    text = json.dumps(meta, sort_keys=True, indent=4) + "\n"
    sku_sum = sum(r["quantity"] for r in data.values())
    truth = {
        "true_count": int(count),
        "recorded_count": int(recorded),
        "mismatch": recorded != count,
        "sku_sum": int(sku_sum),
        "width": W,
        "height": H,
        "min_visible": round(float(min_vis), 3),
    }
    return jpeg, text, truth


def _task(args) -> tuple[int, bytes, str, dict]:
    seed, index, mismatch, max_count, image_scale = args
    jpeg, text, truth = render_record(seed, index, mismatch, max_count=max_count, image_scale=image_scale)
    return index, jpeg, text, truth


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------
# the dataset


def generate_dataset(out: Path, n: int, seed: int = 0, mismatch_rate: float = 0.1, *,
                     max_count: int = 8, image_scale: float = 1.0,
                     progress: Callable[[int, int], None] | None = None,
                     cancel: Callable[[], bool] | None = None,
                     workers: int = 1) -> SynthSummary:
    """Write ``n`` synthetic bins to ``out`` in the ABID layout plus ``out/truth.json``.

    A fraction ``mismatch_rate`` of the records (exactly ``round(n * rate)``, chosen
    from the seed) carry an EXPECTED_QUANTITY off by 1 or 2; half of those have a
    SKU list that agrees with the wrong count, half a SKU list that sums to the true
    count. ``cancel()`` returning True stops early: the files written so far and a
    truth file covering exactly them stay valid (``summary.cancelled`` is True).
    ``workers > 1`` renders in a process pool; the bytes are the same.
    """
    t0 = time.perf_counter()
    out = Path(out)
    if n < 0:
        raise ValueError("n must be >= 0")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if not 0.0 <= mismatch_rate <= 1.0:
        raise ValueError("mismatch_rate must be within [0, 1]")
    if max_count < 1:
        raise ValueError("max_count must be >= 1")
    if image_scale <= 0:
        raise ValueError("image_scale must be > 0")
    img_dir, meta_dir = out / "bin-images", out / "metadata"
    img_dir.mkdir(parents=True, exist_ok=True)
    meta_dir.mkdir(parents=True, exist_ok=True)
    plan = _mismatch_plan(seed, n, mismatch_rate)
    tasks = [(seed, i, plan.get(i), max_count, image_scale) for i in range(1, n + 1)]
    images: dict[str, dict] = {}
    counts: dict[int, int] = {}
    n_mis = 0
    cancelled = False
    if progress is not None:
        progress(0, n)

    def consume(results) -> bool:
        nonlocal n_mis
        for index, jpeg, text, truth in results:
            iid = image_id(index)
            _write_atomic(img_dir / f"{iid}.jpg", jpeg)
            _write_atomic(meta_dir / f"{iid}.json", text.encode("utf-8"))
            images[iid] = truth
            counts[truth["true_count"]] = counts.get(truth["true_count"], 0) + 1
            n_mis += int(truth["mismatch"])
            if progress is not None:
                progress(len(images), n)
            if cancel is not None and cancel():
                return True
        return False

    if cancel is not None and cancel():
        cancelled = True
    elif workers <= 1 or n < 4:
        cancelled = consume(_task(t) for t in tasks)
    else:
        ctx = multiprocessing.get_context("spawn")  # safe under GUI threads
        pool = ctx.Pool(min(workers, n))
        try:
            cancelled = consume(pool.imap(_task, tasks, chunksize=2))
        finally:
            pool.terminate()
            pool.join()

    truth = {
        "seed": int(seed),
        "n": len(images),
        "n_requested": int(n),
        "mismatch_rate": float(mismatch_rate),
        "max_count": int(max_count),
        "image_scale": float(image_scale),
        "cancelled": bool(cancelled),
        "images": images,
    }
    _write_atomic(out / "truth.json", (json.dumps(truth, sort_keys=True, indent=4) + "\n").encode("utf-8"))
    return SynthSummary(out=out, n=len(images), n_mismatched=n_mis, counts=dict(sorted(counts.items())),
                        cancelled=cancelled, n_requested=n, seconds=time.perf_counter() - t0)
