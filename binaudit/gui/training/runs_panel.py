"""The Runs dock: the training runs started from this window (live) and the workspace's past runs.

Double-click (or Open) reopens a run's live view; Cancel stops a running one. Past runs come from
store.list_runs(); a run of this window is shown from its RunMonitor, which knows more (progress).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from binaudit.core.store import Store
from binaudit.gui.common.formatting import local_time
from binaudit.gui.common.tables import read_only_table
from binaudit.gui.training.process import RunMonitor, TrainingProcess
from training.run_state import CRASHED, FAILED, FINISHED

Run = RunMonitor | dict
COLUMNS = ("Run", "Kind", "Status", "Started", "Model")
REFRESH_MS = 400


class RunsPanel(QWidget):
    """See the module docstring. openRequested(RunMonitor or run row), cancelRequested(TrainingProcess)."""

    openRequested = Signal(object)
    cancelRequested = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.store: Store | None = None
        self.monitors: list[RunMonitor] = []
        self.rows: list[Run] = []
        self.table = read_only_table(QTableWidget(), COLUMNS)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.open_button = QPushButton("Open")
        self.cancel_button = QPushButton("Cancel Run")
        self.open_button.clicked.connect(self._open_selected)
        self.cancel_button.clicked.connect(self._cancel_selected)
        self.table.cellDoubleClicked.connect(lambda row, _col: self._open_row(row))
        self.table.itemSelectionChanged.connect(self._update_buttons)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._update_buttons()

    def set_store(self, store: Store | None) -> None:
        self.store = store
        self.refresh()

    def add_monitor(self, monitor: RunMonitor) -> None:
        self.monitors.append(monitor)
        monitor.changed.connect(self.schedule)
        self.refresh()

    def schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    # ------------------------------------------------------------------ rows
    def refresh(self) -> None:
        """Live runs first (newest first), then the workspace's other runs, newest first."""
        live_ids = {m.run_id for m in self.monitors if m.run_id is not None}
        past: list[dict[str, Any]] = []
        if self.store is not None:
            try:
                past = [r for r in self.store.list_runs() if r["id"] not in live_ids]
            except Exception:  # a closed or busy database: show what we know
                past = []
        selected = self._selected()
        self.rows = [*reversed(self.monitors), *reversed(past)]
        self.table.setRowCount(len(self.rows))
        for row, run in enumerate(self.rows):
            for col, text in enumerate(self._cells(run)):
                item = QTableWidgetItem(text)
                state = run.state if isinstance(run, RunMonitor) else str(run.get("status"))
                if col == 2 and state in (FAILED, CRASHED):
                    item.setForeground(QColor("#c62828"))
                elif col == 2 and state == FINISHED:
                    item.setForeground(QColor("#2e7d32"))
                item.setToolTip(text)
                self.table.setItem(row, col, item)
        if selected is not None and selected in self.rows:
            self.table.selectRow(self.rows.index(selected))
        self._update_buttons()

    @staticmethod
    def _cells(run: Run) -> list[str]:
        if isinstance(run, RunMonitor):
            started = datetime.fromtimestamp(run.start_time).strftime("%Y-%m-%d %H:%M")
            return [str(run.run_id or "\u2026"), run.title, run.status_text(), started,
                    f"#{run.model_id}" if run.model_id else ""]
        status = str(run.get("status") or "")
        if run.get("reason"):
            status += f": {run['reason']}"
        return [str(run["id"]), str(run.get("kind") or ""), status, local_time(run.get("started_at")),
                f"#{run['model_id']}" if run.get("model_id") else ""]

    def _selected(self) -> Run | None:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows and rows[0].row() < len(self.rows) else None

    def _update_buttons(self) -> None:
        run = self._selected()
        self.open_button.setEnabled(run is not None)
        self.cancel_button.setEnabled(isinstance(run, TrainingProcess) and run.active)

    def _open_row(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            self.openRequested.emit(self.rows[row])

    def _open_selected(self) -> None:
        run = self._selected()
        if run is not None:
            self.openRequested.emit(run)

    def _cancel_selected(self) -> None:
        run = self._selected()
        if isinstance(run, TrainingProcess):
            self.cancelRequested.emit(run)

    def row_of(self, monitor: RunMonitor) -> int | None:
        return self.rows.index(monitor) if monitor in self.rows else None

