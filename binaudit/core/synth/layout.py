"""Bin geometry and item placement: the frame (walls, lip, floor) and a layout in which
every item stays partly visible, so the count can be learnt from the pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


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


class _Interior(NamedTuple):
    """The inside of the bin between the walls, from the top edge to the floor."""

    x0: float
    y1: float  # the floor
    w: float
    h: float


_GRID_W = 48  # visibility is checked on a grid this many cells wide


def _layout(rng, looks, quantities, fr: _Frame):
    """Place every item so that each stays partly visible.

    Returns (sizes per SKU, placements [(sku, x, y, angle)], min visible fraction): the first
    attempt in which every item shows enough, else the attempt whose least visible item shows most.
    Each attempt shrinks the items a little more.
    """
    ix0, ix1 = fr.left, fr.W - fr.right
    iy0, iy1 = fr.top, fr.floor
    inner = _Interior(ix0, iy1, ix1 - ix0, iy1 - iy0)
    n_sku = len(looks)
    best = None
    for attempt in range(14):
        shrink = 0.92 ** attempt
        lying = _choose_lying(rng, looks, quantities)
        tiers = _tiers(rng, [k for k in range(n_sku) if not lying[k]], quantities)
        sizes: list[tuple[int, int]] = [(0, 0)] * n_sku
        placements = []
        for t, tier in enumerate(tiers):
            placements += _place_tier(rng, looks, quantities, inner, tier, len(tiers) == 2, t, attempt, sizes)
        placements += _place_lying(rng, quantities, fr, inner, lying, shrink, sizes)
        ok, score = _visibility(placements, sizes, fr, inner)
        if best is None or score > best[2]:
            best = (sizes, placements, score)
        if ok:
            return sizes, placements, score
    return best


def _choose_lying(rng, looks, quantities) -> list[bool]:
    """Which SKUs lie flat in a stack (some boxes, books and bags when there are two items or more); never all."""
    n = sum(quantities)
    lying = [bool(looks[k]["kind"] in ("box", "book", "bag") and n >= 2 and rng.random() < 0.2)
             for k in range(len(looks))]
    if all(lying):
        lying[0] = False
    return lying


def _tiers(rng, row_skus: list[int], quantities) -> list[list[int]]:
    """The standing SKUs in one row, or in two tiers (back, front) when crowded."""
    tiers = [row_skus]
    if len(row_skus) >= 2 and sum(quantities[k] for k in row_skus) >= 5 and rng.random() < 0.5:
        cut = int(rng.integers(1, len(row_skus)))
        order = list(rng.permutation(row_skus))
        tiers = [order[:cut], order[cut:]]
    return tiers


def _place_tier(rng, looks, quantities, inner: _Interior, tier: list[int], two_tiers: bool, t: int, attempt: int,
                sizes: list[tuple[int, int]]) -> list[tuple[int, float, float, float]]:
    """Size the tier's SKUs (into sizes) and stand its items side by side, overlapping a little; shuffled order."""
    r_items = sum(quantities[k] for k in tier)
    if r_items == 0:
        return []
    back = two_tiers and t == 0
    front = two_tiers and t == 1
    _size_tier(rng, looks, quantities, inner, tier, r_items, front, attempt, sizes)
    seq = _item_sequence(rng, tier, quantities)
    lefts, off = _row_lefts(rng, seq, sizes, inner.w)
    y_base = inner.y1 - (inner.h * rng.uniform(0.04, 0.16) if back else 0.0)
    tier_pl = []
    for j, k in enumerate(seq):
        w, h = sizes[k]
        ang = float(np.clip(rng.normal(0, 3.0), -8, 8))
        if h > 2 * w and rng.random() < 0.12:
            ang = float(rng.choice([-1, 1]) * rng.uniform(8, 20))
        y = y_base - h + rng.uniform(-0.03, 0.02) * inner.h
        tier_pl.append((k, inner.x0 + off + lefts[j], y, ang))
    order = rng.permutation(len(tier_pl))
    return [tier_pl[i] for i in order]


def _size_tier(rng, looks, quantities, inner: _Interior, tier: list[int], r_items: int, front: bool, attempt: int,
               sizes: list[tuple[int, int]]) -> None:
    """Heights from the bin's height (front tiers lower), widths from each look's aspect, scaled to fill the row."""
    shrink = 0.92 ** attempt
    Wi, Hi = inner.w, inner.h
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


def _item_sequence(rng, tier: list[int], quantities) -> list[int]:
    """The SKU of each item from left to right: SKUs in random order, grouped, sometimes all shuffled."""
    seq = []
    ks = list(rng.permutation(tier))
    for k in ks:
        seq += [k] * quantities[k]
    if rng.random() < 0.2:
        seq = list(rng.permutation(seq))
    return seq


def _row_lefts(rng, seq: list[int], sizes: list[tuple[int, int]], Wi: float) -> tuple[list[float], float]:
    """Left edges of the items in a row (neighbours overlap up to 22%) and the row's offset; squeezed to fit."""
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
    return lefts, off


def _place_lying(rng, quantities, fr: _Frame, inner: _Interior, lying: list[bool], shrink: float,
                 sizes: list[tuple[int, int]]) -> list[tuple[int, float, float, float]]:
    """Stack each lying SKU's items on top of one another, resting near the lip."""
    placements = []
    Wi, Hi = inner.w, inner.h
    for k in range(len(lying)):
        if not lying[k]:
            continue
        w = Wi * rng.uniform(0.35, 0.7) * shrink
        h = min(Hi * rng.uniform(0.17, 0.3), w * 0.8)
        sizes[k] = (max(4, int(w)), max(4, int(h)))
        x = inner.x0 + rng.uniform(0, max(1.0, Wi - w))
        base_y = fr.lip + max(0.0, fr.sag) * 0.5 + rng.uniform(0.0, 0.25) * (fr.floor - fr.lip)
        for j in range(quantities[k]):
            placements.append((k, x + rng.uniform(-0.04, 0.04) * w,
                               base_y - (j + 1) * h * 0.97, float(rng.normal(0, 1.5))))
    return placements


def _visibility(placements, sizes: list[tuple[int, int]], fr: _Frame, inner: _Interior) -> tuple[bool, float]:
    """Whether every item shows enough on a coarse grid (later items cover earlier ones); the least shown share."""
    gw = _GRID_W
    cell = fr.W / gw
    gh = int(math.ceil(fr.H / cell))
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
    interior_cells = max(1.0, (inner.w / cell) * ((fr.lip - fr.top) / cell))
    min_cells = max(3.0, 0.03 * interior_cells)
    ok = all(f >= 0.4 and v >= min_cells for f, v in zip(fracs, vis))
    return ok, (min(fracs) if fracs else 1.0)
