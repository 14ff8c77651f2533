"""The photo: ABID-like image size, fabric back wall, bin frame and tag, products,
elastic tape, then lighting, colour cast, sensor noise and blur."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from .draw import _qr, _shade, _text
from .layout import _Frame, _layout, _sample_frame
from .products import _render_sprite

ABID_WIDTH = (315, 785)
ABID_HEIGHT = (240, 1069)
ABID_MEDIAN = (487, 334)


def _sample_size(rng: np.random.Generator, scale: float) -> tuple[int, int]:
    w = float(np.clip(rng.lognormal(math.log(ABID_MEDIAN[0]), 0.2), *ABID_WIDTH))
    a = float(rng.lognormal(math.log(ABID_MEDIAN[1] / ABID_MEDIAN[0]), 0.22))
    h = float(np.clip(w * a, *ABID_HEIGHT))
    return max(32, int(round(w * scale))), max(32, int(round(h * scale)))


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
    lip = [(float(x), float(y)) for x, y in zip(xs, ys)] + [(W, H), (0, H)]
    d.polygon(lip, fill=light)
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
    tape_mask = Image.fromarray(_shifted((prof * 255).astype(np.uint8), off), "L")
    img = Image.composite(Image.new("RGB", img.size, tape_col), img, tape_mask)
    if cord.any():
        cord_mask = Image.fromarray(_shifted((cord * 255).astype(np.uint8), off), "L")
        img = Image.composite(Image.new("RGB", img.size, (205, 185, 115)), img, cord_mask)
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
    return small.resize((w, h), Image.Resampling.BILINEAR)


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
                rgb = rgb.rotate(ang, resample=Image.Resampling.BILINEAR, expand=True)
                mask = mask.rotate(ang, resample=Image.Resampling.BILINEAR, expand=True)
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
    img = img.resize((W, H), Image.Resampling.BILINEAR)
    return img, min_vis
