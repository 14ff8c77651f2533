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

No Qt, no torch: this module runs headless, from the CLI or a GUI worker.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ABID_BUCKET",
    "ABID_REGION",
    "DownloadError",
    "DownloadSummary",
    "download_abid",
]

ABID_BUCKET = "aft-vbi-pds"
ABID_REGION = "us-east-1"

METADATA_PREFIX = "metadata/"
IMAGE_PREFIX = "bin-images/"

_NAME_RE = re.compile(r"^[0-9]{1,7}\.(json|jpg)$")
_PLAIN_MD5_RE = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 256 * 1024
_LIST_PAGE = 1000


class DownloadError(RuntimeError):
    """A fatal download problem, with a message meant for a human.

    ``summary`` holds what the run had done before it stopped (None when it
    stopped before any file was attempted).
    """

    def __init__(self, message: str, summary: "DownloadSummary | None" = None):
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
class _Remote:
    key: str
    name: str  # validated basename
    size: int | None  # None when not known from a listing
    etag: str | None  # unquoted, lower-case


# --------------------------------------------------------------------------- #
# Names and verification
# --------------------------------------------------------------------------- #


def _safe_name(key: str, prefix: str) -> str | None:
    """The local file name for ``key``, or None if the key is refused."""
    if not key.startswith(prefix):
        return None
    name = key[len(prefix):]
    if not _NAME_RE.fullmatch(name):  # also rules out "/", "..", "\\", NUL
        return None
    return name


def _plain_md5(etag: str | None) -> str | None:
    """The ETag as an MD5 hex digest, or None if it is not a plain MD5
    (multipart uploads give ``<hex>-<parts>``)."""
    if not etag:
        return None
    etag = etag.strip().strip('"').lower()
    return etag if _PLAIN_MD5_RE.fullmatch(etag) else None


def _file_md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _is_verified(path: Path, remote: _Remote) -> bool:
    """True if ``path`` exists and matches the listed size (and MD5 when the
    listed ETag is a plain MD5)."""
    try:
        st = path.stat()
    except OSError:
        return False
    if not path.is_file() or remote.size is None or st.st_size != remote.size:
        return False
    md5 = _plain_md5(remote.etag)
    if md5 is None:
        return True
    try:
        return _file_md5(path) == md5
    except OSError:
        return False


# --------------------------------------------------------------------------- #
# S3 access
# --------------------------------------------------------------------------- #


def _make_client(endpoint_url: str | None, region: str, workers: int, max_attempts: int):
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(
        signature_version=UNSIGNED,
        region_name=region,
        max_pool_connections=max(10, workers + 2),
        retries={"max_attempts": max(1, max_attempts), "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    # A private session: never reads or uses credentials (requests are unsigned).
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def _translate(exc: BaseException, bucket: str, endpoint: str) -> DownloadError | None:
    """Map a botocore exception to a DownloadError with a human message, or
    None when it is a per-object problem (e.g. a missing key)."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ProxyConnectionError,
        ReadTimeoutError,
    )

    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError)):
        return DownloadError(
            f"Cannot reach the S3 endpoint {endpoint}: no network connection, or the "
            f"endpoint is unreachable. Check your internet connection (or proxy) and "
            f"try again; downloaded files are kept and the next run resumes."
        )
    if isinstance(exc, (ReadTimeoutError, ConnectionClosedError)):
        return DownloadError(
            f"The connection to {endpoint} dropped or timed out. Try again; "
            f"downloaded files are kept and the next run resumes."
        )
    if isinstance(exc, NoCredentialsError):  # pragma: no cover - unsigned never asks
        return DownloadError("The S3 client asked for credentials, which it should not need.")
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {}) or {}
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return DownloadError(
                f"The bucket '{bucket}' does not exist at {endpoint}. Check the bucket "
                f"name (the dataset's bucket is '{ABID_BUCKET}') and the endpoint."
            )
        if code in ("AccessDenied", "AllAccessDisabled", "AccountProblem",
                    "InvalidAccessKeyId", "SignatureDoesNotMatch") or (
            status == 403 and code not in ("NoSuchKey", "404")
        ):
            return DownloadError(
                f"Access denied to bucket '{bucket}' at {endpoint}. The bucket must be "
                f"publicly readable for an anonymous download (the ABID bucket "
                f"'{ABID_BUCKET}' is); it may have been made private or moved."
            )
        if code in ("PermanentRedirect", "301", "AuthorizationHeaderMalformed"):
            actual = err.get("Region") or err.get("BucketRegion") or "another region"
            return DownloadError(
                f"The bucket '{bucket}' lives in {actual}, not in the region given; "
                f"set the region to the bucket's region (ABID: {ABID_REGION})."
            )
        return None
    return None


def _list(client, bucket: str, prefix: str, start_after: str | None,
          endpoint: str, cancel: Callable[[], bool]) -> Iterator[dict]:
    """Yield listing entries under ``prefix`` in key order, page by page."""
    from botocore.exceptions import BotoCoreError, ClientError

    kwargs = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": _LIST_PAGE}
    if start_after:
        kwargs["StartAfter"] = start_after
    try:
        pages = client.get_paginator("list_objects_v2").paginate(**kwargs)
        for page in pages:
            yield from page.get("Contents", []) or []
            if cancel():
                return
    except (BotoCoreError, ClientError) as exc:
        err = _translate(exc, bucket, endpoint)
        if err is None:
            err = DownloadError(f"Listing s3://{bucket}/{prefix} failed: {exc}")
        raise err from exc


def _normalise_start_after(start_after: str | None) -> str | None:
    """Accept an id (``"00523"``), a basename (``"00523.json"``) or a full key."""
    if not start_after:
        return None
    s = start_after.strip()
    if s.startswith(METADATA_PREFIX):
        return s
    if s.endswith(".json"):
        s = s[: -len(".json")]
    return f"{METADATA_PREFIX}{s}.json"


# --------------------------------------------------------------------------- #
# One file
# --------------------------------------------------------------------------- #


class _Fatal(Exception):
    def __init__(self, error: DownloadError):
        super().__init__(str(error))
        self.error = error


def _fetch(client, bucket: str, remote: _Remote, target: Path, endpoint: str,
           attempts: int = 3) -> tuple[str, int, str | None]:
    """Download one object to ``target`` via ``target.part``.

    Returns ``("downloaded", nbytes, None)``, ``("skipped", 0, None)`` or
    ``("failed", 0, reason)``; raises ``_Fatal`` for problems that stop the run.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if _is_verified(target, remote):
        return "skipped", 0, None

    part = target.with_name(target.name + ".part")
    reason = "unknown error"
    for _ in range(max(1, attempts)):
        try:
            resp = client.get_object(Bucket=bucket, Key=remote.key)
            expected_size = resp.get("ContentLength")
            expected_md5 = _plain_md5(resp.get("ETag"))
            h = hashlib.md5(usedforsecurity=False)
            n = 0
            body = resp["Body"]
            try:
                with open(part, "wb") as f:
                    while chunk := body.read(_CHUNK):
                        f.write(chunk)
                        h.update(chunk)
                        n += len(chunk)
                    f.flush()
                    os.fsync(f.fileno())
            finally:
                body.close()
            if expected_size is not None and n != expected_size:
                reason = f"size mismatch: got {n} bytes, expected {expected_size}"
            elif expected_md5 is not None and h.hexdigest() != expected_md5:
                reason = "MD5 mismatch against the ETag"
            else:
                os.replace(part, target)
                return "downloaded", n, None
        except ClientError as exc:
            _remove(part)
            err = _translate(exc, bucket, endpoint)
            if err is not None:
                raise _Fatal(err) from exc
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                return "failed", 0, "not found in the bucket"
            reason = f"S3 error {code or exc}"
        except BotoCoreError as exc:
            _remove(part)
            err = _translate(exc, bucket, endpoint)
            if err is not None:
                raise _Fatal(err) from exc
            reason = f"transfer error: {exc}"
        except OSError as exc:
            _remove(part)
            # A local write problem (disk full, permissions) stops the run.
            raise _Fatal(DownloadError(f"Cannot write {part}: {exc.strerror or exc}")) from exc
        _remove(part)
    return "failed", 0, reason


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        pass


# --------------------------------------------------------------------------- #
# Public entry point
# --------------------------------------------------------------------------- #


def download_abid(
    dest: Path,
    limit: int,
    *,
    bucket: str = ABID_BUCKET,
    endpoint_url: str | None = None,
    region: str = ABID_REGION,
    start_after: str | None = None,
    workers: int = 8,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    max_attempts: int = 3,
) -> DownloadSummary:
    """Download the first ``limit`` ABID records listed under ``metadata/``.

    ``start_after`` is an id (``"00523"``), a basename or a full metadata key;
    listing starts after it (S3 key order). For each id both
    ``metadata/<id>.json`` and ``bin-images/<id>.jpg`` are fetched into
    ``dest/metadata`` and ``dest/bin-images``; an image missing from the bucket
    is recorded in ``failed``. Verified local files are skipped.

    ``progress(done, total)`` is called from the calling thread, counted in
    files (``total`` is twice the number of ids). ``cancel()`` is checked
    between files (and between listing pages); a cancelled run returns with
    ``cancelled=True`` after the files in flight finish. ``max_attempts`` is the
    botocore retry budget per request.

    Raises ``DownloadError`` for an unreachable endpoint, a missing bucket,
    denied access or a local write failure; ``ValueError`` for bad arguments.
    """
    if limit < 0:
        raise ValueError("limit must be >= 0")
    if workers < 1:
        raise ValueError("workers must be >= 1")
    dest = Path(dest)
    summary = DownloadSummary()
    is_cancelled = cancel or (lambda: False)
    report = progress or (lambda done, total: None)
    if limit == 0:
        report(0, 0)
        return summary

    endpoint = endpoint_url or f"https://s3.{region}.amazonaws.com"
    client = _make_client(endpoint_url, region, workers, max_attempts)

    # 1. The first `limit` valid metadata keys, in listing order.
    records: list[_Remote] = []
    for obj in _list(client, bucket, METADATA_PREFIX, _normalise_start_after(start_after),
                     endpoint, is_cancelled):
        key = obj["Key"]
        name = _safe_name(key, METADATA_PREFIX)
        if name is None or not name.endswith(".json"):
            summary.failed.append((key, "refused: not a plain '<digits>.json' metadata key"))
            continue
        records.append(_Remote(key, name, obj.get("Size"), _plain_md5(obj.get("ETag")) or obj.get("ETag")))
        if len(records) >= limit:
            break
    if is_cancelled():
        summary.cancelled = True
        return summary

    # 2. The matching images, from one listing of the same id range. Ids are
    # digit strings and "." sorts below every digit, so "<id>.jpg" keys list in
    # the same order as "<id>.json" keys.
    images: dict[str, _Remote] = {}
    if records:
        stems = [r.name[: -len(".json")] for r in records]
        wanted = set(stems)
        last_key = f"{IMAGE_PREFIX}{stems[-1]}.jpg"
        for obj in _list(client, bucket, IMAGE_PREFIX, f"{IMAGE_PREFIX}{stems[0]}",
                         endpoint, is_cancelled):
            key = obj["Key"]
            if key > last_key:
                break
            name = _safe_name(key, IMAGE_PREFIX)
            if name is None or not name.endswith(".jpg"):
                continue
            stem = name[: -len(".jpg")]
            if stem in wanted:
                images[stem] = _Remote(key, name, obj.get("Size"),
                                       _plain_md5(obj.get("ETag")) or obj.get("ETag"))
        if is_cancelled():
            summary.cancelled = True
            return summary

    # 3. The work list: (remote, local path). Missing images fail up front.
    meta_dir = dest / "metadata"
    img_dir = dest / "bin-images"
    try:
        meta_dir.mkdir(parents=True, exist_ok=True)
        img_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"Cannot create the download folders under {dest}: "
                            f"{exc.strerror or exc}") from exc

    total = 2 * len(records)
    done = 0
    jobs: list[tuple[_Remote, Path]] = []
    for rec in records:
        stem = rec.name[: -len(".json")]
        jobs.append((rec, meta_dir / rec.name))
        img = images.get(stem)
        if img is None:
            summary.failed.append((f"{IMAGE_PREFIX}{stem}.jpg", "image not in the bucket"))
            done += 1
        else:
            jobs.append((img, img_dir / img.name))
    report(done, total)

    # 4. Fetch with a bounded number of files in flight, so cancel() acts fast
    # and a 500k-record run does not queue 1M futures.
    lock = threading.Lock()  # summary is only touched here, but keep it obvious
    fatal: DownloadError | None = None
    pending: set[Future] = set()
    it = iter(jobs)
    exhausted = False

    def submit_more(pool: ThreadPoolExecutor) -> None:
        nonlocal exhausted
        while not exhausted and len(pending) < 2 * workers:
            if is_cancelled():
                summary.cancelled = True
                exhausted = True
                return
            job = next(it, None)
            if job is None:
                exhausted = True
                return
            remote, path = job
            fut = pool.submit(_guarded_fetch, client, bucket, remote, path, endpoint, is_cancelled)
            fut.remote = remote  # type: ignore[attr-defined]
            pending.add(fut)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="abid-dl") as pool:
        submit_more(pool)
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                pending.discard(fut)
                remote = fut.remote  # type: ignore[attr-defined]
                try:
                    status, nbytes, reason = fut.result()
                except _Fatal as exc:
                    if fatal is None:
                        fatal = exc.error
                    exhausted = True
                    continue
                with lock:
                    if status == "downloaded":
                        summary.downloaded += 1
                        summary.bytes += nbytes
                    elif status == "skipped":
                        summary.skipped += 1
                    elif status == "cancelled":
                        summary.cancelled = True
                        continue
                    else:
                        summary.failed.append((remote.key, reason or "failed"))
                done += 1
                report(done, total)
            if fatal is None and not summary.cancelled:
                submit_more(pool)

    if fatal is not None:
        fatal.summary = summary
        raise fatal
    return summary


def _guarded_fetch(client, bucket, remote, path, endpoint, is_cancelled):
    if is_cancelled():
        return "cancelled", 0, None
    return _fetch(client, bucket, remote, path, endpoint)
