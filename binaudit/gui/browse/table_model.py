"""Qt item models over core.browse.BrowseIndex: the table's rows and the thumbnail grid's cells.

The models hold only an array of row positions (the current filter/sort/queue); every cell is
read from the index's numpy columns when painted, so 536,000 rows cost one int64 array here.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QIcon

from binaudit.core import labels as L
from binaudit.core.browse import (
    IMAGE_STATUSES,
    LABEL_STATUSES,
    SPLITS,
    BrowseFilter,
    BrowseIndex,
)
from binaudit.core.kinds import MODEL_KINDS
from binaudit.core.queues import (  # defined once, in core
    AUDIT_QUEUE,
    LABEL_ISSUE_QUEUE,
    RULE_MARK,
    QueueSpec,
)
from binaudit.gui.common.formatting import local_time
from binaudit.gui.common.session import WorkspaceSession

ImageIdRole = Qt.ItemDataRole.UserRole + 1
PositionRole = Qt.ItemDataRole.UserRole + 2
CellRole = Qt.ItemDataRole.UserRole + 3

ORANGE = QColor("#b35c00")
GREEN = QColor("#2e7d32")
GREY = QColor("#7a7a7a")
RED = QColor("#c62828")


NO_PARENT = QModelIndex()  # the invalid index: the root of a flat model (one shared default)


@dataclass(frozen=True)
class Column:
    key: str          # also the BrowseIndex sort key
    title: str
    predictive: bool  # hidden in blind mode
    tip: str


COLUMNS = (
    Column("id", "Image", False, "Image id (the photo's file name)"),
    Column("recorded", "Recorded", False, "EXPECTED_QUANTITY from the bin's metadata"),
    Column("label", "Label", False, "The effective label: the latest decision, else the recorded count"),
    Column("resnet", "ResNet", True, "Count predicted by the active ResNet model"),
    Column("resnet_conf", "ResNet p", True, "ResNet's probability for its predicted count"),
    Column("svm", "SVM", True, "Count predicted by the active SVM model"),
    Column("svm_conf", "SVM p", True, "SVM's probability for its predicted count"),
    Column("mismatch", "Mismatch", True, f"The audit queue's order: {AUDIT_QUEUE.order}. The number is "
           f"P(variance), in percent (the tooltip shows each model's part); {RULE_MARK} marks the metadata rule"),
    Column("issue", "Label issue", True, "Label-issue score: how likely the label itself is wrong "
           f"({LABEL_ISSUE_QUEUE.order}; the label-issue queue's order)"),
    Column("status", "Status", False, "Import status of the photo and its metadata"),
    Column("split", "Split", False, "Training split (fixed by the image id)"),
    Column("reviewed_by", "Reviewed by", False, "Who made the latest decision"),
    Column("reviewed_at", "Reviewed at", False, "When the latest decision was made (local time)"),
)
COLUMN_KEYS = [c.key for c in COLUMNS]


@dataclass(frozen=True)
class Cell:
    """What a grid cell shows."""

    image_id: str
    recorded: int | None
    label: str
    label_status: str
    predictions: tuple[tuple[str, int, bool], ...]  # (model letter, predicted count, disagrees with record)
    mismatch: bool


def settle_heap() -> None:
    """Move the objects alive now (modules, Qt wrappers, the index) out of the garbage collector's reach.

    They live as long as the app; left in the collector's oldest generation, every full collection walks
    them all (10-40 ms on the GUI thread, the longest blocks of a grid scroll at 536,000 rows). Garbage is
    collected first, so nothing collectable is frozen; later objects are collected as before.
    """
    gc.collect()
    gc.freeze()


def short_label(status: str, count: int | None, reason: str | None, recorded: int | None) -> str:
    if status == L.CONFIRMED:
        return f"{count} \u2713"
    if status == L.CORRECTED:
        return f"{count} (was {recorded})" if recorded is not None else f"{count}"
    if status == L.UNCOUNTABLE:
        return f"uncountable: {reason}" if reason else "uncountable"
    if status == L.EXCLUDED:
        return "excluded"
    return ""  # not reviewed: the recorded count stands (shown in its own column)


class BrowseTableModel(QAbstractTableModel):
    """Rows = positions in the index under the current filter, sort and queue."""

    viewChanged = Signal()

    def __init__(self, session: WorkspaceSession, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.index_: BrowseIndex = session.index
        self.view = np.zeros(0, np.int64)
        self.filter = BrowseFilter()
        self.text_positions: np.ndarray | None = None
        self.sort_key, self.descending = "id", False
        self.queue: QueueSpec | None = None
        self.subset: list[str] | None = None  # image ids a chart picked (e.g. a confusion-matrix cell)
        self.subset_ordered = False  # list the subset in its own order (a random sample's review order)
        self.marked: dict[str, str] = {}  # image id -> why it is marked (e.g. in a random sample): an icon
        self.mark_icon = QIcon()
        self.blind = False
        self._paths: dict[str, str | None] = {}
        self._cells: dict[int, Cell] = {}
        self._bold = QFont()
        self._bold.setBold(True)

    # ------------------------------------------------------------------ state
    def set_index(self, index: BrowseIndex) -> None:
        self.index_ = index
        self._paths.clear()
        self._cells.clear()
        self.refresh_view()
        settle_heap()

    def set_filter(self, f: BrowseFilter, text_positions: np.ndarray | None = None) -> None:
        self.filter, self.text_positions = f, text_positions
        self.refresh_view()

    def set_queue(self, queue: QueueSpec | None) -> None:
        self.queue = queue
        self.refresh_view()

    def set_subset(self, image_ids: list[str] | None, ordered: bool = False) -> None:
        """Show only these images (on top of the filter; kept across index reloads), or all again with None.

        ordered: in the order given (until the user sorts by a column), else in the list's sort order."""
        self.subset = None if image_ids is None else list(image_ids)
        self.subset_ordered = ordered and image_ids is not None
        self.refresh_view()

    def set_marked(self, marked: dict[str, str], icon: QIcon) -> None:
        """Mark these images with an icon beside their id (tooltip: the reason), e.g. the sampled bins."""
        self.marked, self.mark_icon = dict(marked), icon
        if len(self.view):
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.view) - 1, 0))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if 0 <= column < len(COLUMNS):
            self.sort_key = COLUMNS[column].key
            self.descending = order == Qt.SortOrder.DescendingOrder
            self.queue = None  # sorting by hand leaves the queue
            self.subset_ordered = False  # and a subset's own order
            self.refresh_view()

    def refresh_view(self) -> None:
        """Recompute the rows from filter, sort and queue (milliseconds, see core.browse)."""
        self.beginResetModel()
        if self.queue is not None:
            self.view = self.index_.queue_order(self.filter, self.queue.sort_key, self.text_positions)
        else:
            self.view = self.index_.select(self.filter, self.sort_key, self.descending, self.text_positions)
        if self.subset is not None:
            positions = self.index_.positions(self.subset)
            if self.subset_ordered and self.queue is None:
                self.view = positions[self.index_.mask(self.filter, self.text_positions)[positions]]
            else:
                self.view = self.view[np.isin(self.view, positions)]
        self.endResetModel()
        self.viewChanged.emit()

    def rows_changed(self, image_ids: list[str]) -> None:
        """Repaint the rows of these images (their label columns were refreshed in the index)."""
        if not len(self.view) or not image_ids:
            return
        positions = self.index_.positions(image_ids)
        for p in positions.tolist():
            self._cells.pop(p, None)
        rows = np.nonzero(np.isin(self.view, positions))[0]
        for row in rows:
            self.dataChanged.emit(self.index(int(row), 0), self.index(int(row), len(COLUMNS) - 1))

    # ------------------------------------------------------------------ lookups
    def image_id(self, row: int) -> str | None:
        if 0 <= row < len(self.view):
            return self.index_.image_id(int(self.view[row]))
        return None

    def row_of(self, image_id: str) -> int | None:
        pos = self.index_.position(image_id)
        if pos is None:
            return None
        rows = np.nonzero(self.view == pos)[0]
        return int(rows[0]) if rows.size else None

    def path(self, row: int) -> str | None:
        """The photo path of a row; fetched from the store a block of rows at a time."""
        image_id = self.image_id(row)
        if image_id is None:
            return None
        if image_id not in self._paths:
            if len(self._paths) > 50_000:
                self._paths.clear()
            lo, hi = max(0, row - 64), min(len(self.view), row + 192)
            ids = [self.index_.image_id(int(p)) for p in self.view[lo:hi]]
            found = self.session.image_paths(ids)
            self._paths.update({i: found.get(i) for i in ids})
        return self._paths.get(image_id)

    def cell(self, row: int) -> Cell | None:
        """What the grid shows for a row (cached per image until its label changes)."""
        if not 0 <= row < len(self.view):
            return None
        p = int(self.view[row])
        cached = self._cells.get(p)
        if cached is None:
            if len(self._cells) > 20_000:
                self._cells.clear()
            cached = self._cells[p] = self._make_cell(p)
        return cached

    def _make_cell(self, p: int) -> Cell:
        ix = self.index_
        recorded = int(ix.recorded[p])
        status = LABEL_STATUSES[ix.label_status[p]]
        effective = int(ix.effective[p])
        predictions = []
        for kind in ix.model_kinds():
            m = ix.models[kind]
            if m.predicted[p] >= 0:
                predictions.append((kind[0].upper(), int(m.predicted[p]), bool(ix.disagrees(kind, p))))
        return Cell(ix.image_id(p), None if recorded < 0 else recorded,
                    short_label(status, None if effective < 0 else effective, ix.label_reason[p],
                                None if recorded < 0 else recorded),
                    status, tuple(predictions), any(d for _, _, d in predictions))

    # ------------------------------------------------------------------ QAbstractTableModel
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = NO_PARENT) -> int:
        return 0 if parent.isValid() else int(len(self.view))

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = NO_PARENT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        column = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            if column.key in MODEL_KINDS:
                model = self.index_.models.get(column.key)
                return column.title if model is None or not model.active else f"{column.title}"
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tip
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row, col = index.row(), index.column()
        if not 0 <= row < len(self.view):
            return None
        p = int(self.view[row])
        key = COLUMN_KEYS[col]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(p, key)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if key in ("id", "label", "status", "split", "reviewed_by", "reviewed_at"):
                return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._colour(p, key)
        if role == Qt.ItemDataRole.FontRole and key == "label" and self._reviewed(p):
            return self._bold
        if role == Qt.ItemDataRole.ToolTipRole and key == "mismatch" and not self.blind:
            return self.index_.mismatch_tooltip(p)
        if role == Qt.ItemDataRole.ToolTipRole and key == "label":
            if self.blind and not self._reviewed(p):
                return "not reviewed (blind review: the counts show once you have counted)"
            reviewer = self.index_.reviewer(p)
            text = self.index_.label_text(p)
            return f"{text} ({reviewer})" if self._reviewed(p) and reviewer else f"not reviewed: {text}"
        if key == "id" and self.marked and role in (Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole):
            why = self.marked.get(self.index_.image_id(p))
            return None if why is None else self.mark_icon if role == Qt.ItemDataRole.DecorationRole else why
        if role == ImageIdRole:
            return self.index_.image_id(p)
        if role == PositionRole:
            return p
        return None

    def _display(self, p: int, key: str) -> Any:
        ix = self.index_
        if key == "id":
            return ix.image_id(p)
        if key == "recorded":
            v = int(ix.recorded[p])
            return "" if v < 0 or (self.blind and not self._reviewed(p)) else v  # blind: shown once counted
        if key == "label":
            effective, recorded = int(ix.effective[p]), int(ix.recorded[p])
            return short_label(LABEL_STATUSES[ix.label_status[p]], None if effective < 0 else effective,
                               ix.label_reason[p], None if recorded < 0 else recorded)
        if key in ("resnet", "svm", "resnet_conf", "svm_conf", "mismatch", "issue"):
            if self.blind:
                return ""
            if key == "mismatch":
                return ix.mismatch_cell(p)
            if key == "issue":
                v = float(ix.issue_score([p])[0])
                return "" if math.isnan(v) else f"{v:.2f}"
            m = ix.models.get(key.split("_")[0])
            if m is None or not m.active:
                return ""
            if key.endswith("_conf"):
                v = float(m.confidence[p])
                return "" if math.isnan(v) else f"{v:.2f}"
            v = int(m.predicted[p])
            return "" if v < 0 else v
        if key == "status":
            return IMAGE_STATUSES[ix.status[p]].replace("_", " ")
        if key == "split":
            s = int(ix.split[p])
            return SPLITS[s] if 0 <= s < len(SPLITS) else ""
        if key == "reviewed_by":
            return ix.reviewer(p) or ""
        if key == "reviewed_at":
            return local_time(ix.reviewed_at[p])
        return None

    def _colour(self, p: int, key: str) -> QColor | None:
        ix = self.index_
        if key == "label":
            status = LABEL_STATUSES[ix.label_status[p]]
            return {L.CONFIRMED: GREEN, L.CORRECTED: ORANGE, L.UNCOUNTABLE: GREY, L.EXCLUDED: GREY}.get(status)
        if key in MODEL_KINDS and not self.blind:
            m = ix.models.get(key)
            if m is not None and m.active and ix.disagrees(key, p):
                return RED
        if key == "status" and ix.status[p] != 0:
            return ORANGE
        if key == "mismatch" and not self.blind and ix.metadata_rule(p):
            return ORANGE
        return None

    def _reviewed(self, p: int) -> bool:
        return LABEL_STATUSES[self.index_.label_status[p]] not in (L.RECORDED, L.RESET)
