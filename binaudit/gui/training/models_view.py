"""The Models window: every registered model with its metrics, run and label snapshot; activate or compare one."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from binaudit.core.compare import fmt_num, fmt_pct
from binaudit.core.store import Store
from binaudit.gui.common.formatting import local_time
from binaudit.gui.common.tables import read_only_table

COLUMNS = ("ID", "Kind", "Name", "Active", "Test acc", "Test RMSE", "Val acc", "Val RMSE", "Run",
           "Label snapshot", "Created")


def _metric(metrics: dict[str, Any], key: str, pct: bool) -> str:
    value = metrics.get(key)
    if value is None:
        return "\u2013"
    return fmt_pct(float(value)) if pct else fmt_num(float(value))


def model_cells(model: dict[str, Any]) -> list[str]:
    m = model.get("metrics") if isinstance(model.get("metrics"), dict) else {}
    return [str(model["id"]), str(model["kind"]), str(model.get("name") or model.get("architecture") or ""),
            "\u2713 active" if model.get("active") else "", _metric(m, "accuracy", True), _metric(m, "rmse", False),
            _metric(m, "val_accuracy", True), _metric(m, "val_rmse", False),
            str(model.get("run_id") or "\u2013"), str(model.get("label_snapshot") or "\u2013"),
            local_time(model.get("created_at"))]


class ModelsView(QDialog):
    """See the module docstring. activateRequested(model id), compareRequested(model id)."""

    activateRequested = Signal(int)
    compareRequested = Signal(int)

    def __init__(self, store: Store, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        self.models: list[dict[str, Any]] = []
        self.setWindowTitle("Models")
        self.table = read_only_table(QTableWidget(), COLUMNS)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.activate_button = QPushButton("Activate\u2026")
        self.activate_button.setToolTip("Score every image with this model, then make it the active one of its kind")
        self.compare_button = QPushButton("Compare with Active\u2026")
        close = QPushButton("Close")
        self.activate_button.clicked.connect(lambda: self._emit(self.activateRequested))
        self.compare_button.clicked.connect(lambda: self._emit(self.compareRequested))
        close.clicked.connect(self.close)
        hint = QLabel("Test figures are on each run's test split; compare two models to see them on the same images.")
        hint.setObjectName("hint")
        buttons = QHBoxLayout()
        buttons.addWidget(hint, 1)
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.activate_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.resize(1000, 360)
        self.refresh()

    def refresh(self) -> None:
        selected = self.selected_id()
        self.models = list(reversed(self.store.list_models()))
        self.table.setRowCount(len(self.models))
        bold = QFont(self.font())
        bold.setBold(True)
        for r, model in enumerate(self.models):
            for c, text in enumerate(model_cells(model)):
                item = QTableWidgetItem(text)
                if model.get("active"):
                    item.setFont(bold)
                if c in (0, 4, 5, 6, 7, 8):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
            if model["id"] == selected:
                self.table.selectRow(r)
        self._update_buttons()

    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return int(self.models[rows[0].row()]["id"]) if rows and rows[0].row() < len(self.models) else None

    def _update_buttons(self) -> None:
        model_id = self.selected_id()
        model = next((m for m in self.models if m["id"] == model_id), None)
        self.activate_button.setEnabled(model is not None and not model.get("active"))
        self.compare_button.setEnabled(model is not None and not model.get("active"))

    def _emit(self, signal: Any) -> None:
        model_id = self.selected_id()
        if model_id is not None:
            signal.emit(model_id)
