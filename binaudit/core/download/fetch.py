"""Fetching one object: into ``<name>.part``, verified by size and MD5, then moved into place with os.replace."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from binaudit.core.download.objects import (
    CHUNK,
    DownloadError,
    Remote,
    is_verified,
    plain_md5,
)
from binaudit.core.download.s3 import translate


class Fatal(Exception):
    """Carries a DownloadError out of a worker thread: the run stops."""

    def __init__(self, error: DownloadError):
        super().__init__(str(error))
        self.error = error


def fetch(client: Any, bucket: str, remote: Remote, target: Path, endpoint: str,
          attempts: int = 3) -> tuple[str, int, str | None]:
    """Download one object to ``target`` via ``target.part``.

    Returns ``("downloaded", nbytes, None)``, ``("skipped", 0, None)`` or
    ``("failed", 0, reason)``; raises ``Fatal`` for problems that stop the run.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if is_verified(target, remote):
        return "skipped", 0, None

    part = target.with_name(target.name + ".part")
    reason = "unknown error"
    for _ in range(max(1, attempts)):
        try:
            n, mismatch = _get_once(client, bucket, remote, part, target)
            if mismatch is None:
                return "downloaded", n, None
            reason = mismatch
        except ClientError as exc:
            _remove(part)
            err = translate(exc, bucket, endpoint)
            if err is not None:
                raise Fatal(err) from exc
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                return "failed", 0, "not found in the bucket"
            reason = f"S3 error {code or exc}"
        except BotoCoreError as exc:
            _remove(part)
            err = translate(exc, bucket, endpoint)
            if err is not None:
                raise Fatal(err) from exc
            reason = f"transfer error: {exc}"
        except OSError as exc:
            _remove(part)
            # A local write problem (disk full, permissions) stops the run.
            raise Fatal(DownloadError(f"Cannot write {part}: {exc.strerror or exc}")) from exc
        _remove(part)
    return "failed", 0, reason


def _get_once(client: Any, bucket: str, remote: Remote, part: Path, target: Path) -> tuple[int, str | None]:
    """One GET into ``part``, moved to ``target`` when size and MD5 match: (bytes, None), or (bytes, why not)."""
    resp = client.get_object(Bucket=bucket, Key=remote.key)
    expected_size = resp.get("ContentLength")
    expected_md5 = plain_md5(resp.get("ETag"))
    h = hashlib.md5(usedforsecurity=False)
    n = 0
    body = resp["Body"]
    try:
        with open(part, "wb") as f:
            while chunk := body.read(CHUNK):
                f.write(chunk)
                h.update(chunk)
                n += len(chunk)
            f.flush()
            os.fsync(f.fileno())
    finally:
        body.close()
    if expected_size is not None and n != expected_size:
        return n, f"size mismatch: got {n} bytes, expected {expected_size}"
    if expected_md5 is not None and h.hexdigest() != expected_md5:
        return n, "MD5 mismatch against the ETag"
    os.replace(part, target)
    return n, None


def _remove(path: Path) -> None:
    """Delete a leftover .part file if it is there."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        pass


def guarded_fetch(client: Any, bucket: str, remote: Remote, path: Path, endpoint: str,
                  is_cancelled: Callable[[], bool]) -> tuple[str, int, str | None]:
    """fetch, unless the run was cancelled while this file waited in the queue."""
    if is_cancelled():
        return "cancelled", 0, None
    return fetch(client, bucket, remote, path, endpoint)
