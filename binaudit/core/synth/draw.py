"""Drawing primitives shared by products and scene: the ink palette, safe rectangles and
ellipses, text, fine print, barcodes, package pictures and 2-D codes."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import ImageDraw, ImageFont

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
    r, g, b = (int(v) for v in np.clip(c, 0, 255))
    return r, g, b


def _contrast(c: tuple[int, int, int], rng: np.random.Generator) -> tuple[int, int, int]:
    """A colour that stands out against c."""
    for _ in range(6):
        d = _color(rng)
        if sum(abs(a - b) for a, b in zip(c, d)) > 160:
            return d
    lum = 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2]
    return (25, 25, 30) if lum > 120 else (240, 240, 235)


def _shade(c: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    r, g, b = (int(max(0, min(255, v * f))) for v in c)
    return r, g, b


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
