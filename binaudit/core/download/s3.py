"""S3 access for the download: an anonymous client, listings page by page, and errors put in words for a human."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from binaudit.core.download.objects import (
    ABID_BUCKET,
    ABID_REGION,
    METADATA_PREFIX,
    DownloadError,
)

_LIST_PAGE = 1000


def make_client(endpoint_url: str | None, region: str, workers: int, max_attempts: int) -> Any:
    """An anonymous (unsigned) S3 client with botocore retries and a connection per worker."""
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


def translate(exc: BaseException, bucket: str, endpoint: str) -> DownloadError | None:
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


def list_objects(client: Any, bucket: str, prefix: str, start_after: str | None,
          endpoint: str, cancel: Callable[[], bool]) -> Iterator[dict[str, Any]]:
    """Yield listing entries under ``prefix`` in key order, page by page."""
    from botocore.exceptions import BotoCoreError, ClientError

    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": _LIST_PAGE}
    if start_after:
        kwargs["StartAfter"] = start_after
    try:
        pages = client.get_paginator("list_objects_v2").paginate(**kwargs)
        for page in pages:
            yield from page.get("Contents", []) or []
            if cancel():
                return
    except (BotoCoreError, ClientError) as exc:
        err = translate(exc, bucket, endpoint)
        if err is None:
            err = DownloadError(f"Listing s3://{bucket}/{prefix} failed: {exc}")
        raise err from exc


def normalise_start_after(start_after: str | None) -> str | None:
    """Accept an id (``"00523"``), a basename (``"00523.json"``) or a full key."""
    if not start_after:
        return None
    s = start_after.strip()
    if s.startswith(METADATA_PREFIX):
        return s
    if s.endswith(".json"):
        s = s[: -len(".json")]
    return f"{METADATA_PREFIX}{s}.json"
