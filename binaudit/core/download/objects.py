"""The objects a download deals in: trusted local names, verification by size and ETag, the run's errors and summary.

Local file names come only from the key's basename, and only when it matches
``^[0-9]{1,7}\\.(json|jpg)$`` and the key is exactly ``<prefix><basename>``;
anything else is refused, so no key can write outside ``dest``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

ABID_BUCKET = "aft-vbi-pds"
ABID_REGION = "us-east-1"

METADATA_PREFIX = "metadata/"
IMAGE_PREFIX = "bin-images/"

_NAME_RE = re.compile(r"^[0-9]{1,7}\.(json|jpg)$")
_PLAIN_MD5_RE = re.compile(r"^[0-9a-f]{32}$")
CHUNK = 256 * 1024


class DownloadError(RuntimeError):
    """A fatal download problem, with a message meant for a human.

    ``summary`` holds what the run had done before it stopped (None when it
    stopped before any file was attempted).
    """

    def __init__(self, message: str, summary: DownloadSummary | None = None):
        super().__init__(message)
        self.summary = summary


@dataclass
class DownloadSummary:
    """What a run did, counted in files (a record is two files).

    ``bytes`` counts bytes transferred by this run (skipped files excluded).
    ``failed`` holds ``(key, reason)`` for each file that could not be fetched
    (e.g. an image missing from the bucket) or a key that was refused.
    """

    downloaded: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    bytes: int = 0
    cancelled: bool = False


@dataclass(frozen=True)
class Remote:
    """One object of the bucket as listed: its key, the local name it may take, its size and ETag if known."""

    key: str
    name: str  # validated basename
    size: int | None  # None when not known from a listing
    etag: str | None  # unquoted, lower-case


def safe_name(key: str, prefix: str) -> str | None:
    """The local file name for ``key``, or None if the key is refused."""
    if not key.startswith(prefix):
        return None
    name = key[len(prefix):]
    if not _NAME_RE.fullmatch(name):  # also rules out "/", "..", "\\", NUL
        return None
    return name


def plain_md5(etag: str | None) -> str | None:
    """The ETag as an MD5 hex digest, or None if it is not a plain MD5
    (multipart uploads give ``<hex>-<parts>``)."""
    if not etag:
        return None
    etag = etag.strip().strip('"').lower()
    return etag if _PLAIN_MD5_RE.fullmatch(etag) else None


def _file_md5(path: Path) -> str:
    """MD5 hex digest of a local file, read in chunks."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def is_verified(path: Path, remote: Remote) -> bool:
    """True if ``path`` exists and matches the listed size (and MD5 when the
    listed ETag is a plain MD5)."""
    try:
        st = path.stat()
    except OSError:
        return False
    if not path.is_file() or remote.size is None or st.st_size != remote.size:
        return False
    md5 = plain_md5(remote.etag)
    if md5 is None:
        return True
    try:
        return _file_md5(path) == md5
    except OSError:
        return False
