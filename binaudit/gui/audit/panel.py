"""The Queue quality panel: how good the audit queue is, live, in plain words.

The verdict on top (better than random, no better than random, or cannot tell yet and what to do),
then the figures (bins reviewed, variances found, the inventory's variance rate and record accuracy
from the random sample with 95% intervals, variances left, expected in the next 100 bins) and the
found-vs-reviewed curve against what random review would have found. core.audit.loop.queue_report
computes it in a worker (one at a time, the latest request wins); quality.quality_view words it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from PySide6.QtCore import QThreadPool, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFormLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from binaudit.core.audit.loop import queue_report
from binaudit.core.store import Store
from binaudit.gui.audit.quality import QualityView, quality_view
from binaudit.gui.charts.widgets import BLUE, GREEN, GREY, LineChart, Series
from binaudit.gui.common import workers
from binaudit.gui.common.errors import user_message
from binaudit.gui.common.session import WorkspaceSession

log = logging.getLogger("binaudit.gui")
REFRESH_MS = 800  # decisions come in bursts: one report after the burst
BUSY_SHARE = 3    # at most one report per BUSY_SHARE x its own duration (a big workspace's report takes seconds)
VERDICT_COLOURS = {True: "#2e7d32", False: "#c62828", None: "#7a5c00"}


def read_report(db_path: str) -> Any:
    """queue_report on a read-only connection of its own (a worker thread)."""
    with Store.open(db_path, readonly=True) as store:
        return queue_report(store)


class QueueQualityPanel(QWidget):
    """See the module docstring. refresh_soon() after decisions and updates; hidden, it waits until shown."""

    def __init__(self, session: WorkspaceSession, pool: QThreadPool, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.pool = pool
        self.view: QualityView | None = None
        self.verdict = QLabel("Reading the reviews\u2026")
        self.verdict.setObjectName("queueVerdict")
        self.verdict.setWordWrap(True)
        self.figures = QFormLayout()
        self.figures.setContentsMargins(0, 0, 0, 0)
        self.figures.setHorizontalSpacing(12)
        self.chart = LineChart("Variances found vs bins reviewed")
        self.chart.x_label = "bins reviewed from the queue"
        self.chart.y_label = "variances found"
        self.chart.integer_x = True
        self.chart.empty_text = "No bins reviewed from the queue yet"
        self.chart.setToolTip("Blue: variances the queue found as its bins were reviewed. Grey dashed: what random "
                              "review would have found at the random sample's variance rate (lighter: its 95% "
                              "interval). Green dashed: the best possible, every review a variance.")
        self.note = QLabel()
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.verdict)
        layout.addLayout(self.figures)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.note)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._task: workers.Task | None = None
        self._again = False
        self._stale = True
        self._started = self._last_seconds = 0.0
        self.reports = 0  # reports shown so far (tests wait on it)
        session.indexLoaded.connect(self.refresh_soon)

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        if self._stale:
            self.refresh()

    def refresh_soon(self) -> None:
        """Labels or the queue changed: a report after the burst, spaced by how long the last one took."""
        self._stale = True
        if self.isVisible() and not self._timer.isActive():
            self._timer.start(max(REFRESH_MS, int(BUSY_SHARE * 1000 * self._last_seconds)))

    def refresh(self) -> None:
        """Compute the report in a worker (one at a time; a request meanwhile runs once it is in)."""
        if self.session.closed or not self.isVisible():
            self._stale = True
            return
        if self._task is not None:
            self._again = True
            return
        self._stale = False
        self._started = time.monotonic()
        self._task = workers.start(read_report, str(self.session.workspace.db_path), on_done=self._show,
                                   on_error=self._failed, pool=self.pool, owner=self)

    def _finished(self) -> None:
        self._task = None
        self._last_seconds = time.monotonic() - self._started
        if self._again:
            self._again = False
            self.refresh()

    def _failed(self, exc: BaseException) -> None:
        log.error("the queue report failed: %s", getattr(exc, "__traceback_text__", exc))
        self.verdict.setText(f"The queue's report could not be computed: {user_message(exc)}")
        self._finished()

    def _show(self, report: Any) -> None:
        self.show_view(quality_view(report))
        self._finished()

    # ------------------------------------------------------------------ drawing
    def show_view(self, view: QualityView) -> None:
        """Put a worded report on screen."""
        self.view = view
        colour = VERDICT_COLOURS[view.better]
        self.verdict.setText(f"<b style='color:{colour}'>{view.verdict}</b>")
        self.verdict.setToolTip(view.verdict_tip)
        while self.figures.rowCount():
            self.figures.removeRow(0)
        for name, value, tip in view.rows:
            label, figure = QLabel(name), QLabel(value)
            figure.setWordWrap(True)
            for widget in (label, figure):
                widget.setToolTip(tip)
            self.figures.addRow(label, figure)
        self._draw_curve(view)
        self.note.setText(view.note)
        self.reports += 1

    def _draw_curve(self, view: QualityView) -> None:
        """Queue vs random review (dashed, its 95% band lighter) and the best possible, scaled to the first two:
        the best line leaves the plot at the top rather than flattening the curves that matter."""
        xs = view.reviewed_axis.tolist()
        series = [Series("queue", xs, view.found.tolist(), QColor(BLUE), 2.2, points=False)]
        tops = [float(view.found.max(initial=0.0))]
        if view.random is not None:
            series.append(Series("random review", xs, view.random.tolist(), QColor(GREY), 2.0, dashed=True,
                                 points=False))
            light = QColor(GREY)
            light.setAlpha(110)
            for edge in (view.random_low, view.random_high):
                if edge is not None:
                    series.append(Series("", xs, edge.tolist(), light, 1.0, dashed=True, points=False))
                    tops.append(float(edge.max(initial=0.0)))
        y_top = max(1.0, 1.15 * max(tops))
        if view.best is not None:
            best = np.where(view.best <= y_top, view.best, np.nan)
            series.append(Series("best possible", xs, best.tolist(), QColor(GREEN), 1.2, dashed=True, points=False))
        self.chart.y_range = (0.0, y_top)
        self.chart.set_series(series)
