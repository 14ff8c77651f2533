"""The workspace database: one SQLite file (sqlite-utils, WAL, synchronous=FULL), the only module with SQL.

Label events are append-only (triggers refuse UPDATE and DELETE); the label columns of `images`
are a cache of each image's latest event, written in the same transaction as the event.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple, Optional

import sqlite_utils
from sqlite_utils.utils import sqlite3

from binaudit.core import labels as L
from binaudit.core.abid import IMAGE_USABLE_STATUSES
from binaudit.core.labels import EffectiveLabel, LabelEvent, StaleLabelError
from binaudit.core.migrations import MIGRATIONS

class ImportedImage(NamedTuple):
    """One images row as an import writes it (the label columns are the store's own)."""

    image_id: str
    path: Optional[str]
    meta_path: Optional[str]
    width: Optional[int]
    height: Optional[int]
    bytes: Optional[int]
    image_mtime_ns: Optional[int]
    meta_bytes: Optional[int]
    meta_mtime_ns: Optional[int]
    recorded_count: Optional[int]
    sku_count: Optional[int]
    sku_quantity: Optional[int]
    status: str
    reason: Optional[str]
    split: str
    imported_at: Optional[str]
    search_text: Optional[str]  # what full-text search finds the image by: see search_text()


def search_text(names_and_asins: Iterable[tuple[str, str]]) -> str:
    """An image's full-text search document: its SKUs' names and ASINs."""
    return " ".join(f"{name} {asin}" for name, asin in names_and_asins)


class ImportedItem(NamedTuple):
    """One SKU record of an image's metadata, as an items row."""

    image_id: str
    sku_key: str
    asin: str
    name: str
    normalized_name: Optional[str]
    quantity: int
    length: Optional[float]
    length_unit: Optional[str]
    width: Optional[float]
    width_unit: Optional[str]
    height: Optional[float]
    height_unit: Optional[str]
    weight: Optional[float]
    weight_unit: Optional[str]


NO_CHECK = object()  # pass as expected_event_id to skip the stale-label check
BUSY_TIMEOUT_S = 30.0
SQLITE_VERSION: str = sqlite3.sqlite_version


class StoreError(Exception):
    """A workspace database problem with a message meant for the user."""


class ReadOnlyStoreError(StoreError):
    """A write was attempted on a workspace opened read-only."""


def utc_now() -> str:
    """Current time as an ISO-8601 UTC string with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class PredictionRow:
    """One model's output for one image, as stored."""

    image_id: str
    predicted: int
    probs: Sequence[float]
    expected: float
    confidence: float
    p_differs: Optional[float] = None
    mismatch: Optional[float] = None
    label_issue: Optional[float] = None


def _user_message(exc: Exception) -> str:
    text = str(exc)
    if "disk is full" in text or "database or disk is full" in text:
        return "The disk is full: the label was not saved. Free some space and try again; earlier labels are safe."
    if "readonly" in text or "read-only" in text:
        return "The workspace is read-only here: the label was not saved. Open a copy in a writable folder."
    if "disk I/O error" in text:
        return "The disk reported an I/O error: the label was not saved. Earlier labels are safe."
    return f"The workspace database refused the change: {text}"


class Store:
    """A workspace database. Thread-safe: one connection guarded by a lock."""

    NO_CHECK = NO_CHECK

    def __init__(self, path: Path, conn: Any, readonly: bool):
        self.path = Path(path)
        self.readonly = readonly
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: Path | str, readonly: bool = False) -> "Store":
        """Open (creating and migrating if needed) the database at path."""
        path = Path(path)
        if readonly and not path.exists():
            raise StoreError(f"No workspace database at {path}.")
        if not readonly:
            _check_writable_folder(path.parent)
        try:
            conn = _connect(path, readonly)
            store = cls(path, conn, readonly)
            store._configure()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"Cannot open workspace database {path}: {exc}") from exc
        return store

    def _configure(self) -> None:
        conn = self.db.conn
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if not self.readonly:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"Cannot switch {self.path} to WAL mode (got {mode}).")
        # FULL: every commit is fsynced to the WAL, so an acknowledged label survives power loss.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if not self.readonly:
            self._migrate()
        elif self.schema_version() < len(MIGRATIONS):
            raise StoreError(f"{self.path} is not a current binaudit workspace and is opened read-only.")

    def schema_version(self) -> int:
        return int(self.db.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        with self.write():
            current = self.schema_version()
            if current > len(MIGRATIONS):
                raise StoreError(f"{self.path} was written by a newer binaudit (schema {current}).")
            for version, migration in enumerate(MIGRATIONS[current:], start=current + 1):
                migration(self.db)
                self.db.conn.execute(f"PRAGMA user_version = {version}")

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def rederivable_writes(self) -> Iterator[None]:
        """Commits on this connection skip the fsync (synchronous=NORMAL) until the block ends.

        For imports only: a power cut can lose the last imported batches (never corrupt the file,
        and never a label written on another connection), and the next import reads them again.
        """
        with self._lock:
            self.db.conn.execute("PRAGMA synchronous = NORMAL")
            try:
                yield
            finally:
                self.db.conn.execute("PRAGMA synchronous = FULL")

    @contextmanager
    def write(self) -> Iterator[None]:
        """One BEGIN IMMEDIATE transaction; waits for other writers instead of failing."""
        if self.readonly:
            raise ReadOnlyStoreError("This workspace is open read-only; changes cannot be saved.")
        with self._lock:
            conn = self.db.conn
            if conn.in_transaction:  # nested use joins the outer transaction
                yield
                return
            self._begin_immediate()
            try:
                yield
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError) and not isinstance(exc, StoreError):
                    raise StoreError(_user_message(exc)) from exc
                raise

    def _begin_immediate(self) -> None:
        deadline = time.monotonic() + 4 * BUSY_TIMEOUT_S
        while True:
            try:
                self.db.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise StoreError(_user_message(exc)) from exc
                if time.monotonic() > deadline:
                    raise StoreError("Another program has held the workspace for minutes; try again.") from exc
                time.sleep(0.05)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self.db.conn.execute(sql, params)
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            row = self.db.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------------ images and items
    IMAGE_IMPORT_COLUMNS = ImportedImage._fields
    ITEM_COLUMNS = ImportedItem._fields

    def upsert_images(self, rows: list[dict[str, Any]], items: dict[str, list[dict[str, Any]]],
                      index_text: bool = True) -> None:
        """Insert or update image rows given as dicts (missing columns are NULL); see write_imported.

        A row without search_text is found by the names and ASINs of its items.
        """
        def text(row: dict[str, Any]) -> Optional[str]:
            own = items.get(row["image_id"])
            return search_text((i.get("name") or "", i.get("asin") or "") for i in own) if own else None

        images = [ImportedImage(*(r.get(c) for c in self.IMAGE_IMPORT_COLUMNS[:-1]), r.get("search_text") or text(r))
                  for r in rows]
        item_rows = [ImportedItem(*(item.get(c) for c in self.ITEM_COLUMNS))
                     for r in rows for item in items.get(r["image_id"], [])]
        with self.write():
            self.write_imported(images, item_rows, replacing=self._known_ids([r["image_id"] for r in rows]),
                                index_text=index_text)

    def _known_ids(self, image_ids: list[str]) -> list[str]:
        known = []
        for chunk in _chunks(image_ids, 500):
            rows = self.db.conn.execute(
                f"SELECT image_id FROM images WHERE image_id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            known += [r[0] for r in rows]
        return known

    def write_imported(self, images: Sequence[ImportedImage], items: Sequence[ImportedItem], *,
                       replacing: Sequence[str] = (), index_text: bool = True) -> None:
        """Insert or update image rows (keyed by image_id) and their SKU items in one transaction; labels are kept.

        replacing: ids that may already have items, which are deleted first. index_text=False leaves
        the full-text index to one `rebuild_search_index()` after a bulk import.
        """
        if not images:
            return
        ids = [image[0] for image in images]
        with self.write():
            self._delete_items(replacing, index_text)
            recorded = self.IMAGE_IMPORT_COLUMNS.index("recorded_count") + 1  # ?NNN reuses that parameter
            marks = ", ".join("?" * len(self.IMAGE_IMPORT_COLUMNS))
            self.db.conn.executemany(self._upsert_image_sql(f"VALUES ({marks}, ?{recorded})"), images)
            self.db.conn.executemany(f"INSERT INTO items ({', '.join(self.ITEM_COLUMNS)}) "
                                     f"VALUES ({', '.join('?' * len(self.ITEM_COLUMNS))})", items)
            if index_text:
                for chunk in _chunks(ids, 500):
                    self._index_images(f"IN ({','.join('?' * len(chunk))})", chunk)

    def merge_import_stage(self, stage: Path, *, replacing: Sequence[str] = (), index_text: bool = True) -> None:
        """Copy the rows of a stage file (see write_import_stage) into the store, as write_imported would.

        The copy runs inside SQLite, so this process spends no Python time per row.
        """
        conn = self.db.conn
        with self._lock:
            conn.execute("ATTACH DATABASE ? AS stage", [str(stage)])
            try:
                with self.write():
                    self._delete_items(replacing, index_text)
                    cols = ", ".join(self.IMAGE_IMPORT_COLUMNS)
                    conn.execute(self._upsert_image_sql(f"SELECT {cols}, recorded_count FROM stage.images WHERE true"))
                    item_cols = ", ".join(self.ITEM_COLUMNS)
                    conn.execute(f"INSERT INTO items ({item_cols}) SELECT {item_cols} FROM stage.items ORDER BY rowid")
                    if index_text:
                        self._index_images("IN (SELECT image_id FROM stage.images)")
            finally:
                conn.execute("DETACH DATABASE stage")

    def _upsert_image_sql(self, source: str) -> str:
        """INSERT of the import columns plus effective_count from source (VALUES or SELECT).

        A new image starts with its recorded count as its effective label; a known one keeps its label.
        """
        cols = self.IMAGE_IMPORT_COLUMNS
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
        return (f"INSERT INTO images ({', '.join(cols)}, effective_count) {source} "
                f"ON CONFLICT(image_id) DO UPDATE SET {updates}, effective_count = CASE "
                f"WHEN label_status IN ('{L.RECORDED}', '{L.RESET}') THEN excluded.recorded_count "
                f"ELSE effective_count END")

    def _delete_items(self, image_ids: Sequence[str], index_text: bool) -> None:
        """Drop these images' items and, with index_text, their current search documents."""
        for chunk in _chunks(list(image_ids), 500):
            marks = ",".join("?" * len(chunk))
            if index_text:
                self.db.conn.execute("INSERT INTO images_fts(images_fts, rowid, search_text) "
                                     f"SELECT 'delete', rowid, search_text FROM images WHERE image_id IN ({marks})", chunk)
            self.db.conn.execute(f"DELETE FROM items WHERE image_id IN ({marks})", chunk)

    def _index_images(self, id_condition: str, params: Sequence[Any] = ()) -> None:
        self.db.conn.execute("INSERT INTO images_fts(rowid, search_text) "
                             f"SELECT rowid, search_text FROM images WHERE image_id {id_condition}", params)

    def import_fingerprints(self) -> dict[str, tuple[Any, ...]]:
        """image_id -> (image mtime_ns, image size, metadata mtime_ns, metadata size, path, metadata path)."""
        with self._lock:
            rows = self.db.conn.execute(
                "SELECT image_id, image_mtime_ns, bytes, meta_mtime_ns, meta_bytes, path, meta_path FROM images"
            ).fetchall()
        return {r[0]: tuple(r[1:]) for r in rows}

    def mark_missing(self, image_ids: Iterable[str], reason: str) -> None:
        """Mark images whose files disappeared since the last import (their labels stay)."""
        ids = list(image_ids)
        with self.write():
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                self.db.conn.execute(
                    f"UPDATE images SET status = 'no_image', reason = ?, image_mtime_ns = NULL "
                    f"WHERE image_id IN ({marks})", [reason, *chunk])

    def get_image(self, image_id: str) -> Optional[dict[str, Any]]:
        rows = self.query("SELECT * FROM images WHERE image_id = ?", [image_id])
        return rows[0] if rows else None

    def image_ids(self, split: Optional[str] = None, status: Optional[str | Sequence[str]] = "ok") -> list[str]:
        """Ids in id order, optionally restricted to a split and status(es)."""
        where, params = [], []
        if split:
            where.append("split = ?")
            params.append(split)
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            params.extend(statuses)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return [r["image_id"] for r in self.query(f"SELECT image_id FROM images {clause} ORDER BY image_id", params)]

    def image_paths(self, image_ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in _chunks(list(image_ids), 900):
            rows = self.query(f"SELECT image_id, path FROM images WHERE image_id IN ({','.join('?' * len(chunk))})", chunk)
            out.update({r["image_id"]: r["path"] for r in rows})
        return out

    def label_columns(self, image_ids: Sequence[str]) -> dict[str, tuple[Optional[int], Optional[int], str]]:
        """image_id -> (recorded count, effective count, label status), read in bulk."""
        out: dict[str, tuple[Optional[int], Optional[int], str]] = {}
        with self._lock:
            for chunk in _chunks(list(image_ids), 900):
                for row in self.db.conn.execute(
                        "SELECT image_id, recorded_count, effective_count, label_status FROM images "
                        f"WHERE image_id IN ({','.join('?' * len(chunk))})", chunk):
                    out[row[0]] = (row[1], row[2], row[3])
        return out

    def count_images(self, status: Optional[str] = None, split: Optional[str] = None) -> int:
        where, params = [], []
        if status:
            where.append("status = ?")
            params.append(status)
        if split:
            where.append("split = ?")
            params.append(split)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return int(self._scalar(f"SELECT count(*) FROM images {clause}", params))

    def status_counts(self) -> dict[str, int]:
        return {r["status"]: r["n"] for r in self.query("SELECT status, count(*) AS n FROM images GROUP BY status")}

    def items_for_image(self, image_id: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM items WHERE image_id = ? ORDER BY id", [image_id])

    def search_items(self, text: str, limit: Optional[int] = None) -> list[str]:
        """Image ids whose SKU names or ASINs contain every word of text (prefix match per word)."""
        words = [w for w in "".join(c if c.isalnum() else " " for c in text).split() if w]
        if not words:
            return []
        fts_query = " ".join(f'"{w}"*' for w in words)
        sql = ("SELECT images.image_id FROM images_fts JOIN images ON images.rowid = images_fts.rowid "
               "WHERE images_fts MATCH ? ORDER BY images.image_id")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [r["image_id"] for r in self.query(sql, [fts_query])]

    # ------------------------------------------------------------------ labels
    def effective_label(self, image_id: str) -> EffectiveLabel:
        rows = self.query(
            "SELECT effective_count, label_status, label_event_id, reviewed_by, reviewed_at, label_reason "
            "FROM images WHERE image_id = ?", [image_id])
        if not rows:
            raise KeyError(f"no image {image_id!r} in this workspace")
        r = rows[0]
        return EffectiveLabel(image_id, r["effective_count"], r["label_status"], r["label_event_id"],
                              r["reviewed_by"], r["reviewed_at"], r["label_reason"])

    def record_label(self, image_id: str, *, user: str, status: str, count: Optional[int] = None,
                     reason: Optional[str] = None, expected_event_id: Any = NO_CHECK,
                     predictions: Optional[dict[str, Any]] = None, action: str = "label") -> LabelEvent:
        """Append one label event and update the image's effective label, atomically.

        Raises StaleLabelError, writing nothing, when the image's latest event is not expected_event_id.
        """
        L.validate_event(status, count, reason)
        if not user or not user.strip():
            raise ValueError("a label needs the name of the person who made it")
        with self.write():
            current = self.effective_label(image_id)
            if expected_event_id is not NO_CHECK and current.event_id != expected_event_id:
                raise StaleLabelError(image_id, expected_event_id, current)
            recorded = self._scalar("SELECT recorded_count FROM images WHERE image_id = ?", [image_id])
            effective = recorded if status == L.RESET else (count if status in (L.CONFIRMED, L.CORRECTED) else None)
            event = {
                "image_id": image_id, "user": user.strip(), "at": utc_now(), "action": action,
                "status": status, "count": count if status in (L.CONFIRMED, L.CORRECTED) else None,
                "reason": reason, "previous_event_id": current.event_id,
                "previous_status": current.status, "previous_count": current.count,
                "predictions": json.dumps(predictions, sort_keys=True) if predictions else None,
            }
            cursor = self.db.conn.execute(
                f"INSERT INTO label_events ({', '.join(event)}) VALUES ({', '.join('?' * len(event))})",
                list(event.values()))
            event_id = int(cursor.lastrowid)
            self.db.conn.execute(
                "UPDATE images SET effective_count = ?, label_status = ?, label_event_id = ?, "
                "reviewed_by = ?, reviewed_at = ?, label_reason = ? WHERE image_id = ?",
                [effective, status, event_id, event["user"], event["at"], reason, image_id])
        return _event_from_row({**event, "id": event_id})

    def get_event(self, event_id: int) -> Optional[LabelEvent]:
        rows = self.query("SELECT * FROM label_events WHERE id = ?", [event_id])
        return _event_from_row(rows[0]) if rows else None

    def label_history(self, image_id: str) -> list[LabelEvent]:
        rows = self.query("SELECT * FROM label_events WHERE image_id = ? ORDER BY id", [image_id])
        return [_event_from_row(r) for r in rows]

    def events_since(self, event_id: int) -> list[LabelEvent]:
        """Events appended after event_id (how an open window learns of other auditors' changes)."""
        return [_event_from_row(r) for r in self.query("SELECT * FROM label_events WHERE id > ? ORDER BY id", [event_id])]

    def event_count(self) -> int:
        return int(self._scalar("SELECT count(*) FROM label_events"))

    def last_event_id(self) -> int:
        return int(self._scalar("SELECT coalesce(max(id), 0) FROM label_events"))

    def training_labels(self, split: Optional[str] = None) -> list[tuple[str, str, int]]:
        """(image_id, path, count) for every image that can be trained on under the effective labels."""
        usable = ",".join(f"'{s}'" for s in IMAGE_USABLE_STATUSES)
        blocked = ",".join(f"'{s}'" for s in L.NOT_TRAINABLE)
        sql = (f"SELECT image_id, path, effective_count FROM images WHERE status IN ({usable}) "
               f"AND effective_count IS NOT NULL AND label_status NOT IN ({blocked}) AND path IS NOT NULL")
        params: list[Any] = []
        if split:
            sql += " AND split = ?"
            params.append(split)
        with self._lock:
            return [(r[0], r[1], int(r[2])) for r in self.db.conn.execute(sql + " ORDER BY image_id", params)]

    def label_snapshot(self) -> str:
        """A short identifier of the current effective labels: "<last event id>:<hash>"."""
        digest = hashlib.sha256()
        with self._lock:
            for row in self.db.conn.execute(
                    "SELECT image_id, effective_count, label_status FROM images ORDER BY image_id"):
                digest.update(f"{row[0]}\t{row[1]}\t{row[2]}\n".encode())
        return f"{self.last_event_id()}:{digest.hexdigest()[:16]}"

    # ------------------------------------------------------------------ models
    def register_model(self, *, kind: str, architecture: str, classes: Sequence[int], path: str, sha256: str,
                       metrics: Optional[dict[str, Any]] = None, run_id: Optional[int] = None,
                       label_snapshot: Optional[str] = None, manifest: Optional[dict[str, Any]] = None,
                       name: Optional[str] = None) -> int:
        row = {
            "kind": kind, "architecture": architecture, "classes": json.dumps(list(classes)),
            "path": str(path), "sha256": sha256, "metrics": json.dumps(metrics or {}),
            "run_id": run_id, "label_snapshot": label_snapshot, "manifest": json.dumps(manifest or {}),
            "active": 0, "created_at": utc_now(), "name": name or f"{architecture}",
        }
        with self.write():
            cursor = self.db.conn.execute(
                f"INSERT INTO models ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
            return int(cursor.lastrowid)

    def get_model(self, model_id: int) -> Optional[dict[str, Any]]:
        rows = self.query("SELECT * FROM models WHERE id = ?", [model_id])
        return _decode_model(rows[0]) if rows else None

    def list_models(self, kind: Optional[str] = None) -> list[dict[str, Any]]:
        if kind:
            rows = self.query("SELECT * FROM models WHERE kind = ? ORDER BY id", [kind])
        else:
            rows = self.query("SELECT * FROM models ORDER BY id")
        return [_decode_model(r) for r in rows]

    def active_model(self, kind: str) -> Optional[dict[str, Any]]:
        rows = self.query("SELECT * FROM models WHERE kind = ? AND active = 1", [kind])
        return _decode_model(rows[0]) if rows else None

    def activate_model(self, model_id: int) -> None:
        """Make this model the active one of its kind (one active model per kind)."""
        with self.write():
            kind = self._scalar("SELECT kind FROM models WHERE id = ?", [model_id])
            if kind is None:
                raise KeyError(f"no model {model_id}")
            self.db.conn.execute("UPDATE models SET active = 0 WHERE kind = ? AND active = 1", [kind])
            self.db.conn.execute("UPDATE models SET active = 1 WHERE id = ?", [model_id])

    # ------------------------------------------------------------------ predictions
    def write_predictions(self, model_id: int, rows: Sequence[PredictionRow]) -> None:
        now = utc_now()
        values = [
            (model_id, r.image_id, int(r.predicted), json.dumps([round(float(p), 6) for p in r.probs]),
             float(r.expected), float(r.confidence), r.p_differs, r.mismatch, r.label_issue, now)
            for r in rows
        ]
        with self.write():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO predictions (model_id, image_id, predicted, probs, expected, confidence, "
                "p_differs, mismatch, label_issue, scored_at) VALUES (?,?,?,?,?,?,?,?,?,?)", values)

    def update_scores(self, model_id: int, scores: Sequence[tuple[str, Optional[float], Optional[float], Optional[float]]]) -> None:
        """Rewrite (image_id, p_differs, mismatch, label_issue) for stored predictions, e.g. after relabels."""
        with self.write():
            self.db.conn.executemany(
                "UPDATE predictions SET p_differs = ?, mismatch = ?, label_issue = ? WHERE model_id = ? AND image_id = ?",
                [(p, m, li, model_id, i) for i, p, m, li in scores])

    def scored_image_ids(self, model_id: int) -> set[str]:
        with self._lock:
            return {r[0] for r in self.db.conn.execute("SELECT image_id FROM predictions WHERE model_id = ?", [model_id])}

    def predictions(self, model_id: int, image_ids: Optional[Sequence[str]] = None) -> list[dict[str, Any]]:
        if image_ids is None:
            rows = self.query("SELECT * FROM predictions WHERE model_id = ? ORDER BY image_id", [model_id])
        else:
            rows = []
            for chunk in _chunks(list(image_ids), 900):
                rows += self.query(
                    f"SELECT * FROM predictions WHERE model_id = ? AND image_id IN ({','.join('?' * len(chunk))})",
                    [model_id, *chunk])
        for r in rows:
            r["probs"] = json.loads(r["probs"])
        return rows

    def delete_predictions(self, model_id: int) -> None:
        with self.write():
            self.db.conn.execute("DELETE FROM predictions WHERE model_id = ?", [model_id])

    # ------------------------------------------------------------------ out-of-fold probabilities
    def write_oof(self, run_id: int, rows: Sequence[tuple[str, int, Sequence[float]]]) -> None:
        """Store out-of-fold probabilities (image_id, given label, probs) of a cross-validated run."""
        with self.write():
            self.db.conn.execute("DELETE FROM oof_predictions WHERE run_id = ?", [run_id])
            self.db.conn.executemany(
                "INSERT INTO oof_predictions (run_id, image_id, given_label, probs) VALUES (?,?,?,?)",
                [(run_id, i, int(g), json.dumps([round(float(p), 6) for p in probs])) for i, g, probs in rows])

    def latest_oof(self) -> tuple[Optional[int], list[dict[str, Any]]]:
        """The newest run's out-of-fold probabilities, if any run stored some."""
        run_id = self._scalar("SELECT max(run_id) FROM oof_predictions")
        if run_id is None:
            return None, []
        rows = self.query("SELECT image_id, given_label, probs FROM oof_predictions WHERE run_id = ?", [run_id])
        for r in rows:
            r["probs"] = json.loads(r["probs"])
        return int(run_id), rows

    # ------------------------------------------------------------------ runs
    def create_run(self, kind: str, config: dict[str, Any], run_dir: Optional[str] = None) -> int:
        row = {"kind": kind, "config": json.dumps(config, sort_keys=True, default=str), "status": "running",
               "started_at": utc_now(), "run_dir": run_dir, "pid": os.getpid()}
        with self.write():
            cursor = self.db.conn.execute(
                f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
            return int(cursor.lastrowid)

    def update_run(self, run_id: int, **fields: Any) -> None:
        allowed = {"status", "metrics", "log", "model_id", "finished_at", "label_snapshot", "run_dir", "reason"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown run fields: {sorted(unknown)}")
        values = {k: (json.dumps(v, default=str) if k == "metrics" and not isinstance(v, str) else v)
                  for k, v in fields.items()}
        with self.write():
            sets = ", ".join(f"{k} = ?" for k in values)
            self.db.conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", [*values.values(), run_id])

    def get_run(self, run_id: int) -> Optional[dict[str, Any]]:
        rows = self.query("SELECT * FROM runs WHERE id = ?", [run_id])
        return _decode_run(rows[0]) if rows else None

    def list_runs(self) -> list[dict[str, Any]]:
        return [_decode_run(r) for r in self.query("SELECT * FROM runs ORDER BY id")]

    # ------------------------------------------------------------------ housekeeping
    def integrity_check(self) -> str:
        return str(self._scalar("PRAGMA integrity_check"))

    def rebuild_search_index(self) -> None:
        with self.write():
            self.db.conn.execute("INSERT INTO images_fts(images_fts) VALUES ('rebuild')")

    def search_index_consistent(self) -> bool:
        """Whether the full-text index holds exactly the images' current search texts (FTS5's own check)."""
        try:
            with self._lock:
                self.db.conn.execute("INSERT INTO images_fts(images_fts, rank) VALUES ('integrity-check', 1)")
            return True
        except sqlite3.DatabaseError:
            return False

    def search_index_complete(self) -> bool:
        """Whether every image is in the full-text index (false after an interrupted bulk import)."""
        return self._scalar("SELECT count(*) FROM images") == self._scalar("SELECT count(*) FROM images_fts_docsize")

    def ensure_search_index(self) -> None:
        if not self.search_index_complete():
            self.rebuild_search_index()


def write_import_stage(path: Path, images: Sequence[tuple[Any, ...]], items: Sequence[tuple[Any, ...]]) -> None:
    """Write import rows to a fresh scratch database that Store.merge_import_stage copies from.

    Import workers call this in their own processes, so turning rows into SQLite records happens
    in parallel; the file is scratch (no journal, no fsync) and is deleted after the merge.
    """
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        conn.execute(f"CREATE TABLE images ({', '.join(ImportedImage._fields)})")
        conn.execute(f"CREATE TABLE items ({', '.join(ImportedItem._fields)})")
        conn.executemany(f"INSERT INTO images VALUES ({', '.join('?' * len(ImportedImage._fields))})", images)
        conn.executemany(f"INSERT INTO items VALUES ({', '.join('?' * len(ImportedItem._fields))})", items)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _check_writable_folder(folder: Path) -> None:
    """Refuse early, with a clear message, a workspace whose folder cannot take the database's journal files."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".binaudit-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ReadOnlyStoreError(
            f"The workspace folder {folder} is not writable ({exc.strerror or exc}). "
            "Open it read-only to browse, or copy the workspace to a writable folder to label.") from exc


def _connect(path: Path, readonly: bool) -> Any:
    options = dict(timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
    if not readonly:
        return sqlite3.connect(str(path), **options)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, **options)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        # A WAL database in a read-only folder cannot create its -shm file; read it as immutable.
        return sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True, **options)


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _event_from_row(row: dict[str, Any]) -> LabelEvent:
    predictions = row.get("predictions")
    return LabelEvent(
        id=int(row["id"]), image_id=row["image_id"], user=row["user"], at=row["at"], action=row["action"],
        status=row["status"], count=row["count"], reason=row["reason"],
        previous_event_id=row["previous_event_id"], previous_status=row["previous_status"],
        previous_count=row["previous_count"],
        predictions=json.loads(predictions) if isinstance(predictions, str) else predictions,
    )


def _decode_model(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("classes", "metrics", "manifest"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    row["active"] = bool(row["active"])
    return row


def _decode_run(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("config", "metrics"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row
