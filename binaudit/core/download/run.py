"""One download run in four named steps: list the records, list their images, plan the files, fetch them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from binaudit.core.download.fetch import Fatal, guarded_fetch
from binaudit.core.download.objects import (
    ABID_BUCKET,
    ABID_REGION,
    IMAGE_PREFIX,
    METADATA_PREFIX,
    DownloadError,
    DownloadSummary,
    Remote,
    plain_md5,
    safe_name,
)
from binaudit.core.download.s3 import list_objects, make_client, normalise_start_after

_Job = tuple[Remote, Path]


@dataclass(frozen=True)
class _Bucket:
    """Where a run reads from: the client, bucket and endpoint, and the run's cancel check."""

    client: Any
    name: str
    endpoint: str
    is_cancelled: Callable[[], bool]

    def listing(self, prefix: str, start_after: str | None) -> Iterator[dict[str, Any]]:
        """Listing entries under prefix after start_after, in key order."""
        return list_objects(self.client, self.name, prefix, start_after, self.endpoint, self.is_cancelled)


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
    source = _Bucket(make_client(endpoint_url, region, workers, max_attempts), bucket, endpoint, is_cancelled)
    records = _list_records(source, limit, start_after, summary)
    if is_cancelled():
        summary.cancelled = True
        return summary
    images = _list_images(source, records) if records else {}
    if records and is_cancelled():
        summary.cancelled = True
        return summary
    jobs, done = _plan_files(dest, records, images, summary)
    total = 2 * len(records)
    report(done, total)
    _Fetcher(source, workers, summary, report, done, total).run(jobs)
    return summary


def _remote(obj: dict[str, Any], name: str) -> Remote:
    """A listing entry as a Remote with its validated local name."""
    return Remote(obj["Key"], name, obj.get("Size"), plain_md5(obj.get("ETag")) or obj.get("ETag"))


def _list_records(source: _Bucket, limit: int, start_after: str | None, summary: DownloadSummary) -> list[Remote]:
    """Step 1: the first `limit` valid metadata keys, in listing order (refused keys go to summary.failed)."""
    records: list[Remote] = []
    for obj in source.listing(METADATA_PREFIX, normalise_start_after(start_after)):
        key = obj["Key"]
        name = safe_name(key, METADATA_PREFIX)
        if name is None or not name.endswith(".json"):
            summary.failed.append((key, "refused: not a plain '<digits>.json' metadata key"))
            continue
        records.append(_remote(obj, name))
        if len(records) >= limit:
            break
    return records


def _list_images(source: _Bucket, records: list[Remote]) -> dict[str, Remote]:
    """Step 2: the records' images by id, from one listing of the same id range.

    Ids are digit strings and "." sorts below every digit, so "<id>.jpg" keys list in the same
    order as "<id>.json" keys.
    """
    images: dict[str, Remote] = {}
    stems = [r.name[: -len(".json")] for r in records]
    wanted = set(stems)
    last_key = f"{IMAGE_PREFIX}{stems[-1]}.jpg"
    for obj in source.listing(IMAGE_PREFIX, f"{IMAGE_PREFIX}{stems[0]}"):
        key = obj["Key"]
        if key > last_key:
            break
        name = safe_name(key, IMAGE_PREFIX)
        if name is None or not name.endswith(".jpg"):
            continue
        stem = name[: -len(".jpg")]
        if stem in wanted:
            images[stem] = _remote(obj, name)
    return images


def _plan_files(dest: Path, records: list[Remote], images: dict[str, Remote],
                summary: DownloadSummary) -> tuple[list[_Job], int]:
    """Step 3: the folders and the work list (remote, local path); a missing image fails up front and counts as done."""
    meta_dir = dest / "metadata"
    img_dir = dest / "bin-images"
    try:
        meta_dir.mkdir(parents=True, exist_ok=True)
        img_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"Cannot create the download folders under {dest}: "
                            f"{exc.strerror or exc}") from exc
    done = 0
    jobs: list[_Job] = []
    for rec in records:
        stem = rec.name[: -len(".json")]
        jobs.append((rec, meta_dir / rec.name))
        img = images.get(stem)
        if img is None:
            summary.failed.append((f"{IMAGE_PREFIX}{stem}.jpg", "image not in the bucket"))
            done += 1
        else:
            jobs.append((img, img_dir / img.name))
    return jobs, done


class _Fetcher:
    """Step 4: fetch with a bounded number of files in flight, so cancel() acts fast and a 500k-record
    run does not queue 1M futures; counts go into the summary, progress is reported from this thread."""

    def __init__(self, source: _Bucket, workers: int, summary: DownloadSummary,
                 report: Callable[[int, int], None], done: int, total: int):
        self.source, self.workers, self.summary, self.report = source, workers, summary, report
        self.done, self.total = done, total
        self.lock = threading.Lock()  # summary is only touched here, but keep it obvious
        self.fatal: DownloadError | None = None
        self.pending: dict[Future[tuple[str, int, str | None]], Remote] = {}
        self.exhausted = False

    def run(self, jobs: list[_Job]) -> None:
        """Fetch every job unless cancelled; raise the first fatal error, with the summary so far."""
        it = iter(jobs)
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="abid-dl") as pool:
            self._submit_more(pool, it)
            while self.pending:
                finished, _ = wait(self.pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    self._collect(fut, self.pending.pop(fut))
                if self.fatal is None and not self.summary.cancelled:
                    self._submit_more(pool, it)
        if self.fatal is not None:
            self.fatal.summary = self.summary
            raise self.fatal

    def _submit_more(self, pool: ThreadPoolExecutor, it: Iterator[_Job]) -> None:
        """Top the pool up to twice the workers in flight, stopping at the end of the jobs or on cancel."""
        source = self.source
        while not self.exhausted and len(self.pending) < 2 * self.workers:
            if source.is_cancelled():
                self.summary.cancelled = True
                self.exhausted = True
                return
            job = next(it, None)
            if job is None:
                self.exhausted = True
                return
            remote, path = job
            fut = pool.submit(guarded_fetch, source.client, source.name, remote, path, source.endpoint,
                              source.is_cancelled)
            self.pending[fut] = remote

    def _collect(self, fut: Future[tuple[str, int, str | None]], remote: Remote) -> None:
        """Count one finished file in the summary and report progress; a fatal error stops new submissions."""
        summary = self.summary
        try:
            status, nbytes, reason = fut.result()
        except Fatal as exc:
            if self.fatal is None:
                self.fatal = exc.error
            self.exhausted = True
            return
        with self.lock:
            if status == "downloaded":
                summary.downloaded += 1
                summary.bytes += nbytes
            elif status == "skipped":
                summary.skipped += 1
            elif status == "cancelled":
                summary.cancelled = True
                return
            else:
                summary.failed.append((remote.key, reason or "failed"))
        self.done += 1
        self.report(self.done, self.total)
