"""The thumbnail grid: a table whose cells are images, so it stays O(visible cells) at 500,000 images.

(QListView's IconMode lays out every item up front: seconds at this scale. A table of fixed-size
cells lays out nothing.) GridModel maps cell (r, c) to browser row r * columns + c.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
)

from binaudit.core import labels as L
from binaudit.gui.browse.table_model import GREEN, ORANGE, RED, BrowseTableModel, Cell, CellRole
from binaudit.gui.browse.thumbnails import BROKEN, NO_PHOTO, THUMB_BOX, ImageLoader
from binaudit.gui.common.blind import hides_counts

CELL_W, CELL_H = THUMB_BOX[0] + 16, THUMB_BOX[1] + 76


NO_PARENT = QModelIndex()  # the invalid index: the root of a flat model (one shared default)


class GridModel(QAbstractTableModel):
    """Cells over a BrowseTableModel's rows."""

    def __init__(self, source: BrowseTableModel):
        super().__init__(source)
        self.source = source
        self.columns = 4
        source.modelReset.connect(self._reset)
        source.dataChanged.connect(self._source_changed)

    def _reset(self) -> None:
        self.beginResetModel()
        self.endResetModel()

    def set_columns(self, columns: int) -> None:
        columns = max(1, columns)
        if columns != self.columns:
            self.beginResetModel()
            self.columns = columns
            self.endResetModel()

    def source_row(self, index: QModelIndex | QPersistentModelIndex) -> int:
        return index.row() * self.columns + index.column()

    def cell_index(self, source_row: int) -> QModelIndex:
        return self.index(source_row // self.columns, source_row % self.columns)

    def _source_changed(self, top: QModelIndex, bottom: QModelIndex, roles: Any = None) -> None:
        for row in range(top.row(), bottom.row() + 1):
            cell = self.cell_index(row)
            self.dataChanged.emit(cell, cell)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = NO_PARENT) -> int:
        if parent.isValid():
            return 0
        n = self.source.rowCount()
        return (n + self.columns - 1) // self.columns

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = NO_PARENT) -> int:
        return 0 if parent.isValid() else self.columns

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if self.source_row(index) >= self.source.rowCount():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.source_row(index)
        if row >= self.source.rowCount():
            return None
        if role == CellRole:
            return self.source.cell(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            cell = self.source.cell(row)
            if cell is None:
                return None
            if hides_counts(self.source.blind, cell.label_status):
                return f"{cell.image_id}: not reviewed (blind review)"
            preds = ", ".join(f"{'ResNet' if k == 'R' else 'SVM'} {n}" for k, n, _ in cell.predictions)
            return f"{cell.image_id}: recorded {cell.recorded}" + (f"; {cell.label}" if cell.label else "") + \
                (f"; predicted {preds}" if preds else "")
        return None


LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CENTER = Qt.AlignmentFlag.AlignCenter
SELECTED = QStyle.StateFlag.State_Selected
FOCUSED = QStyle.StateFlag.State_HasFocus
PLACEHOLDER = QColor("#e6e6e6")
MUTED = QColor("#777777")
CELL_CACHE = 800


class ThumbDelegate(QStyledItemDelegate):
    """Paints a cell: thumbnail, id, recorded count and label, each model's prediction, a mismatch badge
    (in blind review the counts, predictions and badge only once the bin is decided).

    A cell painted a second time with the same content (thumbnail, label, selection) is kept as a
    pixmap keyed by all of that, so steady repaints cost one drawPixmap per cell; first paints and
    cells still waiting for their thumbnail are drawn directly (caching costs 4x a direct draw).
    """

    def __init__(self, loader: ImageLoader, parent: Any = None):
        super().__init__(parent)
        self.loader = loader
        self.blind = False
        self.small = QFont()
        self.small.setPointSizeF(max(7.0, self.small.pointSizeF() - 1))
        self.bold = QFont()
        self.bold.setBold(True)
        self._cache: OrderedDict[tuple, QPixmap] = OrderedDict()
        self._seen: OrderedDict[tuple, None] = OrderedDict()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(CELL_W, CELL_H)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        cell: Cell | None = index.data(CellRole)
        if cell is None:
            return
        rect = option.rect
        state = option.state
        image = self.loader.thumbnail(cell.image_id)
        selected, focused = bool(state & SELECTED), bool(state & FOCUSED)
        if image is None:
            painter.save()
            self._render(painter, rect, option.palette, selected, focused, cell, None)
            painter.restore()
            return
        key = (cell, selected, focused, self.blind, rect.width(), rect.height(), image.cacheKey())
        pixmap = self._cache.get(key)
        if pixmap is None and key not in self._seen:
            # first paint: draw directly (4x cheaper than caching); a cell painted again gets cached
            self._seen[key] = None
            if len(self._seen) > CELL_CACHE:
                self._seen.popitem(last=False)
            painter.save()
            self._render(painter, rect, option.palette, selected, focused, cell, image)
            painter.restore()
            return
        if pixmap is None:
            pixmap = QPixmap(rect.size())
            pixmap.fill(option.palette.window().color())
            cell_painter = QPainter(pixmap)
            self._render(cell_painter, QRect(0, 0, rect.width(), rect.height()), option.palette, selected, focused,
                         cell, image)
            cell_painter.end()
            self._cache[key] = pixmap
            if len(self._cache) > CELL_CACHE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        painter.drawPixmap(rect.topLeft(), pixmap)

    def _render(self, painter: QPainter, rect: QRect, palette: Any, selected: bool, focused: bool, cell: Cell,
                image: QImage | None) -> None:
        r = rect.adjusted(3, 3, -3, -3)
        painter.fillRect(r, palette.highlight() if selected else palette.base())
        if focused:
            painter.setPen(QPen(palette.highlight().color().darker(130), 2))
            painter.drawRect(r.adjusted(1, 1, -1, -1))
        thumb_rect = QRect(r.left() + (r.width() - THUMB_BOX[0]) // 2, r.top() + 5, THUMB_BOX[0], THUMB_BOX[1])
        if image is None or image is BROKEN or image is NO_PHOTO or image.isNull():
            painter.fillRect(thumb_rect, PLACEHOLDER)
            if image is BROKEN or image is NO_PHOTO:
                painter.setPen(MUTED)
                painter.drawText(thumb_rect, CENTER, "unreadable photo" if image is BROKEN else "no photo")
        else:
            size = image.size()
            if size.width() > thumb_rect.width() or size.height() > thumb_rect.height():
                size = size.scaled(thumb_rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(thumb_rect.center())
            painter.drawImage(target, image)  # decoded to fit: no scaling
        text = palette.highlightedText().color() if selected else palette.text().color()
        line1 = QRect(r.left() + 6, thumb_rect.bottom() + 4, r.width() - 12, 18)
        hidden = hides_counts(self.blind, cell.label_status)  # blind review: no count until decided
        recorded = "" if hidden else "no count" if cell.recorded is None else f"rec {cell.recorded}"
        painter.setFont(self.small)
        painter.setPen(text)
        right_w = painter.fontMetrics().horizontalAdvance(recorded) + 6 if recorded else 0
        painter.drawText(line1, RIGHT, recorded)
        painter.setFont(self.bold)  # the id, elided before the count (the tooltip has it whole)
        painter.drawText(line1, LEFT, _elided(painter, cell.image_id, line1.width() - right_w))
        painter.setFont(self.small)
        line2 = line1.translated(0, 18)
        metrics = painter.fontMetrics()
        shown = [] if hidden else cell.predictions
        preds_w = sum(metrics.horizontalAdvance(f"{letter} {count}") + 8 for letter, count, _ in shown)
        if cell.label_status not in (L.RECORDED, L.RESET):
            colour = {L.CONFIRMED: GREEN, L.CORRECTED: ORANGE}.get(cell.label_status, MUTED)
            painter.setPen(text if selected else colour)
            painter.drawText(line2, LEFT, _elided(painter, cell.label, line2.width() - preds_w))
        if shown:
            x = line2.right()
            for letter, count, disagrees in reversed(cell.predictions):
                label = f"{letter} {count}"
                width = metrics.horizontalAdvance(label)
                painter.setPen(text if selected else (RED if disagrees else text))
                painter.drawText(QRect(x - width, line2.top(), width, line2.height()), RIGHT, label)
                x -= width + 8
        if not hidden and cell.mismatch:
            badge = QRect(thumb_rect.right() - 22, thumb_rect.top() + 4, 18, 18)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(RED)
            painter.drawEllipse(badge)
            painter.setPen(QColor("white"))
            painter.setFont(self.bold)
            painter.drawText(badge, CENTER, "!")


def _elided(painter: QPainter, text: str, width: int) -> str:
    """The text cut with an ellipsis to fit `width` pixels (a cell's tooltip shows it whole)."""
    return painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, max(0, width))


class GridView(QTableView):
    """Fixed-size cells, as many columns as fit; repaints (coalesced) as thumbnails arrive; prefetches ahead."""

    def __init__(self, model: GridModel, loader: ImageLoader, parent: Any = None):
        super().__init__(parent)
        self.grid_model = model
        self.loader = loader
        self.setModel(model)
        self.delegate = ThumbDelegate(loader, self)
        self.setItemDelegate(self.delegate)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.horizontalHeader().hide()
        self.verticalHeader().hide()
        for header, size in ((self.horizontalHeader(), CELL_W), (self.verticalHeader(), CELL_H)):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setDefaultSectionSize(size)
            header.setMinimumSectionSize(10)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(CELL_H // 4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._arrived: set[str] = set()
        self._repaint = QTimer(self, singleShot=True, interval=40, timeout=self._repaint_arrived)
        self._prefetch = QTimer(self, singleShot=True, interval=120, timeout=self.prefetch)
        loader.thumbnailReady.connect(self._thumbnail_ready)
        self.verticalScrollBar().valueChanged.connect(lambda _: self._prefetch.start())

    def set_blind(self, blind: bool) -> None:
        """Hide (or show) the cells' predictions and mismatch badges."""
        self.delegate.blind = blind
        self.viewport().update()

    def _thumbnail_ready(self, image_id: str) -> None:
        self._arrived.add(image_id)
        if not self._repaint.isActive():
            self._repaint.start()

    def _repaint_arrived(self) -> None:
        """Repaint only the visible cells whose thumbnails arrived (one paint event for all of them)."""
        arrived, self._arrived = self._arrived, set()
        source = self.grid_model.source
        for row in self.visible_rows():
            if source.image_id(row) in arrived:
                self.viewport().update(self.visualRect(self.grid_model.cell_index(row)))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        columns = max(1, self.viewport().width() // CELL_W)
        self.horizontalHeader().setDefaultSectionSize(max(CELL_W, self.viewport().width() // columns))
        if columns != self.grid_model.columns:
            current = self.grid_model.source_row(self.currentIndex()) if self.currentIndex().isValid() else None
            self.grid_model.set_columns(columns)
            if current is not None:
                self.setCurrentIndex(self.grid_model.cell_index(current))
                self.scrollTo(self.currentIndex())

    def visible_rows(self) -> range:
        """Browser rows whose cells are (at least partly) on screen."""
        top = self.rowAt(0)
        bottom = self.rowAt(self.viewport().height() - 1)
        if top < 0:
            return range(0)
        if bottom < 0:
            bottom = self.grid_model.rowCount() - 1
        cols = self.grid_model.columns
        return range(top * cols, min(self.grid_model.source.rowCount(), (bottom + 1) * cols))

    def prefetch(self, pages: int = 2) -> None:
        """Queue the thumbnails of the next pages below the visible cells."""
        visible = self.visible_rows()
        if not visible:
            return
        source = self.grid_model.source
        span = len(visible) * pages
        rows = range(visible.stop, min(source.rowCount(), visible.stop + span))
        self.loader.prefetch_thumbnails([source.image_id(r) or "" for r in rows])
