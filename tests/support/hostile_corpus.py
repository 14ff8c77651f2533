"""Builds a corpus of hostile photo files in ABID layout (used by the hostile-image tests and soak runs)."""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path

from PIL import Image


def _jpeg(size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), 40))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _other_format(fmt: str, seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32 + seed % 7, 24), (seed % 256, 90, 200)).save(buf, fmt)
    return buf.getvalue()


def _with_dimensions(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header claiming other dimensions (a decompression bomb when huge)."""
    data = bytearray(jpeg)
    pos = 2
    while pos < len(data):
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            data[pos + 5:pos + 7] = height.to_bytes(2, "big")
            data[pos + 7:pos + 9] = width.to_bytes(2, "big")
            return bytes(data)
        pos += 2 + length
    raise ValueError("no frame header")


def _metadata(count: int) -> bytes:
    skus = {f"B0{n:08d}": {"asin": f"B0{n:08d}", "name": f"Item {n}", "quantity": 1} for n in range(count)}
    return json.dumps({"BIN_FCSKU_DATA": skus, "EXPECTED_QUANTITY": count}).encode()


def build_hostile_corpus(root: Path, outside: Path) -> dict[str, str]:
    """Write >= 200 bad photo files (plus a few good ones) under root; returns name -> kind.

    `outside` receives files that symlinks point at; nothing may ever open them.
    """
    images, meta = root / "bin-images", root / "metadata"
    images.mkdir(parents=True)
    meta.mkdir()
    outside.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, str] = {}
    n = 0

    def put(kind: str, data: bytes, suffix: str = ".jpg", with_meta: bool = True) -> str:
        nonlocal n
        n += 1
        name = f"{n:05d}{suffix}"
        (images / name).write_bytes(data)
        if with_meta:
            (meta / f"{n:05d}.json").write_bytes(_metadata(n % 6))
        kinds[name] = kind
        return name

    good = _jpeg((80, 60), 1)
    for i in range(10):
        put("good", _jpeg((90 + i, 70), i))
    for i in range(40):
        put("truncated", good[: max(1, len(good) * (i + 1) // 42)])
    for _ in range(20):
        put("zero-byte", b"")
    for i, fmt in enumerate(["PNG", "TIFF", "GIF", "BMP"] * 10):
        put(f"{fmt} named .jpg", _other_format(fmt, i))
    for i in range(10):
        put("EPS named .jpg", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n" + b"0 0 moveto\n" * i)
    for i in range(6):
        put("decompression bomb", _with_dimensions(good, 60000 - i, 60000))
    for i in range(6):
        put("huge dimensions", _with_dimensions(good, 65000, 1 + i))
    for i in range(10):
        put("garbage after JPEG magic", b"\xff\xd8\xff" + random.Random(i).randbytes(500 + i) + b"\xff\xd9")
    for i in range(10):
        damaged = bytearray(good)
        for k in range(len(damaged) // 2, len(damaged) - 4, 7):
            damaged[k] = (damaged[k] * 31 + i) % 256
        put("damaged scan data", bytes(damaged))
    for i, suffix in enumerate([".png", ".txt", ".jpg.bak", "", ".JPG2", ".gif", ".tif", ".webp", ".jp", ".exe"] * 2):
        put(f"wrong extension {suffix or '(none)'}", _jpeg((40, 30), i), suffix=suffix, with_meta=False)
    for i in range(20):
        target = outside / f"secret{i}.jpg"
        target.write_bytes(_jpeg((50, 50), 100 + i))
        n += 1
        (images / f"{n:05d}.jpg").symlink_to(target)
        kinds[f"{n:05d}.jpg"] = "symlink outside dataset"
    for i in range(5):
        n += 1
        (images / f"{n:05d}.jpg").symlink_to(images / f"missing{i}.jpg")
        kinds[f"{n:05d}.jpg"] = "dangling symlink"
    for i in range(10):
        raw = os.fsencode(str(images)) + b"/" + bytes([0xFF, 0xFE, 0x30 + i]) + b".jpg"
        with open(raw, "wb") as handle:
            handle.write(good)
        kinds[f"non-UTF-8 name {i}"] = "non-UTF-8 name"
    for _ in range(10):
        n += 1
        (meta / f"{n:05d}.json").write_bytes(_metadata(2))  # metadata whose photo is missing
        kinds[f"{n:05d}.json"] = "metadata without photo"
    return kinds
