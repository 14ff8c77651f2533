"""The workspace database: one SQLite file (sqlite-utils, WAL, synchronous=FULL), the only package with SQL.

Label events are append-only (triggers refuse UPDATE and DELETE); the label columns of `images`
are a cache of each image's latest event, written in the same transaction as the event.

    database.py      opening, migrating, transactions, errors (StoreBase)
    migrations.py    the schema versions, applied in order (PRAGMA user_version counts them)
    images.py        images, SKU items, full-text search, import writes (ImageTables)
    bins.py          which photos show one bin (images.bin_key) and one split per bin
    label_events.py  labels and their history (LabelEvents)
    models.py        models, predictions, out-of-fold probabilities, runs (ModelsAndRuns)
    browse_columns.py  the browser's columns of every image, read for numpy in one snapshot (BrowseColumns)
    audit.py         random-sample audits, reviews in order, queue updates of the audit loop (AuditTables)
"""

from binaudit.core.store.audit import AuditTables, Review, SampleBin
from binaudit.core.store.browse_columns import BrowseColumns
from binaudit.core.store.database import (
    BUSY_TIMEOUT_S,
    SQLITE_VERSION,
    ReadOnlyStoreError,
    StoreBase,
    StoreError,
    utc_now,
)
from binaudit.core.store.images import ImageTables, ImportedImage, ImportedItem, search_text, write_import_stage
from binaudit.core.store.label_events import NO_CHECK, LabelEvents
from binaudit.core.store.models import ModelsAndRuns, PredictionRow


class Store(ImageTables, LabelEvents, BrowseColumns, ModelsAndRuns, AuditTables):
    """A workspace database. Thread-safe: one connection guarded by a lock."""


__all__ = ["BUSY_TIMEOUT_S", "NO_CHECK", "SQLITE_VERSION", "ImportedImage", "ImportedItem", "PredictionRow",
           "ReadOnlyStoreError", "Review", "SampleBin", "Store", "StoreBase", "StoreError", "search_text", "utc_now",
           "write_import_stage"]
