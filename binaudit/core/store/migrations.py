"""Schema migrations of the workspace database, applied in order; PRAGMA user_version counts them."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from binaudit.core.store.bins import fill_bins_from_items

FTS_COLUMNS = ["name", "normalized_name", "asin"]  # schema v1's per-item index, replaced in v2
# v2: one search document per image (its SKU names and ASINs), kept in images.search_text.
SEARCH_INDEX_DDL = "CREATE VIRTUAL TABLE images_fts USING fts5(search_text, content='images', tokenize='unicode61')"

SCHEMA_V1 = """
CREATE TABLE images (
    image_id TEXT PRIMARY KEY,
    path TEXT,
    meta_path TEXT,
    width INTEGER,
    height INTEGER,
    bytes INTEGER,
    image_mtime_ns INTEGER,
    meta_bytes INTEGER,
    meta_mtime_ns INTEGER,
    recorded_count INTEGER,
    sku_count INTEGER,
    sku_quantity INTEGER,
    status TEXT NOT NULL,
    reason TEXT,
    split TEXT NOT NULL,
    imported_at TEXT,
    effective_count INTEGER,
    label_status TEXT NOT NULL DEFAULT 'recorded',
    label_event_id INTEGER,
    label_reason TEXT,
    reviewed_by TEXT,
    reviewed_at TEXT
);
CREATE INDEX images_status ON images(status);
CREATE INDEX images_split ON images(split);
CREATE INDEX images_recorded ON images(recorded_count);
CREATE INDEX images_effective ON images(effective_count);

CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    image_id TEXT NOT NULL,
    sku_key TEXT,
    asin TEXT,
    name TEXT,
    normalized_name TEXT,
    quantity INTEGER,
    length REAL, length_unit TEXT,
    width REAL, width_unit TEXT,
    height REAL, height_unit TEXT,
    weight REAL, weight_unit TEXT
);
CREATE INDEX items_image ON items(image_id);

CREATE TABLE label_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id TEXT NOT NULL,
    user TEXT NOT NULL,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    count INTEGER,
    reason TEXT,
    previous_event_id INTEGER,
    previous_status TEXT,
    previous_count INTEGER,
    predictions TEXT
);
CREATE INDEX label_events_image ON label_events(image_id, id);
CREATE TRIGGER label_events_no_update BEFORE UPDATE ON label_events
BEGIN SELECT RAISE(ABORT, 'label events are append-only'); END;
CREATE TRIGGER label_events_no_delete BEFORE DELETE ON label_events
BEGIN SELECT RAISE(ABORT, 'label events are append-only'); END;

CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    config TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    started_at TEXT,
    finished_at TEXT,
    metrics TEXT,
    log TEXT,
    model_id INTEGER,
    label_snapshot TEXT,
    run_dir TEXT,
    pid INTEGER
);

CREATE TABLE models (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT,
    kind TEXT NOT NULL,
    architecture TEXT NOT NULL,
    classes TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    metrics TEXT,
    run_id INTEGER REFERENCES runs(id),
    label_snapshot TEXT,
    manifest TEXT,
    active INTEGER NOT NULL DEFAULT 0,
    created_at TEXT
);
CREATE UNIQUE INDEX models_one_active ON models(kind) WHERE active = 1;

CREATE TABLE predictions (
    model_id INTEGER NOT NULL REFERENCES models(id),
    image_id TEXT NOT NULL,
    predicted INTEGER NOT NULL,
    probs TEXT NOT NULL,
    expected REAL,
    confidence REAL,
    p_differs REAL,
    mismatch REAL,
    label_issue REAL,
    scored_at TEXT,
    PRIMARY KEY (model_id, image_id)
) WITHOUT ROWID;
CREATE INDEX predictions_mismatch ON predictions(model_id, mismatch);
CREATE INDEX predictions_issue ON predictions(model_id, label_issue);

CREATE TABLE oof_predictions (
    run_id INTEGER NOT NULL,
    image_id TEXT NOT NULL,
    given_label INTEGER NOT NULL,
    probs TEXT NOT NULL,
    PRIMARY KEY (run_id, image_id)
) WITHOUT ROWID;
"""


def _v1_initial_schema(db: sqlite_utils.Database) -> None:
    for statement in _split_sql(SCHEMA_V1):
        db.conn.execute(statement)
    # No per-row triggers: Store.upsert_images maintains the index set-wise, 5x faster on bulk imports.
    db.table("items").enable_fts(FTS_COLUMNS, create_triggers=False, tokenize="unicode61")


def _split_sql(script: str) -> list[str]:
    """Split a schema script into statements, keeping trigger bodies whole."""
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        joined = "\n".join(current).strip()
        in_trigger = joined.upper().startswith("CREATE TRIGGER")
        if joined.endswith(";") and (not in_trigger or joined.upper().endswith("END;")):
            statements.append(joined)
            current = []
    return statements


def _v2_search_text_per_image(db: sqlite_utils.Database) -> None:
    """Index one text per image instead of one per SKU: half the work to build, same words to find.

    normalizedName is left out: in ABID it is the name with its words reordered.
    """
    conn = db.conn
    conn.execute("ALTER TABLE images ADD COLUMN search_text TEXT")
    conn.execute("UPDATE images SET search_text = (SELECT group_concat(coalesce(name, '') || ' ' || coalesce(asin, ''), ' ') "
                 "FROM (SELECT name, asin FROM items WHERE items.image_id = images.image_id ORDER BY id))")
    conn.execute("DROP TABLE items_fts")
    conn.execute(SEARCH_INDEX_DDL)
    conn.execute("INSERT INTO images_fts(images_fts) VALUES ('rebuild')")


def _v3_bins(db: sqlite_utils.Database) -> None:
    """Photos of one bin share a split: each image's record key and bin key (see binaudit.core.splits).

    Record keys come from the stored SKU items, so nothing is re-read; each multi-photo bin takes the
    split its key photo (smallest id) already had, the rest keep theirs. Labels are not touched.
    """
    conn = db.conn
    for column in ("record_key", "bin_key"):
        conn.execute(f"ALTER TABLE images ADD COLUMN {column} TEXT")
    fill_bins_from_items(conn)


def _v4_prediction_source(db: sqlite_utils.Database) -> None:
    """Where each stored prediction came from: 'model' (the model itself scored the photo) or 'oof' (the
    model's cross-fitted prediction: a fold model that never trained on the photo's bin), so a bin the model
    trained on is not judged by a model that learned its record. Older rows were all the model's own."""
    db.conn.execute("ALTER TABLE predictions ADD COLUMN source TEXT NOT NULL DEFAULT 'model'")


SCHEMA_V5 = """
CREATE TABLE audit_samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    size INTEGER NOT NULL,
    stratified INTEGER NOT NULL,
    seed INTEGER,
    population INTEGER NOT NULL,
    last_event_id INTEGER NOT NULL,
    note TEXT
);
CREATE TABLE audit_sample_bins (
    sample_id INTEGER NOT NULL REFERENCES audit_samples(id),
    image_id TEXT NOT NULL,
    draw_order INTEGER NOT NULL,
    stratum INTEGER NOT NULL,
    stratum_size INTEGER NOT NULL,
    stratum_drawn INTEGER NOT NULL,
    PRIMARY KEY (sample_id, image_id)
) WITHOUT ROWID;
CREATE INDEX audit_sample_bins_image ON audit_sample_bins(image_id);
CREATE TABLE queue_updates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    reviewed INTEGER NOT NULL,
    positives INTEGER NOT NULL,
    last_event_id INTEGER NOT NULL,
    recalibration TEXT NOT NULL,
    note TEXT
);
"""


def _v5_audit_loop(db: sqlite_utils.Database) -> None:
    """The audit loop's tables: random-sample audits and their bins (the sampled bins marked, each with its
    stratum's size and draws, so the estimate stays unbiased), and one row per queue update (the latest applied)."""
    for statement in _split_sql(SCHEMA_V5):
        db.conn.execute(statement)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1_initial_schema, _v2_search_text_per_image, _v3_bins,
                                                             _v4_prediction_source, _v5_audit_loop]
