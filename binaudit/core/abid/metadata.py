"""Parsing one ABID metadata file strictly: the schema, a fast compiled decode and a checked parser that explains.

parse_metadata raises MetadataError and nothing else; the fast path answers only when it can
prove the record valid and leaves every doubtful file to the checked parser.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any

import msgspec
import orjson
from msgspec import UNSET, Meta, UnsetType

from binaudit.core.abid.files import O_BINARY, read_up_to

MAX_METADATA_BYTES = 1 << 20  # real records average 2 kB; anything near a megabyte is not a bin record
MAX_QUANTITY = 10_000
MAX_NAME_LENGTH = 2_000
MAX_MEASURE = 1e6
_ASIN_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_ASIN_CODES = re.compile(r"[A-Za-z0-9_-]{1,64}(?:\n[A-Za-z0-9_-]{1,64})*")


class MetadataError(ValueError):
    """A metadata file that does not follow the ABID schema; the message says why."""


_Quantity = Annotated[int, Meta(ge=0, le=MAX_QUANTITY)]
_Text = Annotated[str, Meta(max_length=MAX_NAME_LENGTH)]


class Measure(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """A dimension or weight as written in the record, e.g. 8.2 IN or 1.9 pounds."""

    value: Annotated[float, Meta(ge=0, le=MAX_MEASURE)]
    unit: Annotated[str, Meta(max_length=32)] = ""


class SkuRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """One value of BIN_FCSKU_DATA (its key, usually but not always the ASIN, is the key in BinRecord.skus).

    A name that is null or missing in the file is "" here (real records have both); a null
    normalizedName or measure is None, as is a missing one.
    """

    asin: str  # ASIN-like: checked after decoding, for all codes of a record at once
    quantity: _Quantity
    name: _Text = ""
    normalized_name: _Text | None = msgspec.field(default=None, name="normalizedName")
    length: Measure | None = None
    width: Measure | None = None
    height: Measure | None = None
    weight: Measure | None = None


class BinRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A parsed metadata file: the recorded count and the SKU records by their BIN_FCSKU_DATA key."""

    skus: dict[str, SkuRecord] = msgspec.field(name="BIN_FCSKU_DATA")
    expected_quantity: _Quantity = msgspec.field(name="EXPECTED_QUANTITY")
    image_fname: _Text | None = None

    @property
    def sku_quantity_sum(self) -> int:
        return sum(s.quantity for s in self.skus.values())

    def consistency_problem(self) -> str | None:
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


def _parse_measure(value: Any, where: str) -> Measure | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise MetadataError(f"{where} must be an object with unit and value, got {_describe(value)}")
    number, unit = value.get("value"), value.get("unit", "")
    if type(number) is not float and type(number) is not int:
        raise MetadataError(f"{where}.value must be a number, got {_describe(number)}")
    if not 0 <= number <= MAX_MEASURE:  # also false for NaN
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
    name, normalized = value.get("name"), value.get("normalizedName")  # both are null in real records
    return SkuRecord(
        asin=asin,
        quantity=_require_int(value["quantity"], f"{where}.quantity"),
        name="" if name is None else _require_str(name, f"{where}.name", allow_empty=True),
        normalized_name=None if normalized is None else _require_str(normalized, f"{where}.normalizedName", True),
        length=_parse_measure(value.get("length"), f"{where}.length"),
        width=_parse_measure(value.get("width"), f"{where}.width"),
        height=_parse_measure(value.get("height"), f"{where}.height"),
        weight=_parse_measure(value.get("weight"), f"{where}.weight"),
    )


def parse_metadata_checked(data: bytes) -> BinRecord:
    """Parse step by step in Python: slower, but says exactly what is wrong; the reference for the fast path."""
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
        skus = {k: _parse_sku(k, v) for k, v in skus_doc.items()}
        fname = doc.get("image_fname")
        return BinRecord(
            skus=skus,
            expected_quantity=_require_int(doc["EXPECTED_QUANTITY"], "EXPECTED_QUANTITY"),
            image_fname=None if fname is None else _require_str(fname, "image_fname", True),
        )
    except MetadataError:
        raise
    except RecursionError:
        raise MetadataError("record is nested too deeply") from None
    except Exception as exc:  # the parser's contract: only MetadataError comes out
        raise MetadataError(f"unexpected content ({type(exc).__name__})") from None


_MaybeText = _Text | None | UnsetType
_MaybeMeasure = Measure | None | UnsetType


class _SkuDoc(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """SkuRecord as the fast path decodes it: UNSET tells a missing key from a null one, so keys can be counted."""

    asin: str
    quantity: _Quantity
    name: _MaybeText = UNSET
    normalized_name: _MaybeText = msgspec.field(default=UNSET, name="normalizedName")
    length: _MaybeMeasure = UNSET
    width: _MaybeMeasure = UNSET
    height: _MaybeMeasure = UNSET
    weight: _MaybeMeasure = UNSET


class _BinDoc(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """BinRecord as the fast path decodes it (see _SkuDoc)."""

    skus: dict[str, _SkuDoc] = msgspec.field(name="BIN_FCSKU_DATA")
    expected_quantity: _Quantity = msgspec.field(name="EXPECTED_QUANTITY")
    image_fname: _MaybeText = UNSET


_DOC_DECODER = msgspec.json.Decoder(_BinDoc)


def _keys_in(doc: _BinDoc) -> int:
    """A lower bound on the keys of the JSON text that decoded to doc (a duplicated key counts once).

    Every field that is not UNSET was written, null included; only a Measure's empty unit may have
    been left out or written, so that key is not counted. Real records always get the exact count.
    """
    keys = 2 + (doc.image_fname is not UNSET)
    for sku in doc.skus.values():
        keys += 3  # its key in BIN_FCSKU_DATA, asin, quantity
        for value in (sku.name, sku.normalized_name, sku.length, sku.width, sku.height, sku.weight):
            if value is not UNSET:
                keys += 1
                if type(value) is Measure:
                    keys += 1 + (value.unit != "")
    return keys


def _sku_record(sku: _SkuDoc) -> SkuRecord:
    """The public record of a decoded SKU: a null or missing name is "", anything else null or missing is None."""
    normalized, length, width, height, weight = sku.normalized_name, sku.length, sku.width, sku.height, sku.weight
    return SkuRecord(sku.asin, sku.quantity, sku.name or "", None if normalized is UNSET else normalized,
                     None if length is UNSET else length, None if width is UNSET else width,
                     None if height is UNSET else height, None if weight is UNSET else weight)


def parse_metadata_fast(data: bytes) -> BinRecord | None:
    """The record when a compiled schema decode proves it valid, None when in any doubt (3x faster).

    Every key ends with a colon, so when the colons in the text number no more than the keys the
    decoded record holds, no key can be duplicated (a decoder would silently keep the last one).
    """
    try:
        doc = _DOC_DECODER.decode(data)
    except Exception:  # msgspec's errors, and UnicodeDecodeError for invalid UTF-8
        return None
    codes = [*doc.skus, *(sku.asin for sku in doc.skus.values())]
    joined = "\n".join(codes)  # one regex call for all codes (a pattern per field costs 4x more)
    if codes and (joined.count("\n") != len(codes) - 1 or not _ASIN_CODES.fullmatch(joined)):
        return None
    keys = _keys_in(doc)
    if data.count(b":") != keys and len(_KEY_TOKEN.findall(data)) != keys:  # colons inside names: count keys
        return None
    fname = doc.image_fname
    return BinRecord({key: _sku_record(sku) for key, sku in doc.skus.items()}, doc.expected_quantity,
                     None if fname is UNSET else fname)


def parse_metadata(data: bytes) -> BinRecord:
    """Parse one ABID metadata file strictly; raise MetadataError (and nothing else) when it is not one."""
    if len(data) <= MAX_METADATA_BYTES:
        record = parse_metadata_fast(data)
        if record is not None:
            return record
    return parse_metadata_checked(data)


def read_metadata_bytes(path: str | Path) -> tuple[os.stat_result, bytes]:
    """A metadata file's stat and bytes, one byte past the size limit at most (raises OSError)."""
    fd = os.open(path, os.O_RDONLY | O_BINARY)
    try:
        stat = os.fstat(fd)
        return stat, read_up_to(fd, min(stat.st_size, MAX_METADATA_BYTES) + 1, stat.st_size)
    finally:
        os.close(fd)
