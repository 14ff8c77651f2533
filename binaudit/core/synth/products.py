"""Products: a random look per SKU (kind, colours, prints) and its sprite, an RGB
picture plus an L mask drawn and lit in the product's own frame."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .catalog import _code, _pick
from .draw import _barcode, _color, _contrast, _ellipse, _fit_font, _font, _picture, _rect, _shade, _text, _text_marks


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
    field = np.asarray(Image.fromarray((g * 200).astype(np.uint8), "L").resize((w, h), Image.Resampling.BILINEAR),
                       dtype=np.float32) * (1.0 / 200.0)
    if profile_x is not None:
        field *= profile_x[None, :]
    if profile_y is not None:
        field *= profile_y[:, None]
    a = np.asarray(img, dtype=np.float32) * field[:, :, None]
    np.minimum(a, 255.0, out=a)
    return Image.fromarray(a.astype(np.uint8))


@dataclass
class _Sprite:
    """A sprite being drawn: the look, its size, the picture and mask with their pens, and the light profiles."""

    look: dict
    w: int
    h: int
    rng: np.random.Generator
    rgb: Image.Image
    mask: Image.Image
    d: ImageDraw.ImageDraw  # draws on rgb, with alpha
    md: ImageDraw.ImageDraw  # draws on mask
    s: float  # line scale: 1 per 60 px of the shorter side
    xs: np.ndarray  # -1..1 across the width
    prof_x: np.ndarray | None
    prof_y: np.ndarray | None = None


def _render_sprite(look: dict, w: int, h: int) -> tuple[Image.Image, Image.Image]:
    """The product's picture (RGB) and mask (L) at w x h, drawn by kind and lit; one look, one set of pixels."""
    rng = np.random.default_rng(look["seed"])
    w, h = max(3, int(w)), max(3, int(h))
    kind = look["kind"]
    rgb = Image.new("RGB", (w, h), look["base"])
    mask = Image.new("L", (w, h), 0)
    xs = np.linspace(-1.0, 1.0, w, dtype=np.float32)
    sp = _Sprite(look, w, h, rng, rgb, mask, ImageDraw.Draw(rgb, "RGBA"), ImageDraw.Draw(mask),
                 max(1.0, min(w, h) / 60.0), xs, 1.0 + look["light"] * xs)
    if kind in ("box", "book"):
        _draw_box(sp)
    elif kind in ("bottle", "jar"):
        _draw_bottle(sp)
    elif kind == "can":
        _draw_can(sp)
    else:  # bag / pouch
        _draw_bag(sp)
    if kind in ("box", "book", "bag") and rng.random() < 0.45:  # glare on shrink wrap or gloss
        _draw_glare(sp)
    return _shade_sprite(rgb, sp.prof_x, sp.prof_y, rng), mask


def _draw_box(sp: _Sprite) -> None:
    """A box or book: an optional top face, prints on the front, a title, an outline; lit from above."""
    look, w, h, d, md = sp.look, sp.w, sp.h, sp.d, sp.md
    kind, base = look["kind"], look["base"]
    edge = _shade(base, 0.55)
    top = int(h * look.get("top", 0.0))
    md.polygon([(top, 0), (w - 1, 0), (w - 1, h - 1), (0, h - 1), (0, top)], fill=255)
    if top >= 2:
        d.polygon([(top, 0), (w - 1, 0), (w - 1, top), (0, top)], fill=_shade(base, 1.2))
        d.line([(0, top), (w - 1, top)], fill=edge, width=1)
    fy0, fy1 = top, h
    for p in look["prints"]:
        _draw_print(sp, p, fy0, fy1)
    if kind == "book" or "title" in look["prints"]:
        _draw_title(sp, fy0, fy1, vertical=kind == "book" and h > 2.4 * w)
    if kind == "book":
        _rect(d, 0, 0, w, max(1, h * 0.03), fill=_shade(base, 0.8))
    d.rectangle((0, 0, w - 1, h - 1), outline=edge, width=max(1, int(sp.s * 0.8)))
    sp.prof_y = np.linspace(1.08, 0.9, h, dtype=np.float32)


def _draw_print(sp: _Sprite, p: str, fy0: float, fy1: float) -> None:
    """One print on a box's front face (between fy0 and fy1): band, picture, lines of text, barcode sticker or logo."""
    look, w, d, rng = sp.look, sp.w, sp.d, sp.rng
    c2, c3 = look["c2"], look["c3"]
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


def _draw_title(sp: _Sprite, fy0: float, fy1: float, vertical: bool) -> None:
    """The look's word on a box or book: across the front, or up the spine of a tall book."""
    w, h, c2, word = sp.w, sp.h, sp.look["c2"], sp.look["word"]
    if vertical:
        size = _fit_font(word, h * 0.8, w * 0.7)
        if size >= 6:
            tw, th = int(size * 0.62 * len(word)) + 4, int(size * 1.3)
            tm = Image.new("L", (tw, th), 0)
            ImageDraw.Draw(tm).text((2, 0), word, font=_font(size), fill=255)
            tm = tm.rotate(90, expand=True)
            sp.rgb.paste(Image.new("RGB", tm.size, c2), (int((w - tm.width) / 2), int(h * 0.12)), tm)
    else:
        size = _fit_font(word, w * 0.85, (fy1 - fy0) * 0.22)
        _text(sp.d, w * 0.07, fy0 + (fy1 - fy0) * sp.rng.uniform(0.05, 0.35), word, size, c2)


def _draw_bottle(sp: _Sprite) -> None:
    """A bottle (cap, neck) or jar (wide cap): a ridged cap, a label with the word, mark and text; lit as a cylinder."""
    look, w, h, d, md, rng, xs = sp.look, sp.w, sp.h, sp.d, sp.md, sp.rng, sp.xs
    base, c2, c3 = look["base"], look["c2"], look["c3"]
    jar = look["kind"] == "jar"
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
    md.rounded_rectangle((cx - cap_w / 2, 0, cx + cap_w / 2, cap_h + 1), radius=max(1, int(sp.s)), fill=255)
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
    sp.prof_x = prof_x


def _draw_can(sp: _Sprite) -> None:
    """A can seen from above (rim and lid rings, a highlight) or from the side (lid, label band, word)."""
    look, w, h, d, md, xs = sp.look, sp.w, sp.h, sp.d, sp.md, sp.xs
    if look["top_view"]:
        md.ellipse((0, 0, w - 1, h - 1), fill=255)
        metal = (175, 177, 180)
        d.ellipse((0, 0, w - 1, h - 1), fill=look["rim"])
        for k, f in ((0.07, 1.05), (0.14, 0.8), (0.2, 1.1), (0.3, 0.85), (0.42, 1.0)):
            _ellipse(d, w * k, h * k, w * (1 - k), h * (1 - k), fill=_shade(metal, f),
                     outline=_shade(metal, 0.6))
        d.polygon([(w * 0.25, h * 0.2), (w * 0.55, h * 0.12), (w * 0.35, h * 0.55)],
                  fill=(255, 255, 255, 60))
        sp.prof_y = np.linspace(1.12, 0.85, h, dtype=np.float32)
    else:
        md.rounded_rectangle((0, 0, w - 1, h - 1), radius=max(2, int(w * 0.1)), fill=255)
        ey = max(2, int(h * 0.12))
        d.rectangle((0, 0, w, h), fill=look["base"])
        _ellipse(d, 0, 0, w - 1, ey * 2, fill=(180, 182, 186), outline=(120, 120, 125))
        _rect(d, 0, h * 0.3, w, h * 0.75, fill=look["c2"])
        _text(d, w * 0.1, h * 0.35, look["word"], _fit_font(look["word"], w * 0.8, h * 0.18), look["c3"])
        cyl = np.sqrt(np.clip(1.0 - xs ** 2, 0.0, 1.0)).astype(np.float32)
        sp.prof_x = (0.65 + 0.4 * cyl + 0.3 * np.exp(-((xs + 0.4) / 0.15) ** 2)).astype(np.float32)


def _draw_bag(sp: _Sprite) -> None:
    """A bag or pouch: a wobbly outline with a zigzag top seal, clear (contents show) or printed; glossy streaks."""
    look, w, h, d, md, rng = sp.look, sp.w, sp.h, sp.d, sp.md, sp.rng
    base = look["base"]
    zig = max(2, int(w / max(2.0, 3 * sp.s)))
    md.polygon(_bag_outline(look, w, h, rng, zig), fill=215 if look["clear"] else 255)
    d.rectangle((0, 0, w, h), fill=base)
    _rect(d, 0, 0, w, h * 0.12, fill=_shade(base, 0.85))
    for k in range(1, zig, 2):
        x = w * 0.04 + (w * 0.92) * k / zig
        d.line([(x, h * 0.02), (x, h * 0.11)], fill=_shade(base, 0.6), width=1)
    if look["clear"]:
        _picture(d, w * 0.1, h * 0.2, w * 0.9, h * 0.9, rng)
        d.rectangle((0, 0, w, h), fill=(235, 236, 238, 140))
    else:
        c2, c3 = look["c2"], look["c3"]
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
    sp.prof_y = np.linspace(1.05, 0.88, h, dtype=np.float32)


def _bag_outline(look: dict, w: int, h: int, rng: np.random.Generator, zig: int) -> list[tuple[float, float]]:
    """The bag's mask polygon: a zigzag top, then wobbly right and left sides."""
    n_pts = 10
    ys = np.linspace(0.1 * h, h - 1, n_pts)
    wob = rng.uniform(0.02, 0.07) * w
    left = [(float(wob * (1 + math.sin(k * 1.3 + look["seed"] % 7))), float(y)) for k, y in enumerate(ys)]
    right = [(float(w - 1 - wob * (1 + math.cos(k * 1.1 + look["seed"] % 5))), float(y))
             for k, y in enumerate(ys)]
    top = []
    for k in range(zig + 1):
        top.append((float(w * 0.04 + (w * 0.92) * k / zig), float(h * (0.03 if k % 2 else 0.05))))
    return top + right + left[::-1]


def _draw_glare(sp: _Sprite) -> None:
    """A slanted band of glare across the sprite (shrink wrap or gloss)."""
    w, h, rng = sp.w, sp.h, sp.rng
    x = rng.uniform(-0.2, 0.7) * w
    gw = rng.uniform(0.08, 0.3) * w
    sl = rng.uniform(-0.4, 0.4) * w
    sp.d.polygon([(x, 0), (x + gw, 0), (x + gw + sl, h), (x + sl, h)], fill=(255, 255, 255, int(rng.integers(25, 80))))
