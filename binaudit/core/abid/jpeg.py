"""Checking an ABID photo without decoding it: magic numbers, the JPEG frame header, the end-of-image marker."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from binaudit.core.abid.files import O_BINARY, read_up_to

MAX_IMAGE_PIXELS = 40_000_000  # real photos are below 1 Mpx; this stops decompression bombs early
MAX_IMAGE_SIDE = 16_384  # real photos are at most about 1,100 px on a side
JPEG_HEAD_BYTES = 65_536  # the frame header sits in the first few kB; 64 kB covers large EXIF blocks
JPEG_TAIL_BYTES = 4_096


class ImageError(ValueError):
    """A photo that cannot be read as a JPEG; the message says why."""


_MAGIC = (
    (b"\x89PNG", "a PNG"),
    (b"GIF8", "a GIF"),
    (b"II*\x00", "a TIFF"),
    (b"MM\x00*", "a TIFF"),
    (b"%!PS", "an EPS/PostScript file"),
    (b"\xc5\xd0\xd3\xc6", "an EPS file"),
    (b"BM", "a BMP"),
    (b"RIFF", "a RIFF (WebP?) file"),
    (b"%PDF", "a PDF"),
)


def _sniff(head: bytes) -> str:
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return "not a JPEG"


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_MARKERS_WITHOUT_LENGTH = frozenset((0x01, *range(0xD0, 0xD8)))
_U16, _TWO_U16 = struct.Struct(">H"), struct.Struct(">HH")


def jpeg_header_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the SOF segment of a JPEG's first bytes, or None if not found there.

    A marker walk over bytes already read: ~50x faster than opening the file with Pillow,
    which matters at 500,000 photos per import.
    """
    pos, end = 2, len(head)
    while pos + 4 <= end:
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _MARKERS_WITHOUT_LENGTH:
            pos += 2
            continue
        (length,) = _U16.unpack_from(head, pos + 2)
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            if pos + 9 > end:
                return None
            height, width = _TWO_U16.unpack_from(head, pos + 5)
            return (width, height) if width and height else None
        if marker == 0xDA:  # start of scan before any frame header
            return None
        pos += 2 + length
    return None


def _pillow_size(path: str | Path) -> tuple[int, int]:
    with Image.open(path, formats=["JPEG"]) as image:
        return image.size


def read_jpeg_ends(path: str | Path) -> tuple[os.stat_result, bytes, bytes]:
    """A file's stat, its first 64 kB and its last 4 kB, with one open and no Python file object.

    Raises OSError. The stat comes from the open file, so it describes exactly the bytes read.
    """
    fd = os.open(path, os.O_RDONLY | O_BINARY)
    try:
        stat = os.fstat(fd)
        head = read_up_to(fd, JPEG_HEAD_BYTES, stat.st_size)
        if stat.st_size <= len(head):
            return stat, head, head[-JPEG_TAIL_BYTES:]
        tail_start = max(len(head), stat.st_size - JPEG_TAIL_BYTES)
        os.lseek(fd, tail_start, os.SEEK_SET)
        return stat, head, read_up_to(fd, JPEG_TAIL_BYTES, stat.st_size - tail_start)
    finally:
        os.close(fd)


def check_jpeg(path: str | Path, size: int, head: bytes, tail: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG from its first and last bytes; raise ImageError when it is not a whole JPEG."""
    if size == 0:
        raise ImageError("file is empty (0 bytes)")
    if not head.startswith(b"\xff\xd8\xff"):
        kind = _sniff(head)
        raise ImageError(f"file is {kind}, not a JPEG" if kind != "not a JPEG" else "file is not a JPEG")
    if b"\xff\xd9" not in tail:
        raise ImageError("JPEG is truncated (no end-of-image marker)")
    try:
        width, height = jpeg_header_size(head) or _pillow_size(path)
    except (UnidentifiedImageError, SyntaxError) as exc:
        raise ImageError(f"JPEG header is damaged ({exc})") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image is implausibly large ({exc})") from None
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}") from None
    if width * height > MAX_IMAGE_PIXELS or max(width, height) > MAX_IMAGE_SIDE:
        raise ImageError(f"image is {width}x{height} pixels, far beyond any bin photo")
    return width, height


def probe_jpeg(path: str | Path) -> tuple[int, int, int]:
    """Return (width, height, bytes) of a JPEG after checking its header and end marker; raise ImageError.

    Only the header and the last 4 kB are read; full decoding (and its errors) happens at scoring time.
    """
    try:
        stat, head, tail = read_jpeg_ends(path)
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}") from None
    width, height = check_jpeg(path, stat.st_size, head, tail)
    return width, height, stat.st_size
