"""The browser's columns for every image, held as numpy arrays: filter and sort 536,000 rows in milliseconds.

Qt-free and SQL-free: the Store reads the columns (core/store/browse_columns.py) in one snapshot.

    columns.py  category orders, sort keys, BrowseFilter, one model's columns
    index.py    BrowseIndex: load, rows, filter, sort, queues, refresh after relabels
    scores.py   the score columns the queues sort by (mismatch, metadata rule, label issue), rules in core.queues
"""

from binaudit.core.browse.columns import (
    CODES,
    IMAGE_STATUSES,
    LABEL_STATUSES,
    SORT_KEYS,
    SPLITS,
    BrowseFilter,
    ModelColumns,
    QueueProgress,
)
from binaudit.core.browse.index import BrowseIndex

__all__ = ["CODES", "IMAGE_STATUSES", "LABEL_STATUSES", "SORT_KEYS", "SPLITS", "BrowseFilter", "BrowseIndex",
           "ModelColumns", "QueueProgress"]
