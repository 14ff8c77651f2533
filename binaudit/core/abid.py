"""Qt-free reading of the Amazon Bin Image Dataset layout: metadata parsing, JPEG probing, pairing files.

Every file gets a status and a human-readable reason; one bad file never stops a scan.
Paths come from file names on disk, never from strings inside the metadata.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import orjson
from PIL import Image, UnidentifiedImageError

MAX_METADATA_BYTES = 1 << 20  # real records average 2 kB; anything near a megabyte is not a bin record
MAX_QUANTITY = 10_000
MAX_IMAGE_PIXELS = 40_000_000  # real photos are below 1 Mpx; this stops decompression bombs early
MAX_IMAGE_SIDE = 16_384  # real photos are at most about 1,100 px on a side
MAX_NAME_LENGTH = 2_000

STATUS_OK = "ok"
STATUS_NO_METADATA = "no_metadata"
STATUS_NO_IMAGE = "no_image"
STATUS_UNREADABLE_IMAGE = "unreadable_image"
STATUS_MALFORMED_METADATA = "malformed_metadata"
STATUS_INCONSISTENT = "inconsistent"
STATUSES = (
    STATUS_OK,
    STATUS_NO_METADATA,
    STATUS_NO_IMAGE,
    STATUS_UNREADABLE_IMAGE,
    STATUS_MALFORMED_METADATA,
    STATUS_INCONSISTENT,
)
# Statuses whose photo can be shown and used for training once it has a count.
IMAGE_USABLE_STATUSES = (STATUS_OK, STATUS_INCONSISTENT, STATUS_NO_METADATA, STATUS_MALFORMED_METADATA)

IMAGE_SUFFIXES = (".jpg", ".jpeg")
METADATA_SUFFIX = ".json"
_ASIN_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class MetadataError(ValueError):
    """A metadata file that does not follow the ABID schema; the message says why."""


class ImageError(ValueError):
    """A photo that cannot be read as a JPEG; the message says why."""


@dataclass(frozen=True)
class Measure:
    """A dimension or weight as written in the record, e.g. 8.2 IN or 1.9 pounds."""

    value: float
    unit: str


@dataclass(frozen=True)
class SkuRecord:
    """One entry of BIN_FCSKU_DATA."""

    key: str
    asin: str
    name: str
    quantity: int
    normalized_name: Optional[str] = None
    length: Optional[Measure] = None
    width: Optional[Measure] = None
    height: Optional[Measure] = None
    weight: Optional[Measure] = None


@dataclass(frozen=True)
class BinRecord:
    """A parsed metadata file: the recorded count and the SKU records."""

    expected_quantity: int
    skus: tuple[SkuRecord, ...]
    image_fname: Optional[str] = None

    @property
    def sku_quantity_sum(self) -> int:
        return sum(s.quantity for s in self.skus)

    def consistency_problem(self) -> Optional[str]:
        """Why the record contradicts itself, or None when it adds up."""
        total = self.sku_quantity_sum
        if total != self.expected_quantity:
            return (
                f"EXPECTED_QUANTITY is {self.expected_quantity} but the {len(self.skus)} SKU "
                f"record(s) add up to {total}"
            )
        return None


def _reject_constant(name: str) -> Any:
    raise MetadataError(f"{name} is not a valid JSON number")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MetadataError(f"duplicate key {key!r}")
        result[key] = value
    return result


_KEY_TOKEN = re.compile(rb'"\s*:')


def _count_keys(doc: Any) -> int:
    """Number of keys in all objects of a parsed document (iterative: no recursion limit to hit)."""
    total, stack = 0, [doc]
    while stack:
        node = stack.pop()
        values = node.values() if type(node) is dict else node
        if type(node) is dict:
            total += len(node)
        stack.extend(v for v in values if type(v) is dict or type(v) is list)
    return total


def _loads_strict(data: bytes) -> Any:
    """Parse JSON refusing NaN/Infinity and duplicate keys; orjson first, the stdlib hook when in doubt."""
    if len(data) > MAX_METADATA_BYTES:
        raise MetadataError(
            f"file is {len(data) / 1e6:.1f} MB; bin records are a few kB (limit {MAX_METADATA_BYTES // 1024} kB)"
        )
    if not data.strip():
        raise MetadataError("file is empty")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        doc = orjson.loads(data)
    except (orjson.JSONDecodeError, RecursionError):
        doc = None  # let the stdlib parser produce the precise message
    else:
        # Every key is followed by '":'; when the counts agree no key can be duplicated.
        if len(_KEY_TOKEN.findall(data)) == _count_keys(doc):
            return doc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)
    except MetadataError:
        raise
    except json.JSONDecodeError as exc:
        raise MetadataError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise MetadataError("JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python will convert
        raise MetadataError(f"not valid JSON: {str(exc)[:120]}") from None


def _describe(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _require_int(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MetadataError(f"{where} must be a whole number, got {_describe(value)}")
    if value < minimum:
        raise MetadataError(f"{where} must be at least {minimum}, got {value}")
    if value > MAX_QUANTITY:
        raise MetadataError(f"{where} is {value}, more than any bin holds (limit {MAX_QUANTITY})")
    return value


def _require_str(value: Any, where: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise MetadataError(f"{where} must be text, got {_describe(value)}")
    if not allow_empty and not value.strip():
        raise MetadataError(f"{where} is empty")
    if len(value) > MAX_NAME_LENGTH:
        raise MetadataError(f"{where} is {len(value)} characters long (limit {MAX_NAME_LENGTH})")
    return value


def _parse_measure(value: Any, where: str) -> Optional[Measure]:
    if value is None:
        return None
    if type(value) is not dict:
        raise MetadataError(f"{where} must be an object with unit and value, got {_describe(value)}")
    number, unit = value.get("value"), value.get("unit", "")
    kind = type(number)
    if kind is not float and kind is not int:
        raise MetadataError(f"{where}.value must be a number, got {_describe(number)}")
    if not 0 <= number <= 1e6:  # also false for NaN
        raise MetadataError(f"{where}.value {number!r} is not a plausible measurement")
    if type(unit) is not str or len(unit) > 32:
        raise MetadataError(f"{where}.unit must be short text, got {_describe(unit)}")
    return Measure(float(number), unit)


def _parse_sku(key: str, value: Any) -> SkuRecord:
    where = f"BIN_FCSKU_DATA[{key!r}]"
    if not _ASIN_KEY.match(key):
        raise MetadataError(f"{where}: key is not an ASIN-like code")
    if not isinstance(value, dict):
        raise MetadataError(f"{where} must be an object, got {_describe(value)}")
    for required in ("asin", "quantity"):
        if required not in value:
            raise MetadataError(f"{where} has no {required!r}")
    asin = _require_str(value["asin"], f"{where}.asin")
    if not _ASIN_KEY.match(asin):
        raise MetadataError(f"{where}.asin {asin[:20]!r} is not an ASIN-like code")
    normalized = value.get("normalizedName")
    return SkuRecord(
        key=key,
        asin=asin,
        name=_require_str(value.get("name", ""), f"{where}.name", allow_empty=True),
        quantity=_require_int(value["quantity"], f"{where}.quantity"),
        normalized_name=None if normalized is None else _require_str(normalized, f"{where}.normalizedName", True),
        length=_parse_measure(value.get("length"), f"{where}.length"),
        width=_parse_measure(value.get("width"), f"{where}.width"),
        height=_parse_measure(value.get("height"), f"{where}.height"),
        weight=_parse_measure(value.get("weight"), f"{where}.weight"),
    )


def parse_metadata(data: bytes) -> BinRecord:
    """Parse one ABID metadata file strictly; raise MetadataError (and nothing else) when it is not one."""
    try:
        doc = _loads_strict(data)
        if not isinstance(doc, dict):
            raise MetadataError(f"top level must be an object, got {_describe(doc)}")
        if "EXPECTED_QUANTITY" not in doc:
            raise MetadataError("no EXPECTED_QUANTITY")
        if "BIN_FCSKU_DATA" not in doc:
            raise MetadataError("no BIN_FCSKU_DATA")
        skus_doc = doc["BIN_FCSKU_DATA"]
        if not isinstance(skus_doc, dict):
            raise MetadataError(f"BIN_FCSKU_DATA must be an object, got {_describe(skus_doc)}")
        skus = tuple(_parse_sku(k, v) for k, v in skus_doc.items())
        fname = doc.get("image_fname")
        return BinRecord(
            expected_quantity=_require_int(doc["EXPECTED_QUANTITY"], "EXPECTED_QUANTITY"),
            skus=skus,
            image_fname=None if fname is None else _require_str(fname, "image_fname", True),
        )
    except MetadataError:
        raise
    except RecursionError:
        raise MetadataError("record is nested too deeply") from None
    except Exception as exc:  # the parser's contract: only MetadataError comes out
        raise MetadataError(f"unexpected content ({type(exc).__name__})") from None


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


def jpeg_header_size(head: bytes) -> Optional[tuple[int, int]]:
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
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        length = int.from_bytes(head[pos + 2:pos + 4], "big")
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            if pos + 9 > end:
                return None
            height = int.from_bytes(head[pos + 5:pos + 7], "big")
            width = int.from_bytes(head[pos + 7:pos + 9], "big")
            return (width, height) if width and height else None
        if marker == 0xDA:  # start of scan before any frame header
            return None
        pos += 2 + length
    return None


def _pillow_size(handle: Any) -> tuple[int, int]:
    handle.seek(0)
    with Image.open(handle, formats=["JPEG"]) as image:
        return image.size


def probe_jpeg(path: Path) -> tuple[int, int, int]:
    """Return (width, height, bytes) of a JPEG after checking its header and end marker; raise ImageError.

    Only the header and the last 4 kB are read; full decoding (and its errors) happens at scoring time.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                raise ImageError("file is empty (0 bytes)")
            head = handle.read(min(size, 65536))
            if not head.startswith(b"\xff\xd8\xff"):
                kind = _sniff(head)
                raise ImageError(f"file is {kind}, not a JPEG" if kind != "not a JPEG" else "file is not a JPEG")
            if size > len(head):
                handle.seek(max(0, size - 4096))
                tail = handle.read()
            else:
                tail = head[-4096:]
            if b"\xff\xd9" not in tail:
                raise ImageError("JPEG is truncated (no end-of-image marker)")
            dims = jpeg_header_size(head) or _pillow_size(handle)
    except ImageError:
        raise
    except (UnidentifiedImageError, SyntaxError) as exc:
        raise ImageError(f"JPEG header is damaged ({exc})") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image is implausibly large ({exc})") from None
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}") from None
    width, height = dims
    if width * height > MAX_IMAGE_PIXELS or max(width, height) > MAX_IMAGE_SIDE:
        raise ImageError(f"image is {width}x{height} pixels, far beyond any bin photo")
    return width, height, size


@dataclass
class DatasetEntry:
    """One id found on disk: its photo and metadata paths (either may be missing) and any scan problem."""

    image_id: str
    image_path: Optional[Path] = None
    metadata_path: Optional[Path] = None
    problem: Optional[str] = None
    extra: dict[str, Any] = field(default_factory=dict)


def _safe_name(name: str) -> Optional[str]:
    """The file name as text, or None when the name is not valid UTF-8."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return None


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except (ValueError, OSError, RuntimeError):
        return False


def _classify(root: Path, directory: Path, entries: dict[str, DatasetEntry], want: str) -> None:
    """Add the files of one directory to entries (want is "image", "metadata" or "both")."""
    try:
        listing = list(os.scandir(directory))
    except OSError:
        return
    for item in listing:
        name = _safe_name(item.name)
        if name is None:
            shown = os.fsencode(item.name).decode("utf-8", "backslashreplace")
            entries[shown] = DatasetEntry(shown, problem="file name is not valid UTF-8; rename the file")
            continue
        stem, suffix = os.path.splitext(name)
        suffix = suffix.lower()
        path = directory / name
        is_image = suffix in IMAGE_SUFFIXES and want in ("image", "both")
        is_meta = suffix == METADATA_SUFFIX and want in ("metadata", "both")
        if not (is_image or is_meta):
            if want == "image" or (want == "both" and suffix not in ("", ".txt", ".md")):
                if not name.startswith("."):
                    entries.setdefault(name, DatasetEntry(name, problem=f"not a photo file name ({suffix or 'no extension'}); ABID photos are .jpg"))
            continue
        if item.is_symlink() and not _inside(root, path):
            entries[name] = DatasetEntry(name, problem="symbolic link points outside the dataset folder; not opened")
            continue
        entry = entries.setdefault(stem, DatasetEntry(stem))
        if is_image:
            if entry.image_path is not None:
                entries[name] = DatasetEntry(name, problem=f"second photo for id {stem}; {entry.image_path.name} is used")
                continue
            entry.image_path = path
        else:
            entry.metadata_path = path


def scan_dataset(root: Path) -> Iterator[DatasetEntry]:
    """Pair photos and metadata by id in the ABID layout (bin-images/, metadata/) or a flat folder."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    entries: dict[str, DatasetEntry] = {}
    images_dir, meta_dir = root / "bin-images", root / "metadata"
    if images_dir.is_dir() or meta_dir.is_dir():
        _classify(root, images_dir, entries, "image")
        _classify(root, meta_dir, entries, "metadata")
    else:
        _classify(root, root, entries, "both")
    for key in sorted(entries):
        yield entries[key]


def read_metadata_file(path: Path) -> BinRecord:
    """Read and parse a metadata file, reading at most the size limit."""
    try:
        with open(path, "rb") as handle:
            # Asking read() for the limit would allocate a megabyte per call; ask for what is there.
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(min(size, MAX_METADATA_BYTES) + 1)
    except OSError as exc:
        raise MetadataError(f"cannot read file: {exc.strerror or exc}") from None
    return parse_metadata(data)
