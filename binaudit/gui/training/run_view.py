"""The live view of one training run: progress, ETA, loss and accuracy curves, the LR finder plot, the log.

It only draws a RunMonitor (process.py); closing it leaves the run going (the Runs dock
reopens it). Redraws are coalesced to a few per second so batch events never flood the GUI.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QFont, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from binaudit.core.kinds import MODEL_KINDS
from binaudit.gui.charts.widgets import BLUE, GREY, ORANGE, BarChart, LineChart, Series
from binaudit.gui.training.process import RunMonitor, TrainingProcess
from training.run_state import CANCELLED, CRASHED, FAILED, FINISHED, format_duration

REDRAW_MS = 250
STATE_COLOURS = {FINISHED: "#2e7d32", FAILED: "#c62828", CRASHED: "#c62828", CANCELLED: "#b35c00"}


class TrainingView(QDialog):
    """See the module docstring. compareRequested(model_id) when the user asks to compare the new model."""

    compareRequested = Signal(int)

    def __init__(self, monitor: RunMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        self.monitor = monitor
        self.setWindowTitle(monitor.title)
        self.setModal(False)
        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setFormat("%p%")
        self.eta = QLabel()
        self.charts = self._make_charts(monitor.command)
        self.output = QPlainTextEdit(readOnly=True)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.output.setFont(mono)
        self.output.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        top = QHBoxLayout()
        top.addWidget(self.progress, 1)
        top.addWidget(self.eta)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addLayout(top)
        layout.addWidget(self.charts, 3)
        layout.addWidget(self.output, 1)
        layout.addLayout(self._make_buttons())
        self.resize(860, 620)
        self._timer = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        monitor.changed.connect(self._schedule)
        self._clock = QTimer(self, interval=1000)  # elapsed and ETA move on between events
        self._clock.timeout.connect(lambda: self.isVisible() and self.monitor.active and self._schedule())
        self._clock.start()
        self._shown_lines = 0
        self.redraw()

    def _make_charts(self, command: str) -> QStackedWidget:
        """One page per kind of run: loss and accuracy curves, the LR finder (live or its saved plot), SVM stages."""
        self.loss_chart = LineChart("Loss")
        self.loss_chart.x_label = "epoch"
        self.acc_chart = LineChart("Accuracy")
        self.acc_chart.x_label = "epoch"
        self.acc_chart.y_range = (0.0, 1.0)
        self.loss_chart.integer_x = self.acc_chart.integer_x = True
        self.lr_chart = LineChart("Learning-rate range test")
        self.lr_chart.log_x = True
        self.lr_chart.x_label = "learning rate (log scale)"
        self.lr_chart.y_label = "loss"
        self.lr_image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.stages = QLabel(alignment=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.stages.setTextFormat(Qt.TextFormat.RichText)
        self.per_class = BarChart("Test accuracy per count")
        stages_page = QWidget()
        stages_row = QHBoxLayout(stages_page)
        stages_row.addWidget(self.stages, 1)
        stages_row.addWidget(self.per_class, 2)
        curves = QWidget()
        row = QHBoxLayout(curves)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.loss_chart)
        row.addWidget(self.acc_chart)
        charts = QStackedWidget()
        for widget in (curves, self.lr_chart, self.lr_image, stages_page):
            charts.addWidget(widget)
        charts.setCurrentIndex({"resnet": 0, "lr-find": 1}.get(command, 3))
        charts.setVisible(command != "baselines")  # its result is the table in the output pane
        return charts

    def _make_buttons(self) -> QHBoxLayout:
        self.cancel_button = QPushButton("Cancel Run")
        self.cancel_button.setToolTip("Stop after the current batch; a checkpoint is saved (resumable)")
        self.compare_button = QPushButton("Compare with Active Model\u2026")
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("Close this window; the run goes on (Training > Runs reopens it)")
        self.cancel_button.clicked.connect(self._cancel)
        self.compare_button.clicked.connect(lambda: self.compareRequested.emit(int(self.monitor.model_id or 0)))
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.close_button)
        return buttons

    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _cancel(self) -> None:
        if isinstance(self.monitor, TrainingProcess):
            self.monitor.cancel()

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        m = self.monitor
        colour = STATE_COLOURS.get(m.state, "#1f6fb4")
        run = f"run {m.run_id}" if m.run_id is not None else "run"
        self.header.setText(f"<b>{html.escape(m.title)}</b> \u2014 {run} \u00b7 "
                            f"<span style='color:{colour}'><b>{html.escape(m.status_text())}</b></span>"
                            + self._dataset_text())
        fraction = m.fraction()
        if fraction is None and m.active:
            self.progress.setRange(0, 0)  # busy
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * (fraction or 0.0)))
        eta = m.eta_seconds()
        self.eta.setText(f"elapsed {format_duration(m.elapsed())}" + (f" \u00b7 ETA {format_duration(eta)}"
                                                                           if eta is not None else ""))
        self._draw_curves()
        self._draw_lr()
        self._draw_stages()
        self._draw_output()
        running = isinstance(m, TrainingProcess) and m.active
        self.cancel_button.setEnabled(running and not getattr(m, "cancel_requested", False))
        self.compare_button.setVisible(m.command in MODEL_KINDS)
        self.compare_button.setEnabled(m.state == FINISHED and bool(m.model_id))

    def _dataset_text(self) -> str:
        """Second header line: images per split, device, and the final validation figures."""
        m, dot = self.monitor, " \u00b7 "
        images = m.started.get("images") or {}
        bits = []
        parts = [f"{split} {info.get('n', 0):,}" for split, info in images.items() if isinstance(info, dict)]
        if parts:
            bits.append("images: " + dot.join(parts))
        if m.started.get("device"):
            bits.append(f"device {m.started['device']}")
        metrics = (m.final or {}).get("metrics") or {}
        if m.state == FINISHED and metrics.get("val_accuracy") is not None:
            bits.append(f"val accuracy {100 * float(metrics['val_accuracy']):.1f}%, "
                        f"RMSE {float(metrics.get('val_rmse') or 0):.3f}")
        return f"<br><small>{html.escape(dot.join(bits))}</small>" if bits else ""

    def _draw_curves(self) -> None:
        m = self.monitor
        epochs = m.epochs
        xs = [float(e.get("epoch", i + 1)) for i, e in enumerate(epochs)]

        def col(key: str) -> list[float]:
            return [float("nan") if e.get(key) is None else float(e[key]) for e in epochs]

        loss = []
        if m.batch_losses:
            bx, by = zip(*m.batch_losses)
            loss.append(Series("batch loss", bx, by, GREY, 1.0, points=False))
        loss += [Series("train loss", xs, col("train_loss"), BLUE), Series("val loss", xs, col("val_loss"), ORANGE)]
        top = max(1.0, float(m.total_epochs or 0), max(xs, default=1.0))
        for chart in (self.loss_chart, self.acc_chart):
            chart.x_min, chart.x_max = 0.0, top
        self.loss_chart.set_series(loss)
        self.acc_chart.set_series([Series("train acc", xs, col("train_acc"), BLUE),
                                   Series("val acc", xs, col("val_acc"), ORANGE)])

    def _draw_stages(self) -> None:
        """SVM runs: the preparation stages as they pass, then the test accuracy per count."""
        m = self.monitor
        if m.command != "svm":
            return
        done: dict[str, str] = {}
        for e in m.events:
            if e.get("event") == "progress":
                done[str(e.get("stage"))] = f"{e.get('done')}/{e.get('total')}"
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td align='right'>&nbsp;{v}</td></tr>" for k, v in done.items())
        waiting = "starting\u2026" if m.active else "(not kept for past runs: see the report below)"
        self.stages.setText(f"<b>Stages</b><table>{rows}</table>" if rows else f"<b>Stages</b><br>{waiting}")
        self.stages.setWordWrap(True)
        per_class = ((m.final or {}).get("metrics") or {}).get("per_class") or {}
        if m.state == FINISHED and per_class:
            keys = sorted(per_class, key=lambda k: int(k))
            values = [float("nan") if per_class[k].get("accuracy") is None else float(per_class[k]["accuracy"])
                      for k in keys]
            self.per_class.set_data(keys, [("", BLUE, values)], percent=True, y_max=1.0)

    def _draw_lr(self) -> None:
        m = self.monitor
        if m.command != "lr-find":
            return
        if m.lr_points:
            lrs, losses = zip(*m.lr_points)
            markers = [(m.lr_suggestion, f"suggested {m.lr_suggestion:.2g}")] if m.lr_suggestion else []
            self.lr_chart.set_series([Series("loss", lrs, losses, BLUE)], markers)
            self.charts.setCurrentWidget(self.lr_chart)
        elif m.lr_plot:  # a past run: only the saved plot is left
            pixmap = QPixmap(m.lr_plot)
            if not pixmap.isNull():
                self.lr_image.setPixmap(pixmap.scaled(760, 380, Qt.AspectRatioMode.KeepAspectRatio,
                                                      Qt.TransformationMode.SmoothTransformation))
                self.charts.setCurrentWidget(self.lr_image)

    def _draw_output(self) -> None:
        m = self.monitor
        lines = m.output if m.command == "baselines" and m.output else list(m.tail)
        if m.command == "baselines" and m.output:
            self.output.setPlainText("\n".join(lines))
            self.output.setMinimumHeight(200)
            return
        if self.monitor.state in (FAILED, CRASHED) and m.reason:
            lines = lines + [f"-- {m.reason}"]
        text = "\n".join(lines)
        if text != self.output.toPlainText():
            self.output.setPlainText(text)
            if m.active or m.state in (FAILED, CRASHED):  # follow a live run; a past run's report reads from the top
                self.output.verticalScrollBar().setValue(self.output.verticalScrollBar().maximum())

    def closeEvent(self, event: QCloseEvent) -> None:
        self.hide()  # the run goes on; the Runs dock reopens this view
        event.ignore()
