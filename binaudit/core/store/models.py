"""Models, their predictions and out-of-fold probabilities, and training runs."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from binaudit.core.store.batches import chunks
from binaudit.core.store.database import StoreBase, utc_now


@dataclass(frozen=True)
class PredictionRow:
    """One model's output for one image, as stored."""

    image_id: str
    predicted: int
    probs: Sequence[float]
    expected: float
    confidence: float
    p_differs: float | None = None
    mismatch: float | None = None
    label_issue: float | None = None
    source: str = "model"  # "model": the model scored the photo; "oof": its cross-fitted (out-of-fold) prediction


class ModelsAndRuns(StoreBase):
    """The models, predictions, oof_predictions and runs tables."""

    def register_model(self, *, kind: str, architecture: str, classes: Sequence[int], path: str, sha256: str,
                       metrics: dict[str, Any] | None = None, run_id: int | None = None,
                       label_snapshot: str | None = None, manifest: dict[str, Any] | None = None,
                       name: str | None = None) -> int:
        row = {
            "kind": kind, "architecture": architecture, "classes": json.dumps(list(classes)),
            "path": str(path), "sha256": sha256, "metrics": json.dumps(metrics or {}),
            "run_id": run_id, "label_snapshot": label_snapshot, "manifest": json.dumps(manifest or {}),
            "active": 0, "created_at": utc_now(), "name": name or f"{architecture}",
        }
        with self.write():
            return self._insert("models", row)

    def get_model(self, model_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM models WHERE id = ?", [model_id])
        return _decode_model(rows[0]) if rows else None

    def list_models(self, kind: str | None = None) -> list[dict[str, Any]]:
        if kind:
            rows = self.query("SELECT * FROM models WHERE kind = ? ORDER BY id", [kind])
        else:
            rows = self.query("SELECT * FROM models ORDER BY id")
        return [_decode_model(r) for r in rows]

    def active_model(self, kind: str) -> dict[str, Any] | None:
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
             float(r.expected), float(r.confidence), r.p_differs, r.mismatch, r.label_issue, now, r.source)
            for r in rows
        ]
        with self.write():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO predictions (model_id, image_id, predicted, probs, expected, confidence, "
                "p_differs, mismatch, label_issue, scored_at, source) VALUES (?,?,?,?,?,?,?,?,?,?,?)", values)

    def update_scores(self, model_id: int, scores: Sequence[tuple[str, float | None, float | None, float | None]]) -> None:
        """Rewrite (image_id, p_differs, mismatch, label_issue) for stored predictions, e.g. after relabels."""
        with self.write():
            self.db.conn.executemany(
                "UPDATE predictions SET p_differs = ?, mismatch = ?, label_issue = ? WHERE model_id = ? AND image_id = ?",
                [(p, m, li, model_id, i) for i, p, m, li in scores])

    def scored_image_ids(self, model_id: int) -> set[str]:
        with self._lock:
            return {r[0] for r in self.db.conn.execute("SELECT image_id FROM predictions WHERE model_id = ?", [model_id])}

    def predictions(self, model_id: int, image_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        if image_ids is None:
            rows = self.query("SELECT * FROM predictions WHERE model_id = ? ORDER BY image_id", [model_id])
        else:
            rows = []
            for chunk in chunks(list(image_ids), 900):
                rows += self.query(
                    f"SELECT * FROM predictions WHERE model_id = ? AND image_id IN ({','.join('?' * len(chunk))})",
                    [model_id, *chunk])
        for r in rows:
            r["probs"] = json.loads(r["probs"])
        return rows

    # ------------------------------------------------------------------ out-of-fold probabilities
    def write_oof(self, run_id: int, rows: Sequence[tuple[str, int, Sequence[float]]]) -> None:
        """Store out-of-fold probabilities (image_id, given label, probs) of a cross-validated run."""
        with self.write():
            self.db.conn.execute("DELETE FROM oof_predictions WHERE run_id = ?", [run_id])
            self.db.conn.executemany(
                "INSERT INTO oof_predictions (run_id, image_id, given_label, probs) VALUES (?,?,?,?)",
                [(run_id, i, int(g), json.dumps([round(float(p), 6) for p in probs])) for i, g, probs in rows])

    def latest_oof(self) -> tuple[int | None, list[dict[str, Any]]]:
        """The newest run's out-of-fold probabilities, if any run stored some."""
        run_id = self._scalar("SELECT max(run_id) FROM oof_predictions")
        if run_id is None:
            return None, []
        rows = self.query("SELECT image_id, given_label, probs FROM oof_predictions WHERE run_id = ?", [run_id])
        for r in rows:
            r["probs"] = json.loads(r["probs"])
        return int(run_id), rows

    def run_oof(self, run_id: int) -> dict[str, list[float]]:
        """One run's out-of-fold probabilities by image id (empty when it stored none)."""
        rows = self.query("SELECT image_id, probs FROM oof_predictions WHERE run_id = ?", [run_id])
        return {r["image_id"]: json.loads(r["probs"]) for r in rows}

    # ------------------------------------------------------------------ runs
    def create_run(self, kind: str, config: dict[str, Any], run_dir: str | None = None) -> int:
        row = {"kind": kind, "config": json.dumps(config, sort_keys=True, default=str), "status": "running",
               "started_at": utc_now(), "run_dir": run_dir, "pid": os.getpid()}
        with self.write():
            return self._insert("runs", row)

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

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM runs WHERE id = ?", [run_id])
        return _decode_run(rows[0]) if rows else None

    def list_runs(self) -> list[dict[str, Any]]:
        return [_decode_run(r) for r in self.query("SELECT * FROM runs ORDER BY id")]


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
