"""Exports of audit work: results as CSV/JSON, corrected ABID metadata, an image folder per count.

Every export is written atomically: into a temporary sibling first, then moved into place in one rename,
so a crash or a full disk leaves either the previous export or the new one, never half of one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from binaudit import __version__
from binaudit.core import labels as L
from binaudit.core.kinds import MODEL_KINDS
from binaudit.core.progress import CancelCallback, ProgressCallback, check_cancel, report
from binaudit.core.store import Store

RESULT_FIELDS = ["image_id", "split", "status", "recorded_count", "effective_count", "label_status", "reason",
                 "reviewed_by", "reviewed_at", "resnet_model", "resnet_predicted", "resnet_expected",
                 "svm_model", "svm_predicted", "svm_expected"]


def current_umask() -> int:
    """The process's umask (read from /proc where it can be, without changing it; else set and restored)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_file_atomically(path: Path, data: bytes) -> None:
    """Write bytes to path through a fsynced temporary file and one rename.

    mkstemp makes the file 0600; it gets the mode any new file of the user would get (0666 minus the umask),
    so a colleague who may read the export folder can read the export.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


EXPORT_MARKER = ".binaudit-export"


class ExportError(Exception):
    """An export that would damage something; the message says what to do instead."""


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Yield a temporary folder that replaces path in one rename when the block succeeds.

    Only an empty folder or an earlier binaudit export (it holds EXPORT_MARKER) is ever replaced:
    pointing an export at ~/Documents must not delete ~/Documents.
    """
    path = Path(path)
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not (path / EXPORT_MARKER).exists())):
        raise ExportError(f"{path} already exists and is not an earlier binaudit export; "
                          "choose a new folder name (it will be created).")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes it 0700: the user's normal folder mode instead
    (tmp / EXPORT_MARKER).write_text(f"written by binaudit {__version__}\n")
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _as_unreviewed(row: dict[str, Any]) -> dict[str, Any]:
    """A row whose latest event is a reset (an undone first decision): shown as nobody's review."""
    row.update(label_status=L.RECORDED, reason=None, reviewed_by=None, reviewed_at=None)
    return row


def audit_rows(store: Store, reviewed_only: bool = True,
               image_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per image: recorded and effective label, who decided and when, the active models' predictions.

    An image whose decision was undone back to the recorded count (a "reset" event) is not a review:
    reviewed_only leaves it out, and with every image it reads as unreviewed. image_ids limits the rows
    to those images (e.g. the list as filtered on screen), in id order.
    """
    rows = [r if r["label_status"] != L.RESET else _as_unreviewed(r)
            for r in store.audit_label_rows(reviewed_only)
            if not (reviewed_only and r["label_status"] == L.RESET)]
    if image_ids is not None:
        wanted = set(image_ids)
        rows = [r for r in rows if r["image_id"] in wanted]
    for kind in MODEL_KINDS:
        model = store.active_model(kind)
        preds = {p["image_id"]: p for p in store.predictions(model["id"], [r["image_id"] for r in rows])} if model else {}
        for row in rows:
            pred = preds.get(row["image_id"])
            row[f"{kind}_model"] = model["id"] if model else None
            row[f"{kind}_predicted"] = pred["predicted"] if pred else None
            row[f"{kind}_expected"] = round(pred["expected"], 3) if pred else None
    return rows


def result_columns(columns: Sequence[str] | None) -> list[str]:
    """The columns to write: all of RESULT_FIELDS by default; image_id always comes first; unknown names refused."""
    if not columns:
        return list(RESULT_FIELDS)
    unknown = [c for c in columns if c not in RESULT_FIELDS]
    if unknown:
        raise ExportError(f"unknown column(s) {', '.join(unknown)}; choose from {', '.join(RESULT_FIELDS)}")
    return ["image_id", *dict.fromkeys(c for c in columns if c != "image_id")]


def export_audit_results(store: Store, out: Path, fmt: str | None = None, reviewed_only: bool = True,
                         image_ids: list[str] | None = None, columns: Sequence[str] | None = None) -> int:
    """Write the audit results to out as CSV or JSON (by suffix unless fmt is given); returns the row count.

    reviewed_only / image_ids: which images (see audit_rows); columns: which fields (see result_columns).
    """
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".") or "csv").lower()
    fields = result_columns(columns)
    rows = [{k: row[k] for k in fields} for row in audit_rows(store, reviewed_only, image_ids)]
    if fmt == "json":
        payload = {"exported_by": f"binaudit {__version__}", "label_snapshot": store.label_snapshot(),
                   "columns": fields, "results": rows}
        data = json.dumps(payload, indent=2).encode()
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        data = buffer.getvalue().encode()
    else:
        raise ValueError(f"unknown export format {fmt!r}; use csv or json")
    write_file_atomically(out, data)
    return len(rows)


def corrected_record(original: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """The original ABID record with the audited EXPECTED_QUANTITY and an AUDIT block (image: its images row)."""
    record = dict(original)
    if image["effective_count"] is not None:
        record["EXPECTED_QUANTITY"] = image["effective_count"]
    record["AUDIT"] = {
        "recorded_quantity": original.get("EXPECTED_QUANTITY"), "status": image["label_status"],
        "audited_quantity": image["effective_count"], "reason": image["label_reason"],
        "by": image["reviewed_by"], "at": image["reviewed_at"], "event_id": image["label_event_id"],
        "tool": f"binaudit {__version__}",
    }
    return record


def export_corrected_metadata(store: Store, out: Path, progress: ProgressCallback | None = None,
                              cancel: CancelCallback | None = None) -> int:
    """Write corrected copies of the reviewed images' metadata files to out/metadata/ (originals untouched)."""
    images = [i for i in store.reviewed_images_with_metadata() if i["label_status"] != L.RESET]  # undone: no review
    written = 0
    with atomic_folder(Path(out)) as tmp:
        (tmp / "metadata").mkdir()
        for n, image in enumerate(images, 1):
            check_cancel(cancel)
            try:
                original = json.loads(Path(image["meta_path"]).read_bytes())
            except (OSError, ValueError):
                continue  # unreadable originals cannot be corrected; the results export still lists them
            if not isinstance(original, dict):
                continue
            record = corrected_record(original, image)
            (tmp / "metadata" / f"{image['image_id']}.json").write_text(json.dumps(record, indent=4, sort_keys=True))
            written += 1
            report(progress, n, len(images))
    return written


def export_image_folders(store: Store, out: Path, link: str = "hardlink",
                         progress: ProgressCallback | None = None, cancel: CancelCallback | None = None) -> int:
    """Lay out trainable photos as out/<split>/<count>/<id>.jpg for other training tools."""
    labels = store.training_labels()
    splits = store.image_splits()
    with atomic_folder(Path(out)) as tmp:
        for n, (image_id, path, count) in enumerate(labels, 1):
            check_cancel(cancel)
            target = tmp / splits[image_id] / str(count) / f"{image_id}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            _place(Path(path), target, link)
            report(progress, n, len(labels))
    return len(labels)


def _place(source: Path, target: Path, link: str) -> None:
    if link == "hardlink":
        try:
            os.link(source, target)
            return
        except OSError:
            pass  # another filesystem: fall back to a copy
    if link == "symlink":
        target.symlink_to(source.resolve())
        return
    shutil.copyfile(source, target)
