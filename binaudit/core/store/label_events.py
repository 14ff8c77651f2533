"""Label events: the append-only history of every decision, and the effective label cached in images."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from binaudit.core import labels as L
from binaudit.core.abid import IMAGE_USABLE_STATUSES
from binaudit.core.labels import EffectiveLabel, LabelEvent, StaleLabelError
from binaudit.core.store.database import StoreBase, utc_now

NO_CHECK = object()  # pass as expected_event_id to skip the stale-label check


class LabelEvents(StoreBase):
    """Recording labels (stale edits refused) and reading them back."""

    NO_CHECK = NO_CHECK

    def effective_label(self, image_id: str) -> EffectiveLabel:
        rows = self.query(
            "SELECT effective_count, label_status, label_event_id, reviewed_by, reviewed_at, label_reason "
            "FROM images WHERE image_id = ?", [image_id])
        if not rows:
            raise KeyError(f"no image {image_id!r} in this workspace")
        r = rows[0]
        return EffectiveLabel(image_id, r["effective_count"], r["label_status"], r["label_event_id"],
                              r["reviewed_by"], r["reviewed_at"], r["label_reason"])

    def record_label(self, image_id: str, *, user: str, status: str, count: int | None = None,
                     reason: str | None = None, expected_event_id: Any = NO_CHECK,
                     predictions: dict[str, Any] | None = None, action: str = "label") -> LabelEvent:
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
            event_id = self._insert("label_events", event)
            self.db.conn.execute(
                "UPDATE images SET effective_count = ?, label_status = ?, label_event_id = ?, "
                "reviewed_by = ?, reviewed_at = ?, label_reason = ? WHERE image_id = ?",
                [effective, status, event_id, event["user"], event["at"], reason, image_id])
        return _event_from_row({**event, "id": event_id})

    def get_event(self, event_id: int) -> LabelEvent | None:
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

    def training_labels(self, split: str | None = None) -> list[tuple[str, str, int]]:
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

    def audit_label_rows(self, reviewed_only: bool = True) -> list[dict[str, Any]]:
        """Each image's split, status, recorded and effective count, label, who decided and when, in id order."""
        return self.query(
            "SELECT image_id, split, status, recorded_count, effective_count, label_status, label_reason AS reason, "
            "reviewed_by, reviewed_at FROM images"
            + (" WHERE label_event_id IS NOT NULL" if reviewed_only else "") + " ORDER BY image_id")

    def reviewed_images_with_metadata(self) -> list[dict[str, Any]]:
        """Whole image rows of the reviewed images that have a metadata file, in id order."""
        return self.query("SELECT * FROM images WHERE label_event_id IS NOT NULL AND meta_path IS NOT NULL "
                          "ORDER BY image_id")

    def label_snapshot(self) -> str:
        """A short identifier of the current effective labels: "<last event id>:<hash>"."""
        digest = hashlib.sha256()
        with self._lock:
            for row in self.db.conn.execute(
                    "SELECT image_id, effective_count, label_status FROM images ORDER BY image_id"):
                digest.update(f"{row[0]}\t{row[1]}\t{row[2]}\n".encode())
        return f"{self.last_event_id()}:{digest.hexdigest()[:16]}"


def _event_from_row(row: dict[str, Any]) -> LabelEvent:
    predictions = row.get("predictions")
    return LabelEvent(
        id=int(row["id"]), image_id=row["image_id"], user=row["user"], at=row["at"], action=row["action"],
        status=row["status"], count=row["count"], reason=row["reason"],
        previous_event_id=row["previous_event_id"], previous_status=row["previous_status"],
        previous_count=row["previous_count"],
        predictions=json.loads(predictions) if isinstance(predictions, str) else predictions,
    )
