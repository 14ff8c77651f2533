"""Images, their SKU items and full-text search: what an import writes and the browser reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from sqlite_utils.utils import sqlite3

from binaudit.core import labels as L
from binaudit.core.splits import record_key, split_chooser
from binaudit.core.store.batches import chunks
from binaudit.core.store.bins import regroup_bins
from binaudit.core.store.database import StoreBase


class ImportedImage(NamedTuple):
    """One images row as an import writes it (the label columns are the store's own)."""

    image_id: str
    path: str | None
    meta_path: str | None
    width: int | None
    height: int | None
    bytes: int | None
    image_mtime_ns: int | None
    meta_bytes: int | None
    meta_mtime_ns: int | None
    recorded_count: int | None
    sku_count: int | None
    sku_quantity: int | None
    status: str
    reason: str | None
    split: str
    imported_at: str | None
    record_key: str | None  # a digest of the record's contents: splits.record_key
    bin_key: str | None  # smallest id among this bin's photos (an import writes its own id; regroup_bins joins)
    search_text: str | None  # what full-text search finds the image by: see search_text()


def search_text(names_and_asins: Iterable[tuple[str, str]]) -> str:
    """An image's full-text search document: its SKUs' names and ASINs."""
    return " ".join(f"{name} {asin}" for name, asin in names_and_asins)


class ImportedItem(NamedTuple):
    """One SKU record of an image's metadata, as an items row."""

    image_id: str
    sku_key: str
    asin: str
    name: str
    normalized_name: str | None
    quantity: int
    length: float | None
    length_unit: str | None
    width: float | None
    width_unit: str | None
    height: float | None
    height_unit: str | None
    weight: float | None
    weight_unit: str | None




class ImageTables(StoreBase):
    """The images and items tables and the search index over them."""

    IMAGE_IMPORT_COLUMNS = ImportedImage._fields
    ITEM_COLUMNS = ImportedItem._fields

    def upsert_images(self, rows: list[dict[str, Any]], items: dict[str, list[dict[str, Any]]],
                      index_text: bool = True) -> None:
        """Insert or update image rows given as dicts (missing columns are NULL); see write_imported.

        A row without search_text is found by the names and ASINs of its items; the caller's split is
        kept, and each row is a bin of its own unless it gives bin_key.
        """
        def text(row: dict[str, Any]) -> str | None:
            own = items.get(row["image_id"])
            return search_text((i.get("name") or "", i.get("asin") or "") for i in own) if own else None

        def key(row: dict[str, Any]) -> str | None:
            skus = [(i.get("sku_key") or "", i.get("asin") or "", i.get("quantity") or 0)
                    for i in items.get(row["image_id"], [])]
            return record_key(row.get("recorded_count"), skus)

        images = [ImportedImage._make([*(r.get(c) for c in self.IMAGE_IMPORT_COLUMNS[:-3]), key(r),
                                       r.get("bin_key") or r["image_id"], r.get("search_text") or text(r)])
                  for r in rows]
        item_rows = [ImportedItem._make(item.get(c) for c in self.ITEM_COLUMNS)
                     for r in rows for item in items.get(r["image_id"], [])]
        with self.write():
            self.write_imported(images, item_rows, replacing=self._known_ids([r["image_id"] for r in rows]),
                                index_text=index_text)

    def _known_ids(self, image_ids: list[str]) -> list[str]:
        known = []
        for chunk in chunks(image_ids, 500):
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
                for chunk in chunks(ids, 500):
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
        for chunk in chunks(list(image_ids), 500):
            marks = ",".join("?" * len(chunk))
            if index_text:
                self.db.conn.execute("INSERT INTO images_fts(images_fts, rowid, search_text) "
                                     f"SELECT 'delete', rowid, search_text FROM images WHERE image_id IN ({marks})", chunk)
            self.db.conn.execute(f"DELETE FROM items WHERE image_id IN ({marks})", chunk)

    def _index_images(self, id_condition: str, params: Sequence[Any] = ()) -> None:
        self.db.conn.execute("INSERT INTO images_fts(rowid, search_text) "
                             f"SELECT rowid, search_text FROM images WHERE image_id {id_condition}", params)

    def regroup_bins(self, ratios: tuple[float, float, float]) -> int:
        """Join the photos of each bin and give them one split (see bins.regroup_bins); returns images moved."""
        choose = split_chooser(ratios)
        with self.write():
            return regroup_bins(self.db.conn, choose)

    def bin_keys(self) -> dict[str, str]:
        """image_id -> the key of its bin (its own id when no other photo shows the bin)."""
        with self._lock:
            return {r[0]: r[1] or r[0] for r in self.db.conn.execute("SELECT image_id, bin_key FROM images")}

    def image_splits(self) -> dict[str, str]:
        """image_id -> its split, for every image."""
        return {r["image_id"]: r["split"] for r in self.query("SELECT image_id, split FROM images")}

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
            for chunk in chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                self.db.conn.execute(
                    f"UPDATE images SET status = 'no_image', reason = ?, image_mtime_ns = NULL "
                    f"WHERE image_id IN ({marks})", [reason, *chunk])

    def get_image(self, image_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM images WHERE image_id = ?", [image_id])
        return rows[0] if rows else None

    def image_ids(self, split: str | None = None, status: str | Sequence[str] | None = "ok") -> list[str]:
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

    def any_image_path(self) -> str | None:
        """One photo path of the workspace (None when it has none): which dataset it was imported from."""
        rows = self.query("SELECT path FROM images WHERE path IS NOT NULL LIMIT 1")
        return str(rows[0]["path"]) if rows else None

    def image_paths(self, image_ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in chunks(list(image_ids), 900):
            rows = self.query(f"SELECT image_id, path FROM images WHERE image_id IN ({','.join('?' * len(chunk))})", chunk)
            out.update({r["image_id"]: r["path"] for r in rows})
        return out

    def label_columns(self, image_ids: Sequence[str]) -> dict[str, tuple[int | None, int | None, str]]:
        """image_id -> (recorded count, effective count, label status), read in bulk."""
        out: dict[str, tuple[int | None, int | None, str]] = {}
        with self._lock:
            for chunk in chunks(list(image_ids), 900):
                for row in self.db.conn.execute(
                        "SELECT image_id, recorded_count, effective_count, label_status FROM images "
                        f"WHERE image_id IN ({','.join('?' * len(chunk))})", chunk):
                    out[row[0]] = (row[1], row[2], row[3])
        return out

    def count_images(self, status: str | None = None, split: str | None = None) -> int:
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

    def search_items(self, text: str, limit: int | None = None) -> list[str]:
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
