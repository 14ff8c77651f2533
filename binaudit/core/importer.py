"""Import a dataset folder into a workspace: idempotent, picks up only what changed, never stops on a bad file.

Photos and metadata are read and checked in worker processes, batch by batch; each batch's rows go to a
scratch SQLite file that this process copies into the workspace inside SQLite, while workers read on.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Generator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from binaudit.core import abid
from binaudit.core.abid import BinRecord, DatasetEntry, ImageError, MetadataError
from binaudit.core.progress import CancelCallback, ProgressCallback, check_cancel, report
from binaudit.core.splits import DEFAULT_RATIOS, bin_record_key, split_chooser
from binaudit.core.store import ImportedImage, Store, search_text, utc_now, write_import_stage

BATCH_SIZE = 1000
BULK_THRESHOLD = 5000  # changed records above which the text index is rebuilt once at the end
MAX_WORKERS = 4  # reading is I/O and parsing; beyond this SQLite writing in this process is the limit
SCRATCH_PREFIX = "binaudit-import-"  # + pid: scratch folders of killed imports are recognised and removed

# When one id has several problems, the first in this order is its status.
_PRECEDENCE = (abid.STATUS_NO_IMAGE, abid.STATUS_UNREADABLE_IMAGE, abid.STATUS_NO_METADATA,
               abid.STATUS_MALFORMED_METADATA, abid.STATUS_INCONSISTENT)


class ImportWorkerDied(RuntimeError):
    """A process reading the files stopped unexpectedly; what was imported before it is kept."""


@dataclass
class ImportSummary:
    """What an import did, for the progress bar's last line and the GUI's message."""

    scanned: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        parts = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(self.statuses.items()))
        return (f"{self.scanned} ids scanned: {self.added} added, {self.updated} updated, "
                f"{self.unchanged} unchanged, {self.missing} gone" + (f" ({parts})" if parts else ""))


def default_workers() -> int:
    """Worker processes for reading files: one per core, at most MAX_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def _stat(path: str | None) -> tuple[int | None, int | None]:
    if path is None:
        return None, None
    try:
        st = os.stat(path)
        return st.st_mtime_ns, st.st_size
    except OSError:
        return None, None


def _fingerprint(entry: DatasetEntry) -> tuple[Any, ...]:
    """What the store remembers of an id's files, to tell whether they changed since the last import."""
    img_mtime, img_size = _stat(entry.image_file)
    meta_mtime, meta_size = _stat(entry.metadata_file)
    return img_mtime, img_size, meta_mtime, meta_size, entry.image_file, entry.metadata_file


def _item_rows(image_id: str, record: BinRecord) -> list[tuple[Any, ...]]:
    """The record's SKUs as items rows, plain tuples in ImportedItem's field order."""
    rows = []
    for key, sku in record.skus.items():
        row: list[Any] = [image_id, key, sku.asin, sku.name, sku.normalized_name, sku.quantity]
        for measure in (sku.length, sku.width, sku.height, sku.weight):
            row += (None, None) if measure is None else (measure.value, measure.unit)
        rows.append(tuple(row))
    return rows


def examine_entry(entry: DatasetEntry, split: str, imported_at: str) -> tuple[ImportedImage, list[tuple[Any, ...]]]:
    """Turn one id on disk into an images row (with status and reason) and its item rows.

    Each file is opened once; its size and modification time come from that open file.
    """
    if entry.problem:
        return ImportedImage(entry.image_id, None, None, None, None, None, None, None, None, None, None, None,
                             abid.STATUS_UNREADABLE_IMAGE, entry.problem, split, imported_at, None, entry.image_id,
                             None), []
    problems: list[tuple[str, str]] = []
    width = height = img_size = img_mtime = meta_size = meta_mtime = None
    recorded = sku_count = sku_quantity = text = record_key = None
    items: list[tuple[Any, ...]] = []
    if entry.image_file is None:
        problems.append((abid.STATUS_NO_IMAGE, "metadata has no photo"))
    else:
        try:
            stat, head, tail = abid.read_jpeg_ends(entry.image_file)
            img_size, img_mtime = stat.st_size, stat.st_mtime_ns
            width, height = abid.check_jpeg(entry.image_file, img_size, head, tail)
        except OSError as exc:
            problems.append((abid.STATUS_UNREADABLE_IMAGE, f"photo unreadable: cannot read file: {exc.strerror or exc}"))
        except ImageError as exc:
            problems.append((abid.STATUS_UNREADABLE_IMAGE, f"photo unreadable: {exc}"))
    if entry.metadata_file is None:
        problems.append((abid.STATUS_NO_METADATA, "photo has no metadata file"))
    else:
        try:
            stat, data = abid.read_metadata_bytes(entry.metadata_file)
            meta_size, meta_mtime = stat.st_size, stat.st_mtime_ns
            record = abid.parse_metadata(data)
            recorded, sku_count, sku_quantity = record.expected_quantity, len(record.skus), record.sku_quantity_sum
            items = _item_rows(entry.image_id, record)
            text = search_text((sku.name, sku.asin) for sku in record.skus.values())
            record_key = bin_record_key(record)
            if sku_quantity != recorded:
                problems.append((abid.STATUS_INCONSISTENT, record.consistency_problem() or ""))
        except OSError as exc:
            problems.append((abid.STATUS_MALFORMED_METADATA, f"metadata malformed: cannot read file: {exc.strerror or exc}"))
        except MetadataError as exc:
            problems.append((abid.STATUS_MALFORMED_METADATA, f"metadata malformed: {exc}"))
    status, reason = abid.STATUS_OK, None
    if problems:
        problems.sort(key=lambda p: _PRECEDENCE.index(p[0]))
        status, reason = problems[0][0], "; ".join(p[1] for p in problems)
    return ImportedImage(entry.image_id, entry.image_file, entry.metadata_file, width, height, img_size, img_mtime,
                         meta_size, meta_mtime, recorded, sku_count, sku_quantity, status, reason, split,
                         imported_at, record_key, entry.image_id, text), items


def import_dataset(store: Store, root: Path | str, *, ratios: tuple[float, float, float] = DEFAULT_RATIOS,
                   progress: ProgressCallback | None = None, cancel: CancelCallback | None = None,
                   workers: int | None = None) -> ImportSummary:
    """Import (or refresh) the dataset at root into the store; only changed files are re-read.

    Splits follow ratios by bin: photos of one bin (splits.group_bins) share the split of the bin's key.
    workers: processes that read and check files (default: one per core, at most MAX_WORKERS).
    """
    root = Path(root)
    entries = abid.scan_dataset(root)
    known = store.import_fingerprints()
    summary = ImportSummary(scanned=len(entries))
    changed = _changed_entries(entries, known, summary)
    report(progress, summary.unchanged, len(entries))
    done = summary.unchanged
    bulk = len(changed) > BULK_THRESHOLD  # then product names are indexed once at the end, not batch by batch
    if not bulk:
        store.ensure_search_index()  # finishes the index of an interrupted bulk import
    batches = [changed[i:i + BATCH_SIZE] for i in range(0, len(changed), BATCH_SIZE)]
    jobs = [[entry for entry, _ in batch] for batch in batches]
    _remove_orphaned_scratch()
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as scratch, store.rederivable_writes():
        stages = _examine_batches(jobs, ratios, utc_now(), Path(scratch),
                                  default_workers() if workers is None else workers)
        try:
            for batch, stage in zip(batches, stages):
                check_cancel(cancel)
                replacing = [entry.image_id for entry, is_new in batch if not is_new]
                store.merge_import_stage(stage, replacing=replacing, index_text=not bulk)
                stage.unlink()
                summary.added += len(batch) - len(replacing)
                summary.updated += len(replacing)
                done += len(batch)
                report(progress, done, len(entries))
        finally:
            stages.close()  # stops the worker processes, also on cancel
        if bulk:
            store.rebuild_search_index()
    store.regroup_bins(ratios)  # also after a no-op import: it completes the bins of an interrupted one
    _mark_vanished(store, root, known, {e.image_id for e in entries}, summary)
    summary.statuses = store.status_counts()
    return summary


def _changed_entries(entries: list[DatasetEntry], known: dict[str, tuple[Any, ...]],
                     summary: ImportSummary) -> list[tuple[DatasetEntry, bool]]:
    """The entries whose files are new or changed since the last import, each with whether it is new."""
    changed = []
    for entry in entries:
        previous = known.get(entry.image_id)
        if previous is not None and previous == _fingerprint(entry):
            summary.unchanged += 1
        else:
            changed.append((entry, previous is None))
    return changed


def examine_batch(job: list[DatasetEntry], ratios: tuple[float, float, float], imported_at: str, stage: Path) -> Path:
    """Examine one batch of ids and write their rows to a stage file; runs in a worker process."""
    images: list[tuple[Any, ...]] = []
    items: list[tuple[Any, ...]] = []
    choose_split = split_chooser(ratios)
    for entry in job:
        image, image_items = examine_entry(entry, choose_split(entry.image_id), imported_at)
        images.append(tuple(image))  # plain tuples: sqlite3 binds them twice as fast as NamedTuples
        items.extend(image_items)
    write_import_stage(stage, images, items)
    return stage


def _pool_context() -> Any:
    """fork on Linux while no other thread runs (cheap); otherwise spawn (the GUI, macOS, Windows)."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _examine_batches(jobs: list[list[DatasetEntry]], ratios: tuple[float, float, float], imported_at: str,
                     scratch: Path, workers: int) -> Generator[Path, None, None]:
    """Stage files of the batches, in order; with workers > 1 they are made in other processes meanwhile.

    At most two batches per worker are in flight, so memory and scratch space stay flat at any size.
    """
    stage_paths = (scratch / f"batch-{i:06d}.sqlite" for i in range(len(jobs)))
    if workers <= 1 or len(jobs) < 2:
        for job, stage in zip(jobs, stage_paths):
            yield examine_batch(job, ratios, imported_at, stage)
        return
    pool = ProcessPoolExecutor(min(workers, len(jobs)), mp_context=_pool_context())
    try:
        pending = zip(jobs, stage_paths)
        in_flight: deque[Future[Path]] = deque(
            pool.submit(examine_batch, job, ratios, imported_at, stage) for _, (job, stage) in zip(range(2 * workers), pending))
        while in_flight:
            stage = in_flight.popleft().result()
            following = next(pending, None)
            if following is not None:
                in_flight.append(pool.submit(examine_batch, following[0], ratios, imported_at, following[1]))
            yield stage
    except BrokenProcessPool:
        raise ImportWorkerDied(
            "a process reading the dataset stopped unexpectedly (out of memory, or killed); everything imported "
            "before it is kept, and importing again continues from there") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _remove_orphaned_scratch() -> None:
    """Delete the scratch folders that imports killed before their cleanup left in the temp folder."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
        pid = folder.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _process_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or a platform that cannot tell: leave the folder alone
    return True


def _mark_vanished(store: Store, root: Path, known: dict[str, tuple[Any, ...]], present: set[str],
                   summary: ImportSummary) -> None:
    """Images imported from this folder earlier whose files are gone now."""
    prefix = str(root.resolve()) + os.sep
    gone = [i for i, fp in known.items()
            if i not in present and any(p and str(p).startswith(prefix) for p in fp[4:6]) and fp[0] is not None]
    if gone:
        store.mark_missing(gone, "photo no longer found in the dataset folder")
    summary.missing = len(gone)
