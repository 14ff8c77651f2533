"""Download a slice of the real Amazon Bin Image Dataset (ABID) from S3.

The dataset lives in the public bucket ``aft-vbi-pds`` (us-east-1) and is read
anonymously (unsigned requests, no credentials needed or used). Files land in
the dataset's own layout::

    dest/metadata/<id>.json
    dest/bin-images/<id>.jpg

The download is resumable: a file that is already present and verified (size,
and MD5 against the listed ETag when that ETag is a plain MD5) is skipped.
Every file is written to ``<name>.part`` and moved into place with
``os.replace`` only once its bytes are verified, so an interrupted run never
leaves a truncated final file.

Local file names come only from the key's basename, and only when it matches
``^[0-9]{1,7}\\.(json|jpg)$`` and the key is exactly ``<prefix><basename>``;
anything else is refused, so no key can write outside ``dest``.

No Qt, no torch: this package runs headless, from the CLI or a GUI worker.

    run.py      download_abid: list the records, list their images, plan the files, fetch them
    objects.py  trusted local names, verification by size and ETag, DownloadError, DownloadSummary
    s3.py       the anonymous client, listings, botocore errors in words for a human
    fetch.py    one object into <name>.part, verified, then moved into place
"""

from binaudit.core.download import objects, s3
from binaudit.core.download.objects import (
    ABID_BUCKET,
    ABID_REGION,
    DownloadError,
    DownloadSummary,
)
from binaudit.core.download.run import download_abid

# The download tests check these helpers directly, by the names they had when this was one module.
_Remote = objects.Remote
_is_verified = objects.is_verified
_safe_name = objects.safe_name
_make_client = s3.make_client
_translate = s3.translate

__all__ = [
    "ABID_BUCKET",
    "ABID_REGION",
    "DownloadError",
    "DownloadSummary",
    "download_abid",
]
