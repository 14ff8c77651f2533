"""Small charts drawn with QPainter (no matplotlib in the GUI process): lines, bars, a clickable confusion matrix.

Each chart gets its data through a setter and repaints; none of them computes statistics
(binaudit.core.compare does). They scale with the widget and stay readable at ~300 px.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

BLUE, ORANGE, GREEN, GREY, RED = (QColor("#1f6fb4"), QColor("#e07b00"), QColor("#2e7d32"), QColor("#9e9e9e"),
                                  QColor("#c62828"))
AXIS, GRID, TEXT = QColor("#666666"), QColor("#e4e4e4"), QColor("#222222")


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round tick values covering lo..hi."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    return [round(start + i * step, 10) for i in range(int((hi - start) / step + 1e-9) + 1)]


def _label(v: float) -> str:
    """A tick's text: whole numbers below 100,000 in full (2,000, not 2e+03), others in 3 significant digits."""
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.0e}"
    if v == int(v):
        return f"{int(v):,}"
    return f"{v:.3g}"


class _Chart(QWidget):
    """Common frame: title, plot rectangle with margins, axis labels."""

    def __init__(self, title: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.x_label = ""
        self.y_label = ""
        self.empty_text = "No data yet"
        self.setMinimumSize(220, 170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(360, 240)

    def legend(self) -> list[tuple[str, QColor, bool, bool]]:
        """(name, colour, dashed, as a line) of the legend row drawn above the plot; none by default."""
        return []

    def plot_rect(self) -> QRectF:
        top = (26 if self.title else 10) + (18 if self.legend() else 0)
        return QRectF(self.rect()).adjusted(52, top, -14, -38 if self.x_label else -24)

    def _draw_legend(self, p: QPainter) -> None:
        """One centred row of legend entries between the title and the plot, so it never hides data."""
        entries = self.legend()
        if not entries:
            return
        metrics = p.fontMetrics()
        widths = [metrics.horizontalAdvance(name) + 30 for name, *_ in entries]
        x = max(4.0, (self.width() - sum(widths)) / 2)
        y = (26 if self.title else 10) + 6
        for (name, color, dashed, line), width in zip(entries, widths):
            if line:
                pen = QPen(color, 2.5)
                pen.setStyle(Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
                p.setPen(pen)
                p.drawLine(QPointF(x, y), QPointF(x + 16, y))
            else:
                p.fillRect(QRectF(x + 3, y - 5, 10, 10), color)
            p.setPen(TEXT)
            p.drawText(QPointF(x + 21, y + 4), name)
            x += width

    def _frame(self, p: QPainter) -> QRectF:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), Qt.GlobalColor.white)
        r = self.plot_rect()
        if self.title:
            f = QFont(self.font())
            f.setBold(True)
            p.setFont(f)
            p.setPen(TEXT)
            p.drawText(QRectF(0, 4, self.width(), 20), Qt.AlignmentFlag.AlignHCenter, self.title)
            p.setFont(self.font())
        self._draw_legend(p)
        p.setPen(AXIS)
        if self.x_label:
            p.drawText(QRectF(r.left(), self.height() - 18, r.width(), 16), Qt.AlignmentFlag.AlignHCenter, self.x_label)
        if self.y_label:
            p.save()
            p.translate(12, r.center().y())
            p.rotate(-90)
            p.drawText(QRectF(-r.height() / 2, -8, r.height(), 16), Qt.AlignmentFlag.AlignHCenter, self.y_label)
            p.restore()
        return r

    def _empty(self, p: QPainter, r: QRectF) -> None:
        p.setPen(GREY)
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, self.empty_text)


@dataclass
class Series:
    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: QColor = field(default_factory=lambda: QColor(BLUE))
    width: float = 2.0
    dashed: bool = False
    points: bool = True   # dots on the data points (off for dense batch losses)


class LineChart(_Chart):
    """Lines over a shared x axis (log x for the LR finder); optional vertical markers with labels."""

    def __init__(self, title: str = "", parent: QWidget | None = None):
        super().__init__(title, parent)
        self.series: list[Series] = []
        self.markers: list[tuple[float, str]] = []
        self.log_x = False
        self.y_range: tuple[float, float] | None = None
        self.x_min: float | None = None
        self.x_max: float | None = None
        self.integer_x = False  # whole-number ticks (epochs)

    def legend(self) -> list[tuple[str, QColor, bool, bool]]:
        return [(s.name, s.color, s.dashed, True) for s in self.series if s.name]

    def set_series(self, series: list[Series], markers: Sequence[tuple[float, str]] = ()) -> None:
        self.series, self.markers = series, list(markers)
        self.update()

    def _xs(self, xs: Sequence[float]) -> np.ndarray:
        a = np.asarray(xs, np.float64)
        return np.log10(np.maximum(a, 1e-300)) if self.log_x else a

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        r = self._frame(p)
        data = [(self._xs(s.xs), np.asarray(s.ys, np.float64), s) for s in self.series if len(s.xs)]
        finite = [(x[np.isfinite(y)], y[np.isfinite(y)]) for x, y, _ in data]
        if not any(len(x) for x, _ in finite):
            self._empty(p, r)
            return
        xs = np.concatenate([x for x, _ in finite])
        ys = np.concatenate([y for _, y in finite])
        x0 = float(self._xs([self.x_min])[0]) if self.x_min is not None else float(xs.min())
        x1 = float(self._xs([self.x_max])[0]) if self.x_max is not None else float(xs.max())
        y0, y1 = self.y_range if self.y_range else (float(ys.min()), float(ys.max()))
        if x1 <= x0:
            x0, x1 = x0 - 0.5, x1 + 0.5
        if y1 <= y0:
            y0, y1 = y0 - 0.5, y1 + 0.5
        pad = 0.05 * (y1 - y0) if not self.y_range else 0.0
        y0, y1 = y0 - pad, y1 + pad

        def pt(x: float, y: float) -> QPointF:
            return QPointF(r.left() + (x - x0) / (x1 - x0) * r.width(), r.bottom() - (y - y0) / (y1 - y0) * r.height())

        self._axes(p, r, x0, x1, y0, y1, pt)
        for x, y, s in data:
            pen = QPen(s.color, s.width)
            pen.setStyle(Qt.PenStyle.DashLine if s.dashed else Qt.PenStyle.SolidLine)
            p.setPen(pen)
            path, drawing = QPainterPath(), False
            for xi, yi in zip(x, y):
                if not math.isfinite(yi):
                    drawing = False
                    continue
                (path.lineTo if drawing else path.moveTo)(pt(xi, yi))
                drawing = True
            p.drawPath(path)
            if s.points and len(x) <= 60:
                p.setBrush(s.color)
                for xi, yi in zip(x, y):
                    if math.isfinite(yi):
                        p.drawEllipse(pt(xi, yi), 2.6, 2.6)
                p.setBrush(Qt.BrushStyle.NoBrush)
        for mx, text in self.markers:
            x = float(self._xs([mx])[0])
            if x0 <= x <= x1:
                p.setPen(QPen(RED, 1.2, Qt.PenStyle.DashLine))
                p.drawLine(pt(x, y0), pt(x, y1))
                p.setPen(RED)
                p.drawText(pt(x, y1) + QPointF(4, 14), text)

    def _axes(self, p: QPainter, r: QRectF, x0: float, x1: float, y0: float, y1: float, pt) -> None:
        metrics = p.fontMetrics()
        for y in nice_ticks(y0, y1, max(2, int(r.height() / 40))):
            q = pt(x0, y)
            p.setPen(GRID)
            p.drawLine(QPointF(r.left(), q.y()), QPointF(r.right(), q.y()))
            p.setPen(AXIS)
            p.drawText(QRectF(0, q.y() - 8, r.left() - 6, 16), Qt.AlignmentFlag.AlignRight, _label(y))
        ticks = (list(range(math.ceil(x0), math.floor(x1) + 1)) if self.log_x
                 else nice_ticks(x0, x1, max(2, int(r.width() / 70))))
        if self.integer_x and not self.log_x:
            step = max(1, math.ceil(ticks[1] - ticks[0])) if len(ticks) > 1 else 1
            ticks = list(range(math.ceil(x0), math.floor(x1) + 1, step))
        for x in ticks:
            q = pt(x, y0)
            text = _label(10 ** x) if self.log_x else _label(x)
            p.setPen(AXIS)
            p.drawLine(QPointF(q.x(), r.bottom()), QPointF(q.x(), r.bottom() + 4))
            w = metrics.horizontalAdvance(text)
            p.drawText(QPointF(min(q.x() - w / 2, self.width() - w - 2), r.bottom() + 16), text)
        p.setPen(AXIS)
        p.drawLine(r.bottomLeft(), r.bottomRight())
        p.drawLine(r.bottomLeft(), r.topLeft())

class BarChart(_Chart):
    """Grouped bars: one group per category, one bar per named value set (NaN = no bar, shown as '–')."""

    def __init__(self, title: str = "", parent: QWidget | None = None):
        super().__init__(title, parent)
        self.categories: list[str] = []
        self.groups: list[tuple[str, QColor, np.ndarray]] = []
        self.y_max: float | None = None
        self.percent = False

    def set_data(self, categories: Sequence[str], groups: list[tuple[str, QColor, Sequence[float]]],
                 percent: bool = False, y_max: float | None = None) -> None:
        self.categories = list(categories)
        self.groups = [(n, c, np.asarray(v, np.float64)) for n, c, v in groups]
        self.percent, self.y_max = percent, y_max
        self.update()

    def legend(self) -> list[tuple[str, QColor, bool, bool]]:
        return [(n, c, False, False) for n, c, _ in self.groups if n and len(self.groups) > 1]

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        r = self._frame(p)
        values = np.concatenate([v for _, _, v in self.groups]) if self.groups else np.zeros(0)
        if not self.categories or not np.isfinite(values).any():
            self._empty(p, r)
            return
        top = self.y_max if self.y_max is not None else max(float(np.nanmax(values)) * 1.1, 1e-9)
        for y in nice_ticks(0, top, max(2, int(r.height() / 40))):
            yy = r.bottom() - y / top * r.height()
            p.setPen(GRID)
            p.drawLine(QPointF(r.left(), yy), QPointF(r.right(), yy))
            p.setPen(AXIS)
            text = f"{100 * y:.0f}%" if self.percent else _label(y)
            p.drawText(QRectF(0, yy - 8, r.left() - 6, 16), Qt.AlignmentFlag.AlignRight, text)
        slot = r.width() / len(self.categories)
        bar = slot * 0.8 / max(1, len(self.groups))
        for i, category in enumerate(self.categories):
            left = r.left() + i * slot + slot * 0.1
            for g, (_name, color, vals) in enumerate(self.groups):
                v = vals[i] if i < len(vals) else float("nan")
                x = left + g * bar
                if not math.isfinite(v):
                    p.setPen(GREY)
                    p.drawText(QRectF(x, r.bottom() - 16, bar, 14), Qt.AlignmentFlag.AlignCenter, "\u2013")
                    continue
                h = min(v, top) / top * r.height()
                p.fillRect(QRectF(x + 1, r.bottom() - h, bar - 2, h), color)
                if bar >= 22:
                    p.setPen(TEXT)
                    text = f"{100 * v:.0f}" if self.percent else _label(v)
                    p.drawText(QRectF(x, r.bottom() - h - 15, bar, 14), Qt.AlignmentFlag.AlignCenter, text)
            p.setPen(AXIS)
            p.drawText(QRectF(r.left() + i * slot, r.bottom() + 3, slot, 16), Qt.AlignmentFlag.AlignHCenter, category)
        p.setPen(AXIS)
        p.drawLine(r.bottomLeft(), r.bottomRight())


class ConfusionMatrixChart(_Chart):
    """Rows = true class, columns = predicted; cells shaded by their share of the row. cellClicked(true, pred)."""

    cellClicked = Signal(int, int)

    def __init__(self, title: str = "", parent: QWidget | None = None):
        super().__init__(title, parent)
        self.matrix = np.zeros((0, 0), np.int64)
        self.classes: list[int] = []
        self.top_label = ""  # e.g. "5+" when the top class holds larger counts
        self.clickable = True
        self.x_label, self.y_label = "predicted", "label"
        self._hover: tuple[int, int] | None = None
        self.setMouseTracking(True)

    def set_matrix(self, matrix: np.ndarray, classes: Sequence[int], top_label: str = "") -> None:
        self.matrix, self.classes, self.top_label = np.asarray(matrix, np.int64), list(classes), top_label
        self.update()

    def plot_rect(self) -> QRectF:
        r = super().plot_rect().adjusted(6, 0, 0, -8)
        side = min(r.width(), r.height())
        return QRectF(r.left() + (r.width() - side) / 2, r.top() + (r.height() - side) / 2, side, side)

    def _frame(self, p: QPainter) -> QRectF:
        """The title on top, 'label' beside the rows and 'predicted' right under the column numbers."""
        x_label, y_label = self.x_label, self.y_label
        self.x_label = self.y_label = ""
        try:
            r = super()._frame(p)
        finally:
            self.x_label, self.y_label = x_label, y_label
        r = self.plot_rect()
        p.setPen(AXIS)
        p.drawText(QRectF(r.left(), r.bottom() + 16, r.width(), 16), Qt.AlignmentFlag.AlignHCenter, x_label)
        p.save()
        p.translate(r.left() - 34, r.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-r.height() / 2, -8, r.height(), 16), Qt.AlignmentFlag.AlignHCenter, y_label)
        p.restore()
        return r

    def cell_rect(self, i: int, j: int) -> QRectF:
        r, k = self.plot_rect(), max(1, len(self.classes))
        w = r.width() / k
        return QRectF(r.left() + j * w, r.top() + i * w, w, w)

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        k = len(self.classes)
        for i in range(k):
            for j in range(k):
                if self.cell_rect(i, j).contains(pos):
                    return i, j
        return None

    def _class_text(self, i: int) -> str:
        return self.top_label if self.top_label and i == len(self.classes) - 1 else str(self.classes[i])

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        self._frame(p)
        k = len(self.classes)
        if k == 0 or self.matrix.sum() == 0:
            self._empty(p, self.plot_rect())
            return
        rows = self.matrix.sum(axis=1)
        for i in range(k):
            for j in range(k):
                rect = self.cell_rect(i, j)
                n = int(self.matrix[i, j])
                share = n / rows[i] if rows[i] else 0.0
                base = QColor(GREEN if i == j else RED)
                base.setAlphaF(0.08 + 0.8 * share if n else 0.0)
                p.fillRect(rect, Qt.GlobalColor.white)
                p.fillRect(rect, base)
                p.setPen(QPen(QColor("#ffffff"), 1))
                p.drawRect(rect)
                if self._hover == (i, j) and self.clickable:
                    p.setPen(QPen(TEXT, 2))
                    p.drawRect(rect.adjusted(1, 1, -1, -1))
                p.setPen(TEXT if share < 0.6 else QColor("#ffffff"))
                if rect.width() >= 18:
                    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(n) if n else "\u00b7")
        p.setPen(AXIS)
        for i in range(k):
            row, col = self.cell_rect(i, 0), self.cell_rect(0, i)
            p.drawText(QRectF(row.left() - 26, row.top(), 22, row.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, self._class_text(i))
            p.drawText(QRectF(col.left(), self.cell_rect(k - 1, 0).bottom() + 2, col.width(), 14),
                       Qt.AlignmentFlag.AlignHCenter, self._class_text(i))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        hover = self.cell_at(event.position())
        if hover != self._hover:
            self._hover = hover
            if hover is not None:
                i, j = hover
                self.setToolTip(f"label {self._class_text(i)}, predicted {self._class_text(j)}: "
                                f"{int(self.matrix[i, j])} images" + (" (click to show them)" if self.clickable else ""))
            self.setCursor(Qt.CursorShape.PointingHandCursor if hover and self.clickable else Qt.CursorShape.ArrowCursor)
            self.update()

    def leaveEvent(self, _event: object) -> None:
        self._hover = None
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        cell = self.cell_at(event.position())
        if cell is not None and self.clickable and event.button() == Qt.MouseButton.LeftButton:
            self.cellClicked.emit(self.classes[cell[0]], self.classes[cell[1]])
