"""Compare a new model with the active one on the same validation images, and switch to it.

Shows accuracy, RMSE, per-class accuracy, both confusion matrices side by side and the images whose
prediction flipped (click one to open the bin in the browser). The numbers come from
binaudit.core.compare.Comparison, computed in a ModelJob (model_jobs.prepare_comparison).
"""

from __future__ import annotations

import html
import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from binaudit.core.compare import BROKEN, FIXED, Comparison, fmt_num, fmt_pct
from binaudit.gui.charts.widgets import BLUE, GREY, ORANGE, BarChart, ConfusionMatrixChart
from binaudit.gui.common.tables import read_only_table
from binaudit.gui.training.model_jobs import ModelJob

OUTCOME_TEXT = {FIXED: "\u2713 now right", BROKEN: "\u2717 now wrong", "changed": "still wrong"}
OUTCOME_COLOUR = {FIXED: QColor("#2e7d32"), BROKEN: QColor("#c62828"), "changed": QColor("#7a7a7a")}


def model_caption(model: dict[str, Any] | None) -> str:
    if model is None:
        return "no active model"
    name = str(model.get("name") or model.get("architecture"))
    bits = [f"#{model['id']} {name}"]
    if model.get("run_id") and f"run {model['run_id']}" not in name:
        bits.append(f"run {model['run_id']}")
    if model.get("label_snapshot"):
        bits.append(f"trained on the labels as of event {str(model['label_snapshot']).split(':')[0]}")
    return ", ".join(bits)


def _item(text: str, colour: QColor | None = None, align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if colour is not None:
        item.setForeground(colour)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


class CompareView(QDialog):
    """See the module docstring. imageRequested(image id); activateRequested(model id)."""

    imageRequested = Signal(str)
    activateRequested = Signal(int)

    def __init__(self, new_model: dict[str, Any], old_model: dict[str, Any] | None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.new_model, self.old_model = new_model, old_model
        self.comparison: Comparison | None = None
        self.job: ModelJob | None = None
        kind = "ResNet" if new_model["kind"] == "resnet" else "SVM"
        self.setWindowTitle(f"Compare {kind} models")
        self.header = QLabel(f"<b>New:</b> {html.escape(model_caption(new_model))}<br>"
                             f"<b>Active:</b> {html.escape(model_caption(old_model))}")
        self.caption = QLabel("Scoring the validation images\u2026")
        self.caption.setWordWrap(True)
        self.stack = QStackedWidget()
        self.waiting = QLabel("Scoring the validation images with the new model\u2026",
                              alignment=Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.waiting)
        self.stack.addWidget(self._make_body())
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.caption)
        layout.addWidget(self.stack, 1)
        layout.addLayout(self._make_buttons())
        self.resize(1180, 500)

    def _make_body(self) -> QWidget:
        """The comparison: metrics and per-class bars, both confusion matrices, the flipped images."""
        self.metrics = QTableWidget(3, 3)
        self.metrics.setHorizontalHeaderLabels(["Active", "New", "Change"])
        self.metrics.setVerticalHeaderLabels(["Accuracy", "RMSE (items)", "Images"])
        self.metrics.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.metrics.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.metrics.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.metrics.verticalHeader().setDefaultSectionSize(26)
        self.metrics.setFixedHeight(self.metrics.horizontalHeader().sizeHint().height() + 3 * 26 + 4)
        self.per_class = BarChart("Accuracy per labelled count")
        self.old_matrix = ConfusionMatrixChart("Active model")
        self.new_matrix = ConfusionMatrixChart("New model")
        for chart in (self.old_matrix, self.new_matrix):
            chart.clickable = False
        self.flips = read_only_table(QTableWidget(), ["Image", "Label", "Active", "New", "Outcome"])
        self.flips.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.flips.horizontalHeader().setStretchLastSection(True)
        self.flips.setToolTip("Click an image to open its bin in the browser")
        self.flips.cellClicked.connect(self._flip_clicked)
        self.flips.cellActivated.connect(self._flip_clicked)
        self.flips_title = QLabel("<b>Flipped predictions</b>")
        body = QWidget()
        grid = QGridLayout(body)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.metrics, 0, 0)
        grid.addWidget(self.per_class, 1, 0)
        matrices = QHBoxLayout()
        matrices.addWidget(self.old_matrix)
        matrices.addWidget(self.new_matrix)
        grid.addLayout(matrices, 0, 1, 2, 1)
        flips = QVBoxLayout()
        flips.addWidget(self.flips_title)
        flips.addWidget(self.flips)
        grid.addLayout(flips, 0, 2, 2, 1)
        grid.setColumnMinimumWidth(0, 310)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 7)
        grid.setColumnStretch(2, 3)
        grid.setRowStretch(1, 1)
        return body

    def _make_buttons(self) -> QHBoxLayout:
        self.activate_button = QPushButton("Activate New Model")
        self.activate_button.setDefault(True)
        self.activate_button.setEnabled(False)
        self.activate_button.setToolTip("Score every image with the new model, then make it the active one")
        self.activate_button.clicked.connect(lambda: self.activateRequested.emit(int(self.new_model["id"])))
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.activate_button)
        buttons.addWidget(close)
        return buttons

    # ------------------------------------------------------------------ states
    def follow(self, job: ModelJob) -> None:
        """Show the progress and outcome of the job preparing the comparison (cancelled when the app quits)."""
        self.job = job
        job.progress.connect(self.show_progress)
        job.finished.connect(self.show_comparison)
        job.failed.connect(self.show_failure)

    def show_progress(self, done: int, total: int) -> None:
        self.waiting.setText(f"Scoring the validation images\u2026 {done:,} / {total:,}")

    def show_failure(self, message: str) -> None:
        self.waiting.setText(f"The comparison could not be made: {message}")
        self.caption.setText("")

    def set_activating(self) -> None:
        """The new model is being activated (rescoring every image): no second click."""
        self.activate_button.setEnabled(False)
        self.activate_button.setText("Activating\u2026")

    def set_active(self, active: bool) -> None:
        self.activate_button.setEnabled(not active and self.comparison is not None)
        self.activate_button.setText("Active" if active else "Activate New Model")

    def show_comparison(self, c: Comparison) -> None:
        self.comparison = c
        old = c.old
        left = f" ({c.left_out} val images without a countable label were left out)" if c.left_out else ""
        self.caption.setText(f"On the same {len(c.image_ids):,} validation images ({html.escape(c.source)}), "
                             f"against the current labels{left}.")
        rows = [(lambda e: fmt_pct(e.accuracy), "accuracy", 1), (lambda e: fmt_num(e.rmse), "rmse", -1),
                (lambda e: f"{e.n:,}", None, 0)]
        for r, (fmt, attr, better) in enumerate(rows):
            self.metrics.setItem(r, 0, _item(fmt(old) if old else "\u2013", align_right=True))
            self.metrics.setItem(r, 1, _item(fmt(c.new), align_right=True))
            change, colour = "", None
            if old is not None and attr:
                delta = getattr(c.new, attr) - getattr(old, attr)
                if math.isfinite(delta):
                    change = f"{100 * delta:+.1f} pts" if attr == "accuracy" else f"{delta:+.3f}"
                    colour = QColor("#2e7d32") if delta * better > 0 else QColor("#c62828") if delta * better < 0 else None
            self.metrics.setItem(r, 2, _item(change, colour, align_right=True))
        top = max(c.classes)
        categories = [f"{k}+" if k == top else str(k) for k in c.classes]
        groups = ([(f"active {old.name.split()[0]}", GREY, old.per_class)] if old else [])
        groups.append((f"new {c.new.name.split()[0]}", ORANGE if old else BLUE, c.new.per_class))
        self.per_class.set_data(categories, groups, percent=True, y_max=1.0)
        if old is not None:
            self.old_matrix.set_matrix(old.confusion, c.classes)
        self.old_matrix.title = f"Active {old.name.split()[0]}" if old else "No active model"
        self.new_matrix.set_matrix(c.new.confusion, c.classes)
        self.new_matrix.title = f"New {c.new.name.split()[0]}"
        self._fill_flips(c)
        self.stack.setCurrentIndex(1)
        self.set_active(bool(self.new_model.get("active")))

    def _fill_flips(self, c: Comparison) -> None:
        counts = c.counts()
        self.flips_title.setText(f"<b>{len(c.flips)} flipped predictions</b> \u2014 "
                                 f"<span style='color:#2e7d32'>{counts[FIXED]} now right</span>, "
                                 f"<span style='color:#c62828'>{counts[BROKEN]} now wrong</span>")
        self.flips.setRowCount(len(c.flips))
        for r, f in enumerate(c.flips):
            colour = OUTCOME_COLOUR[f.outcome]
            for col, text in enumerate((f.image_id, str(f.label), str(f.old), str(f.new), OUTCOME_TEXT[f.outcome])):
                self.flips.setItem(r, col, _item(text, colour if col == 4 else None, align_right=0 < col < 4))
        self.flips.setCurrentItem(None)
        if not c.flips:
            self.flips_title.setText("<b>No prediction flipped</b>" if c.old else
                                     "<b>No active model to compare with</b>")

    def _flip_clicked(self, row: int, _col: int) -> None:
        if self.comparison is not None and 0 <= row < len(self.comparison.flips):
            self.imageRequested.emit(self.comparison.flips[row].image_id)
