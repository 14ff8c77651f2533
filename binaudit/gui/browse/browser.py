"""The browser: filter bar, audit-queue bar, and the table/grid views over one BrowseTableModel.

It owns "the current image" (one row of the current view) and the walk through the view:
next/previous, next unreviewed in a queue, the images coming up (for prefetch). The current image and
its height on screen survive every refresh of the rows that still shows it (place.PlaceKeeper). A bin id
typed in the search box (exact: `1` and `00001` differ) selects that bin instead of filtering by text.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QStackedWidget, QTableView, QVBoxLayout, QWidget

from binaudit.core.browse import BrowseFilter
from binaudit.core.kinds import MODEL_KINDS
from binaudit.core.store import Store
from binaudit.gui.browse.bars import QueueBar, SubsetBar
from binaudit.gui.browse.filter_bar import FilterBar
from binaudit.gui.browse.grid_view import GridModel, GridView
from binaudit.gui.browse.place import PlaceKeeper
from binaudit.gui.browse.table_model import COLUMNS, BrowseTableModel, QueueSpec
from binaudit.gui.browse.thumbnails import ImageLoader
from binaudit.gui.common import workers
from binaudit.gui.common.session import WorkspaceSession

SCORE_COLUMNS = ("mismatch", "issue")  # the queues' scores: empty until some model is active
# sort keys that would tell counts in blind review: the recorded count, the label (an undecided bin's is the
# recorded count) and the models' columns
BLIND_UNSORTED = ("recorded", "label") + tuple(c.key for c in COLUMNS if c.predictive)
COLUMN_WIDTHS = {"id": 64, "recorded": 68, "label": 120, "resnet": 58, "resnet_conf": 64, "svm": 50,
                 "svm_conf": 56, "mismatch": 70, "issue": 74, "status": 110, "split": 50, "reviewed_by": 90}


def _search(db_path: str, text: str) -> list[str]:
    with Store.open(db_path, readonly=True) as reader:
        return reader.search_items(text)


class BrowserPanel(QWidget):
    """See the module docstring. currentImageChanged carries the image id ('' when the view is empty);
    contextMenuRequested(global position) when the table or grid is right-clicked; idRequested(bin id) when
    Enter in the search box asks for a bin the current view hides (the window leaves queue and filters);
    message(text, ms) is for the status bar."""

    currentImageChanged = Signal(str)
    viewChanged = Signal()
    contextMenuRequested = Signal(QPoint)
    idRequested = Signal(str)
    message = Signal(str, int)

    def __init__(self, session: WorkspaceSession, loader: ImageLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.loader = loader
        self.model = BrowseTableModel(session, self)
        self.filter_bar = FilterBar(self)
        self.queue_bar = QueueBar(self)
        self.queue_bar.hide()
        self.subset_bar = SubsetBar(self)
        self.subset_bar.hide()
        self.subset_bar.clear.clicked.connect(self.clear_subset)
        self.table = self._make_table()
        self.grid_model = GridModel(self.model)
        self.grid = GridView(self.grid_model, loader, self)
        self.placeholder = QLabel("Loading the workspace\u2026", alignment=Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setObjectName("placeholder")
        self.stack = QStackedWidget(self)
        for widget in (self.table, self.grid, self.placeholder):
            self.stack.addWidget(widget)
        self.stack.setCurrentWidget(self.placeholder)
        self._grid_mode = False
        self._row = -1
        self._image_id = ""
        self._syncing = False
        self._search_generation = 0
        self._place = PlaceKeeper()
        self.blind = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.queue_bar)
        layout.addWidget(self.subset_bar)
        layout.addWidget(self.stack, 1)

        self.filter_bar.filterChanged.connect(self.apply_filter)
        self.filter_bar.done.connect(self.focus_view)
        self.filter_bar.cleared.connect(self.clear_subset)
        self.filter_bar.search.returnPressed.connect(self._search_entered)
        self.table.selectionModel().currentChanged.connect(self._table_current)
        self.grid.selectionModel().currentChanged.connect(self._grid_current)
        for view in (self.table, self.grid):
            view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            view.customContextMenuRequested.connect(
                lambda pos, v=view: self.contextMenuRequested.emit(v.viewport().mapToGlobal(pos)))
        self.model.modelAboutToBeReset.connect(lambda: self._place.remember(self._view()))
        self.model.modelReset.connect(self._after_reset)
        session.rowsChanged.connect(self._rows_changed)

    def _make_table(self) -> QTableView:
        table = QTableView(self)
        table.setModel(self.model)
        table.verticalHeader().hide()
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.verticalHeader().setDefaultSectionSize(24)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.setCornerButtonEnabled(False)
        header = table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        for i, column in enumerate(COLUMNS):
            if column.key in COLUMN_WIDTHS:
                table.setColumnWidth(i, COLUMN_WIDTHS[column.key])
        header.sortIndicatorChanged.connect(self._header_sort)
        return table

    # ------------------------------------------------------------------ index and filters
    def index_loaded(self) -> None:
        self.model.set_index(self.session.index)
        self.show_columns()
        self.stack.setCurrentWidget(self.grid if self._grid_mode else self.table)
        if self.model.rowCount() and self._row < 0:
            self.select_row(0)

    def show_message(self, text: str) -> None:
        self.placeholder.setText(text)
        self.stack.setCurrentWidget(self.placeholder)

    def apply_filter(self, f: BrowseFilter) -> None:
        """Apply a filter; a text search runs FTS in a worker first (results of older searches are dropped).

        A text that is a bin id filters nothing: that bin is selected when the view shows it."""
        self._search_generation += 1
        if self.is_bin_id(f.text.strip()):
            self.model.set_filter(replace(f, text=""))
            self._select_typed_id(f.text.strip(), ask=False)
            return
        if not f.text.strip():
            self.model.set_filter(f)
            return
        generation = self._search_generation

        def found(ids: list[str]) -> None:
            if generation == self._search_generation:
                self.model.set_filter(f, self.session.index.positions(ids))

        workers.start(_search, str(self.session.workspace.db_path), f.text, on_done=found,
                      on_error=lambda exc: self.model.set_filter(replace(f, text="")), owner=self)

    def set_filter(self, f: BrowseFilter) -> None:
        self.filter_bar.set_filter(f)

    def is_bin_id(self, text: str) -> bool:
        """Whether a bin has exactly this id (`1` and `00001` are different bins)."""
        return bool(text) and self.session.loaded and self.session.index.position(text) is not None

    def _select_typed_id(self, image_id: str, ask: bool) -> None:
        """Select a bin typed in the search box; one the view hides is asked for (ask) or named in the status bar."""
        if self.select_image(image_id):
            return
        if ask:
            self.idRequested.emit(image_id)
        else:
            self.message.emit(f"Bin {image_id} is hidden by the queue or filters: press Enter to go to it.", 6000)

    def _search_entered(self) -> None:
        text = self.filter_bar.search.text().strip()
        if self.is_bin_id(text):
            self._select_typed_id(text, ask=True)

    def _header_sort(self, column: int, order: Qt.SortOrder) -> None:
        if self.model.queue is not None and COLUMNS[column].key == self.model.queue.sort_key:
            return
        if self.blind and COLUMNS[column].key in BLIND_UNSORTED:
            self._show_sort()  # the indicator goes back to the order the list has
            self.message.emit("Blind review: sorting by the recorded count or the label would show the counts.", 6000)
            return
        self.model.sort(column, order)
        self.viewChanged.emit()

    def _show_sort(self) -> None:
        """The header's sort indicator on the column (and direction) the list is sorted by, without re-sorting."""
        header = self.table.horizontalHeader()
        key, descending = (self.model.queue.sort_key, True) if self.model.queue else (self.model.sort_key,
                                                                                       self.model.descending)
        header.blockSignals(True)
        header.setSortIndicator([c.key for c in COLUMNS].index(key), Qt.SortOrder.DescendingOrder if descending
                                else Qt.SortOrder.AscendingOrder)
        header.blockSignals(False)

    def set_queue(self, queue: QueueSpec | None) -> None:
        """Walk a review queue (rows with a score, best first) or go back to the plain sorted view."""
        self.model.set_queue(queue)
        self._show_sort()
        self.queue_bar.setVisible(queue is not None)
        if queue is not None:
            self.select_row(self.next_unreviewed_row(-1))
        self.update_queue_bar()

    def update_queue_bar(self) -> None:
        queue = self.model.queue
        if queue is None or not self.session.loaded:
            return
        p = self.session.index.queue_progress(self.model.view)
        noun = "variances found" if queue.sort_key == "mismatch" else "relabelled"
        self.queue_bar.show_progress(queue.title, p.reviewed, p.total, p.variances, p.uncountable, self.blind, noun)

    def show_subset(self, title: str, image_ids: list[str], ordered: bool = False) -> None:
        """Limit the list to these images (a chart's selection, a random sample) until cleared; the filters
        still apply. ordered: list them in the order given (a sample's review order) until a column is sorted."""
        self.subset_bar.text.setText(f"{title}: {len(image_ids):,} images")
        self.subset_bar.show()
        self.model.set_subset(image_ids, ordered)

    def clear_subset(self) -> None:
        if self.model.subset is not None:
            self.subset_bar.hide()
            self.model.set_subset(None)

    def show_all(self) -> None:
        """Leave the chart selection and every filter (the queue is the window's to leave)."""
        self.clear_subset()
        self.filter_bar.reset()

    def set_blind(self, blind: bool) -> None:
        """Blind review: no count on screen, and no filter or sort that would tell one (see common.blind)."""
        self.blind = blind
        self.model.blind = blind
        self.filter_bar.set_blind(blind)
        if blind and self.model.queue is None and self.model.sort_key in BLIND_UNSORTED:
            self.model.sort(0)  # by id
            self._show_sort()
        self.grid.set_blind(blind)
        self.show_columns()
        self.table.viewport().update()
        self.update_queue_bar()

    def show_columns(self) -> None:
        """The columns worth their width: none of the models' in blind review, none of a kind with no active model
        (an empty ResNet pair pushed the Mismatch column out of a narrow list), no queue scores without any model."""
        active = set(self.session.index.model_kinds()) if self.session.loaded else set()
        for i, column in enumerate(COLUMNS):
            kind = column.key.split("_")[0]
            empty = (kind in MODEL_KINDS and kind not in active) or (column.key in SCORE_COLUMNS and not active)
            self.table.setColumnHidden(i, (self.blind and column.predictive) or empty)

    # ------------------------------------------------------------------ views
    def set_grid(self, grid: bool) -> None:
        self._grid_mode = grid
        if self.session.loaded:
            self.stack.setCurrentWidget(self.grid if grid else self.table)
        if self._row >= 0:
            self.select_row(self._row)
        self.focus_view()

    @property
    def grid_mode(self) -> bool:
        return self._grid_mode

    def focus_view(self) -> None:
        (self.grid if self._grid_mode else self.table).setFocus(Qt.FocusReason.OtherFocusReason)

    def focus_search(self) -> None:
        self.filter_bar.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_bar.search.selectAll()

    def _view(self) -> QAbstractItemView:
        return self.grid if self._grid_mode else self.table

    def _after_reset(self) -> None:
        """The rows changed (filter, sort, queue, reload): keep the current image, at its height on screen, if
        it is still shown."""
        row = self.model.row_of(self._image_id) if self._image_id else None
        self._row = -1
        self.select_row(row if row is not None else 0)
        if row is not None:
            self._place.restore(self._view(), self._view().currentIndex())
        self._place.forget()
        self.update_queue_bar()
        self.viewChanged.emit()

    def _rows_changed(self, image_ids: list[str]) -> None:
        self.model.rows_changed(image_ids)
        self.update_queue_bar()

    def _table_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._syncing and current.isValid():
            self.select_row(current.row())

    def _grid_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._syncing and current.isValid():
            self.select_row(self.grid_model.source_row(current))

    # ------------------------------------------------------------------ current image
    def select_row(self, row: int) -> bool:
        """Make a row the current image in both views; False when the row does not exist."""
        n = self.model.rowCount()
        if not 0 <= row < n:
            if n == 0 and self._image_id:
                self._row, self._image_id = -1, ""
                self.currentImageChanged.emit("")
            return False
        self._syncing = True
        try:
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            table_index = self.model.index(row, 0)
            self.table.selectionModel().setCurrentIndex(table_index, flags)
            cell = self.grid_model.cell_index(row)
            self.grid.selectionModel().setCurrentIndex(cell, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            (self.grid if self._grid_mode else self.table).scrollTo(
                cell if self._grid_mode else table_index, QAbstractItemView.ScrollHint.EnsureVisible)
        finally:
            self._syncing = False
        image_id = self.model.image_id(row) or ""
        self._row = row
        if image_id != self._image_id:
            self._image_id = image_id
            self.currentImageChanged.emit(image_id)
        return True

    def select_image(self, image_id: str) -> bool:
        row = self.model.row_of(image_id)
        return row is not None and self.select_row(row)

    @property
    def current_row(self) -> int:
        return self._row

    @property
    def current_image_id(self) -> str:
        return self._image_id

    def next_unreviewed_row(self, after: int) -> int:
        """The first unreviewed row after `after` (or the next row when none is left)."""
        view = self.model.view
        if after + 1 >= len(view):
            return after
        reviewed = self.session.index.reviewed_mask()[view[after + 1:]]
        rest = np.nonzero(~reviewed)[0]
        return after + 1 + int(rest[0]) if rest.size else after + 1

    def advance(self) -> bool:
        """Move to the next image of the current queue (next unreviewed one in a review queue)."""
        if self._row < 0:
            return False
        row = self.next_unreviewed_row(self._row) if self.model.queue is not None else self._row + 1
        return self.select_row(row) if row != self._row else False

    def step(self, delta: int) -> bool:
        return self.select_row(self._row + delta)

    def upcoming(self, n: int) -> list[tuple[str, str | None]]:
        """(image id, path) of the next n rows after the current one, for prefetching."""
        rows = range(self._row + 1, min(self.model.rowCount(), self._row + 1 + n))
        return [(self.model.image_id(r) or "", self.model.path(r)) for r in rows]

    def selected_image_ids(self) -> list[str]:
        """Image ids of the selected rows/cells (for bulk actions)."""
        if self._grid_mode:
            rows = sorted({self.grid_model.source_row(i) for i in self.grid.selectionModel().selectedIndexes()})
        else:
            rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [i for i in (self.model.image_id(r) for r in rows) if i]

    def shown_count(self) -> int:
        return self.model.rowCount()
