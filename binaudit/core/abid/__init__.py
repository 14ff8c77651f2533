"""Qt-free reading of the Amazon Bin Image Dataset layout: every file gets a status and a reason, none stops a scan.

    statuses.py   the status of an imported id, and which statuses still have a usable photo
    metadata.py   the record schema, parse_metadata (fast decode, checked parser), MetadataError
    jpeg.py       probe_jpeg/check_jpeg without decoding (magic numbers, frame header), ImageError
    scan.py       scan_dataset: photos and metadata paired by id (ABID layout or a flat folder)
    files.py      raw reads with one open and no Python file object
"""

from binaudit.core.abid.jpeg import (
    JPEG_HEAD_BYTES,
    JPEG_TAIL_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    ImageError,
    check_jpeg,
    jpeg_header_size,
    probe_jpeg,
    read_jpeg_ends,
)
from binaudit.core.abid.metadata import (
    MAX_MEASURE,
    MAX_METADATA_BYTES,
    MAX_NAME_LENGTH,
    MAX_QUANTITY,
    BinRecord,
    Measure,
    MetadataError,
    SkuRecord,
    parse_metadata,
    parse_metadata_checked,
    parse_metadata_fast,
    read_metadata_bytes,
)
from binaudit.core.abid.scan import (
    IMAGE_SUFFIXES,
    METADATA_SUFFIX,
    DatasetEntry,
    scan_dataset,
)
from binaudit.core.abid.statuses import (
    IMAGE_USABLE_STATUSES,
    STATUS_INCONSISTENT,
    STATUS_MALFORMED_METADATA,
    STATUS_NO_IMAGE,
    STATUS_NO_METADATA,
    STATUS_OK,
    STATUS_UNREADABLE_IMAGE,
    STATUSES,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "IMAGE_USABLE_STATUSES",
    "JPEG_HEAD_BYTES",
    "JPEG_TAIL_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE",
    "MAX_MEASURE",
    "MAX_METADATA_BYTES",
    "MAX_NAME_LENGTH",
    "MAX_QUANTITY",
    "METADATA_SUFFIX",
    "STATUSES",
    "STATUS_INCONSISTENT",
    "STATUS_MALFORMED_METADATA",
    "STATUS_NO_IMAGE",
    "STATUS_NO_METADATA",
    "STATUS_OK",
    "STATUS_UNREADABLE_IMAGE",
    "BinRecord",
    "DatasetEntry",
    "ImageError",
    "Measure",
    "MetadataError",
    "SkuRecord",
    "check_jpeg",
    "jpeg_header_size",
    "parse_metadata",
    "parse_metadata_checked",
    "parse_metadata_fast",
    "probe_jpeg",
    "read_jpeg_ends",
    "read_metadata_bytes",
    "scan_dataset",
]
