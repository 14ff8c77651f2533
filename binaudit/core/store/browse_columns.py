"""The browser's columns for every image, read for numpy in one snapshot (core.browse.BrowseIndex holds them).

Rows come in image-id order (SQLite's BINARY order, the byte order of numpy's "S" arrays), in chunks
read as a few group_concat strings of packed integers that numpy parses in C: Python never builds
a row object per image, so 536,000 rows load in well under a second. Category columns (label status,
import status, split) come back as codes: positions in the value orders the caller passes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from sqlite_utils.utils import sqlite3

from binaudit.core.abid import STATUS_INCONSISTENT
from binaudit.core.store.batches import chunks
from binaudit.core.store.models import ModelsAndRuns

CHUNK = 50_000
_NULL = -999_999_999_999  # a NULL score, scaled to an integer


@dataclass(frozen=True)
class CategoryCodes:
    """The value orders the category columns are coded in (code = position; unknown values get code 0)."""

    label_statuses: Sequence[str]
    statuses: Sequence[str]
    splits: Sequence[str]  # split codes: position, or -1 for none


@dataclass
class ImageColumns:
    """One entry per image, in id order; -1 where a count is unknown."""

    ids: np.ndarray           # "S": UTF-8 image ids
    recorded: np.ndarray      # int32 EXPECTED_QUANTITY
    effective: np.ndarray     # int32 effective label count
    label_status: np.ndarray  # int8 codes
    status: np.ndarray        # int8 codes
    split: np.ndarray         # int8 codes
    event_id: np.ndarray      # int64 latest label event (0: none)

    @classmethod
    def empty(cls) -> ImageColumns:
        return cls(np.zeros(0, "S1"), *(np.zeros(0, t) for t in (np.int32, np.int32, np.int8, np.int8, np.int8,
                                                                  np.int64)))


@dataclass
class PredictionColumns:
    """One model's stored predictions (any order); NaN where a score is NULL."""

    ids: np.ndarray
    predicted: np.ndarray   # int64
    confidence: np.ndarray  # float32
    mismatch: np.ndarray    # float32
    label_issue: np.ndarray  # float32
    probs: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # (N, K) float32
    by_model: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # the model scored it (not 'oof')


@dataclass
class BrowseSnapshot:
    """Everything the browser loads, read in one transaction so images and predictions agree."""

    images: ImageColumns
    labelled: list[tuple[str, str | None, str | None, str | None]]  # (id, reviewed_by, at, reason)
    contradictions: tuple[np.ndarray, np.ndarray]  # ("S" ids, int64 SKU quantity sums) of self-contradicting records
    active: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    predictions: dict[str, PredictionColumns] = field(default_factory=dict)


def _case(column: str, values: Sequence[str], default: int) -> str:
    whens = " ".join(f"WHEN '{v}' THEN {i}" for i, v in enumerate(values))
    return f"CASE {column} {whens} ELSE {default} END"


def _ids(text: str | None, count: int, reread: Callable[[], list[str]]) -> list[bytes]:
    """A group_concat of ids split apart; an id containing the separator makes it read them row by row."""
    ids = (text or "").encode("utf-8").split(b"\x1f") if count else []
    return ids if len(ids) == count else [i.encode("utf-8") for i in reread()]


def _image_ids_after(conn: sqlite3.Connection, after: str) -> list[str]:
    """The next CHUNK image ids after `after`, read row by row (for ids that contain the separator)."""
    return [r[0] for r in conn.execute(
        f"SELECT image_id FROM images WHERE image_id > ? ORDER BY image_id LIMIT {CHUNK}", [after])]


def _scaled(column: np.ndarray) -> np.ndarray:
    """Scores stored as integer millionths back to float32, NaN for NULL."""
    out = column.astype(np.float64) / 1e6
    out[column == _NULL] = np.nan
    return out.astype(np.float32)


class BrowseColumns(ModelsAndRuns):
    """Reads for core.browse: the browse columns of every image (with the active models') and the label columns of a few."""

    def browse_snapshot(self, kinds: Sequence[str], codes: CategoryCodes,
                        progress: Callable[[int, int], None] | None = None,
                        cancel: Callable[[], bool] | None = None) -> BrowseSnapshot:
        """Images, their label details and the active models' predictions, all from one read transaction.

        Use a store whose connection no other thread uses (e.g. one opened read-only for this).
        """
        with self._lock:
            conn = self.db.conn
            conn.execute("BEGIN")  # one read snapshot for images and predictions
            try:
                active = {kind: self.active_model(kind) for kind in kinds}
                snapshot = BrowseSnapshot(self._image_columns(codes, progress, cancel), self._labelled_rows(),
                                          self._contradictions(), active)
                for kind, model in active.items():
                    if model is not None:
                        snapshot.predictions[kind] = self._prediction_columns(int(model["id"]),
                                                                              len(model.get("classes") or ()))
            finally:
                conn.execute("COMMIT")
        return snapshot

    def _image_columns(self, codes: CategoryCodes, progress: Callable[[int, int], None] | None,
                       cancel: Callable[[], bool] | None) -> ImageColumns:
        conn = self.db.conn
        n = int(conn.execute("SELECT count(*) FROM images").fetchone()[0])
        packed = (
            f"(coalesce(recorded_count, -1) + 1) + ((coalesce(effective_count, -1) + 1) << 20) + "
            f"({_case('label_status', codes.label_statuses, 0)} << 40) + "
            f"({_case('status', codes.statuses, 0)} << 44) + (({_case('split', codes.splits, -1)} + 1) << 48)")
        sql = (f"SELECT group_concat(image_id, char(31)), group_concat(packed, ','), group_concat(event, ','), "
               f"count(*), max(image_id) FROM (SELECT image_id, {packed} AS packed, "
               f"coalesce(label_event_id, 0) AS event FROM images WHERE image_id > ? ORDER BY image_id LIMIT {CHUNK})")
        parts: list[ImageColumns] = []
        done, last = 0, ""
        while done < n:
            if cancel is not None and cancel():
                raise InterruptedError("loading the browser was cancelled")
            ids_text, packed_text, events_text, count, last_id = conn.execute(sql, [last]).fetchone()
            if not count:
                break
            count = min(count, n - done)
            ids = _ids(ids_text, count, partial(_image_ids_after, conn, last))
            parts.append(_unpack(ids[:count], np.fromstring(packed_text, sep=",", dtype=np.int64)[:count],
                                 np.fromstring(events_text, sep=",", dtype=np.int64)[:count]))
            done, last = done + count, last_id
            if progress is not None:
                progress(done, n)
        return _concatenate(parts)

    def _labelled_rows(self) -> list[tuple[str, str | None, str | None, str | None]]:
        """Reviewer, time and reason of the images that have label events (usually few)."""
        return [tuple(r) for r in self.db.conn.execute(
            "SELECT image_id, reviewed_by, reviewed_at, label_reason FROM images WHERE label_event_id IS NOT NULL")]

    def _contradictions(self) -> tuple[np.ndarray, np.ndarray]:
        """Ids and SKU quantity sums of the records whose SKU quantities do not add up to their count."""
        rows = self.db.conn.execute("SELECT image_id, sku_quantity FROM images WHERE status = ?",
                                    [STATUS_INCONSISTENT]).fetchall()
        ids = np.array([r[0].encode("utf-8") for r in rows], dtype="S") if rows else np.zeros(0, "S1")
        return ids, np.array([-1 if r[1] is None else r[1] for r in rows], np.int64)

    def _prediction_columns(self, model_id: int, classes: int) -> PredictionColumns:
        """One model's stored predictions in image-id order, its probability vectors (N, classes) among them."""
        q = f"coalesce(CAST(round({{0}} * 1000000) AS INTEGER), {_NULL})"
        sql = (f"SELECT group_concat(image_id, char(31)), group_concat(predicted, ','), "
               f"group_concat({q.format('confidence')}, ','), group_concat({q.format('mismatch')}, ','), "
               f"group_concat({q.format('label_issue')}, ','), group_concat(source = 'model', ','), "
               f"group_concat(substr(probs, 2, length(probs) - 2), ','), "
               f"count(*) FROM (SELECT * FROM predictions WHERE model_id = ? ORDER BY image_id)")
        conn = self.db.conn
        ids_text, *columns, probs_text, count = conn.execute(sql, [model_id]).fetchone()
        ids = _ids(ids_text, count, lambda: [r[0] for r in conn.execute(
            "SELECT image_id FROM predictions WHERE model_id = ? ORDER BY image_id", [model_id])])
        values = [np.fromstring(c or "", sep=",", dtype=np.int64)[:count] for c in columns]
        confidence, mismatch, label_issue = (_scaled(v) for v in values[1:4])
        return PredictionColumns(np.array(ids, dtype="S") if ids else np.zeros(0, "S1"), values[0],
                                 confidence, mismatch, label_issue,
                                 probs=self._probs(model_id, probs_text or "", count, classes),
                                 by_model=values[4].astype(bool))

    def _probs(self, model_id: int, text: str, count: int, classes: int) -> np.ndarray:
        """The probability vectors from their concatenated JSON lists, parsed by numpy in one go; lists of
        another length make it parse them row by row (longer ones cut, shorter ones padded with NaN)."""
        values = np.fromstring(text, sep=",", dtype=np.float32) if count and classes else np.zeros(0, np.float32)
        if values.size == count * classes:
            return values.reshape(count, classes)
        out = np.full((count, classes), np.nan, np.float32)
        rows = self.db.conn.execute("SELECT probs FROM predictions WHERE model_id = ? ORDER BY image_id", [model_id])
        for i, (probs,) in enumerate(rows):
            vector = json.loads(probs)[:classes] if i < count else []
            out[i, :len(vector)] = vector
        return out

    def label_rows(self, image_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The label columns of these images (effective count, status, event, reviewer, time, reason)."""
        rows: list[dict[str, Any]] = []
        for chunk in chunks(list(image_ids), 900):
            rows += self.query(
                "SELECT image_id, effective_count, label_status, label_event_id, reviewed_by, reviewed_at, "
                f"label_reason FROM images WHERE image_id IN ({','.join('?' * len(chunk))})", chunk)
        return rows


def _unpack(ids: list[bytes], values: np.ndarray, events: np.ndarray) -> ImageColumns:
    """One chunk's packed integers as columns (see BrowseColumns._image_columns for the layout)."""
    return ImageColumns(
        ids=np.array(ids, dtype="S") if ids else np.zeros(0, "S1"),
        recorded=((values & 0xFFFFF) - 1).astype(np.int32),
        effective=(((values >> 20) & 0xFFFFF) - 1).astype(np.int32),
        label_status=((values >> 40) & 0xF).astype(np.int8),
        status=((values >> 44) & 0xF).astype(np.int8),
        split=(((values >> 48) & 0xF) - 1).astype(np.int8),
        event_id=events.astype(np.int64))


def _concatenate(parts: list[ImageColumns]) -> ImageColumns:
    if not parts:
        return ImageColumns.empty()
    if len(parts) == 1:
        return parts[0]
    names = ("ids", "recorded", "effective", "label_status", "status", "split", "event_id")
    return ImageColumns(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in names})
