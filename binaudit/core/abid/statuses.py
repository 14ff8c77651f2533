"""The status of an imported id, one per photo/metadata pair, and which of them still have a usable photo."""

from __future__ import annotations

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
