"""The bin view's information panels: model predictions with probability bars, SKU table, label history."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QHeaderView, QLabel, QSizePolicy, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from binaudit.core import labels as L
from binaudit.core.labels import LabelEvent
from binaudit.gui.common.formatting import local_time
from binaudit.gui.common.tables import read_only_table

BAR = QColor("#4a7dbf")
BAR_PREDICTED = QColor("#1f4e8c")
RECORDED = QColor("#333333")


class ProbabilityBars(QWidget):
    """One bar per count class; the predicted class dark, the recorded count marked in red underneath."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.probs: list[float] = []
        self.predicted: int | None = None
        self.recorded: int | None = None
        self.setMinimumHeight(74)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(220, 78)

    def set_values(self, probs: list[float], predicted: int | None, recorded: int | None) -> None:
        self.probs, self.predicted, self.recorded = list(probs), predicted, recorded
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.probs:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        k = len(self.probs)
        w, h = self.width(), self.height()
        label_h, top = 16, 14
        slot = w / k
        bar_w = max(4.0, slot * 0.62)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() - 1))
        p.setFont(small)
        text = self.palette().text().color()
        for i, prob in enumerate(self.probs):
            x = i * slot + (slot - bar_w) / 2
            full = h - label_h - top
            bar_h = max(1.0, full * float(prob))
            p.fillRect(QRectF(x, top + full - bar_h, bar_w, bar_h), BAR_PREDICTED if i == self.predicted else BAR)
            p.setPen(text)
            if prob >= 0.005:
                p.drawText(QRectF(i * slot, top + full - bar_h - 14, slot, 14), Qt.AlignmentFlag.AlignCenter,
                           f"{prob:.2f}"[1:] if prob < 1 else "1.0")
            label_rect = QRectF(i * slot, h - label_h, slot, label_h)
            if self.recorded is not None and (i == self.recorded or (i == k - 1 and self.recorded > k - 1)):
                p.setPen(QPen(RECORDED, 2))
                p.drawRoundedRect(label_rect.adjusted(slot * 0.2, 1, -slot * 0.2, -1), 3, 3)
                p.setPen(RECORDED)
            else:
                p.setPen(text)
            p.drawText(label_rect, Qt.AlignmentFlag.AlignCenter, f"{i}+" if i == k - 1 and k > 1 else str(i))
        p.end()


class ModelPrediction(QWidget):
    """One model: name, predicted count and probability, the bars."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.header = QLabel(title)
        self.header.setObjectName("predictionHeader")
        self.header.setWordWrap(True)  # a long model name wraps instead of widening the bin view
        self.bars = ProbabilityBars(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(self.bars)

    def show_prediction(self, model: dict[str, Any] | None, row: dict[str, Any] | None,
                        recorded: int | None) -> None:
        if model is None:
            self.header.setText(f"<b>{self.title}</b>: no active model")
            self.bars.set_values([], None, None)
            return
        name = model.get("name") or model.get("architecture")
        if row is None:
            self.header.setText(f"<b>{self.title}</b> <span style='color:#777'>({name})</span>: not scored yet")
            self.bars.set_values([], None, None)
            return
        agree = recorded is None or row["predicted"] == min(recorded, len(row["probs"]) - 1)
        colour = "#2e7d32" if agree else "#c62828"
        self.header.setText(
            f"<b>{self.title}</b> <span style='color:#777'>({name})</span>: "
            f"<b style='color:{colour}'>{row['predicted']}</b> "
            f"<span style='color:#777'>p = {float(row.get('confidence') or 0):.2f}</span>")
        self.bars.set_values(row["probs"], row["predicted"], recorded)


UNITS = {"inches": "in", "in": "in", "pounds": "lb", "pound": "lb", "lbs": "lb"}


def _unit(unit: Any) -> str:
    text = str(unit or "").strip()
    return UNITS.get(text.lower(), text)


def _measure(value: Any, unit: Any) -> str:
    if value is None:
        return ""
    return f"{value:.2g} {_unit(unit)}".strip() if value < 10 else f"{value:.0f} {_unit(unit)}".strip()


class SkuTable(QTableWidget):
    """The SKU records of the bin's metadata."""

    HEADERS = ("ASIN", "Name", "Qty", "L \u00d7 W \u00d7 H", "Weight")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(self.HEADERS), parent)
        read_only_table(self, self.HEADERS)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)  # a long name ends in an ellipsis; its tooltip is whole
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for col in (0, 2, 3, 4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.verticalHeader().setDefaultSectionSize(22)

    def hide_quantities(self, hidden: bool) -> None:
        """Blind review of an undecided bin: the Qty column leaves the screen."""
        self.setColumnHidden(2, hidden)

    def show_items(self, items: list[dict[str, Any]]) -> None:
        self.setRowCount(len(items))
        for r, item in enumerate(items):
            dims = "\u00d7".join(f"{item[d]:.2g}" if item[d] < 10 else f"{item[d]:.0f}"
                                 for d in ("length", "width", "height") if item.get(d) is not None)
            unit = _unit(item.get("length_unit"))
            values = (item.get("asin") or "", item.get("name") or "", str(item.get("quantity") or 0),
                      f"{dims} {unit}".strip(), _measure(item.get("weight"), item.get("weight_unit")))
            for c, text in enumerate(values):
                cell = QTableWidgetItem(text)
                cell.setToolTip(text)
                if c == 2:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(r, c, cell)


class HistoryPanel(QTableWidget):
    """Every label event of the image, newest first."""

    HEADERS = ("When", "Who", "Action", "Label", "Before")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(self.HEADERS), parent)
        read_only_table(self, self.HEADERS, select_rows=False)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setWordWrap(False)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setStretchLastSection(True)
        for col in range(4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)

    def hide_labels(self, hidden: bool) -> None:
        """Blind review of an undecided bin: the Label and Before columns (counts) leave the screen."""
        for col in (3, 4):
            self.setColumnHidden(col, hidden)

    def show_events(self, events: list[LabelEvent], recorded: int | None) -> None:
        self.setRowCount(len(events))
        for r, e in enumerate(reversed(events)):
            before = L.describe_label(e.previous_status or L.RECORDED,
                                      e.previous_count if e.previous_status else recorded)
            label = L.describe_label(e.status, recorded if e.status == L.RESET else e.count, e.reason)
            for c, text in enumerate((local_time(e.at), e.user, e.action, label, before)):
                self.setItem(r, c, QTableWidgetItem(text))
