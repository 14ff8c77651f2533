"""A training run as the app sees it: `python -m training ...` in a QProcess, followed through its JSON-lines stream.

RunMonitor folds the stream's events (docs/TRAINING.md) into state the views draw: epochs, batch
losses, LR finder points, progress and ETA, the final outcome. TrainingProcess feeds it from a
QProcess; a past run is replayed into a plain RunMonitor from its run directory (metrics.jsonl).
The process is never waited on: output arrives through signals, so the GUI stays responsive.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

log = logging.getLogger("binaudit.gui")

STARTING, RUNNING, FINISHED, FAILED, CANCELLED, CRASHED = (
    "starting", "running", "finished", "failed", "cancelled", "crashed")
FINAL_EVENTS = (FINISHED, FAILED, CANCELLED)
TAIL_LINES = 40
KILL_AFTER_MS = 30_000  # a cancelled run that has not stopped by then is killed


@dataclass
class TrainingRequest:
    """What to run: `python -m training <command> --db <db> <args>` (args without --db)."""

    command: str                     # resnet | svm | lr-find | baselines
    db_path: str
    args: list[str] = field(default_factory=list)
    title: str = ""

    def argv(self) -> list[str]:
        return ["-m", "training", self.command, "--db", self.db_path, *self.args]

    def command_line(self) -> str:
        return " ".join(["python", *(a if a and " " not in a else repr(a) for a in self.argv())])


class RunMonitor(QObject):
    """State of one run learned from its events; `changed` after each, `ended(state)` once at the end."""

    changed = Signal()
    eventReceived = Signal(dict)
    ended = Signal(str)

    def __init__(self, command: str, title: str, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.command, self.title = command, title or command
        self.state = STARTING
        self.events: list[dict[str, Any]] = []
        self.epochs: list[dict[str, Any]] = []
        self.batch_losses: list[tuple[float, float]] = []   # (fractional epoch, loss)
        self.lr_points: list[tuple[float, float]] = []
        self.lr_suggestion: Optional[float] = None
        self.lr_plot: Optional[str] = None
        self.started: dict[str, Any] = {}
        self.final: Optional[dict[str, Any]] = None
        self.run_id: Optional[int] = None
        self.run_dir: Optional[str] = None
        self.model_id: Optional[int] = None
        self.pid: Optional[int] = None
        self.total_epochs = 0
        self.stage = ""
        self.stage_done = 0
        self.stage_total = 0
        self.position = 0.0            # epochs done, fractional (batch events)
        self.reason = ""
        self.start_time = time.time()
        self.end_time: Optional[float] = None
        self.output: list[str] = []    # non-JSON stdout lines (the baselines table)
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)  # last lines of stdout and stderr together

    # ------------------------------------------------------------------ events
    def handle(self, event: dict[str, Any]) -> None:
        """Fold one stream event into the state (unknown events are kept but otherwise ignored)."""
        kind = event.get("event")
        self.events.append(event)
        if kind == "started":
            self.started = event
            self.state = RUNNING
            self.run_id, self.run_dir = event.get("run_id"), event.get("run_dir")
            self.total_epochs = int(event.get("epochs") or 0)
            self.pid = event.get("pid") or self.pid
            self.start_time = float(event.get("time") or self.start_time)
        elif kind == "progress":
            self.stage = str(event.get("stage", ""))
            self.stage_done, self.stage_total = int(event.get("done") or 0), int(event.get("total") or 0)
        elif kind == "batch":
            batches = max(1, int(event.get("batches") or 1))
            self.position = int(event.get("epoch", 1)) - 1 + int(event.get("batch", 0)) / batches
            if event.get("loss") is not None:
                self.batch_losses.append((self.position, float(event["loss"])))
            of = f"/{self.total_epochs}" if self.total_epochs else ""
            self.stage = f"epoch {event.get('epoch')}{of}, batch"
            self.stage_done, self.stage_total = int(event.get("batch", 0)), batches
        elif kind == "epoch":
            self.epochs.append(event)
            self.position = float(event.get("epoch", len(self.epochs)))
        elif kind == "lr_finder":
            if event.get("suggestion") is not None:
                self.lr_suggestion, self.lr_plot = float(event["suggestion"]), event.get("plot")
            elif event.get("lr") is not None and event.get("loss") is not None:
                self.lr_points.append((float(event["lr"]), float(event["loss"])))
        elif kind in FINAL_EVENTS:
            self.final = event
            self.state = str(kind)  # the process may take a moment to exit; finish() follows
            self.reason = str(event.get("reason") or "")
            self.run_id = event.get("run_id", self.run_id)
            self.run_dir = event.get("run_dir", self.run_dir)
            self.model_id = event.get("model_id")
            metrics = event.get("metrics") or {}
            if kind == FINISHED and self.command == "lr-find":
                self.lr_suggestion = metrics.get("suggestion", self.lr_suggestion)
                self.lr_plot = metrics.get("plot", self.lr_plot)
        self.eventReceived.emit(event)
        self.changed.emit()

    def finish(self, state: str, reason: str = "") -> None:
        """The run is over (called once): FINISHED/FAILED/CANCELLED from the final event, or CRASHED."""
        if self.end_time is not None:
            return
        self.state, self.end_time = state, time.time()
        if reason:
            self.reason = reason
        self.changed.emit()
        self.ended.emit(state)

    # ------------------------------------------------------------------ derived
    @property
    def active(self) -> bool:
        return self.end_time is None

    def elapsed(self) -> float:
        return (self.end_time or time.time()) - self.start_time

    def fraction(self) -> Optional[float]:
        """How far the run is (0..1): epochs for ResNet runs, else the current stage's share; None if unknown."""
        if self.state == FINISHED:
            return 1.0
        if self.total_epochs > 0 and (self.epochs or self.batch_losses):
            return min(1.0, self.position / self.total_epochs)
        if self.stage_total > 0:
            return min(1.0, self.stage_done / self.stage_total)
        return None

    def eta_seconds(self) -> Optional[float]:
        """Seconds left, extrapolated from the epochs so far (ResNet runs only; None before the first batch)."""
        if not self.active or self.total_epochs <= 0 or self.position <= 0:
            return None
        first = next((e for e in self.events if e.get("event") in ("batch", "epoch")), None)
        if first is None:
            return None
        spent = time.time() - float(first.get("time") or self.start_time)
        per_epoch = spent / max(self.position - self._first_position(first), 1e-6)
        return max(0.0, (self.total_epochs - self.position) * per_epoch)

    @staticmethod
    def _first_position(first: dict[str, Any]) -> float:
        if first.get("event") == "batch":
            return int(first.get("epoch", 1)) - 1 + int(first.get("batch", 0)) / max(1, int(first.get("batches") or 1))
        return float(first.get("epoch", 1))

    def status_text(self) -> str:
        """One line for the runs panel and the dialog's header."""
        if self.state == STARTING:
            return "starting\u2026"
        if self.state == RUNNING:
            parts = []
            if self.stage:
                parts.append(f"{self.stage} {self.stage_done}/{self.stage_total}" if self.stage_total else self.stage)
            if self.epochs:
                last = self.epochs[-1]
                parts.append(f"val acc {_pct(last.get('val_acc'))}")
            return "running: " + " \u00b7 ".join(parts) if parts else "running"
        if self.state == FINISHED:
            m = (self.final or {}).get("metrics") or {}
            if self.command == "lr-find":
                return f"finished: suggested lr {self.lr_suggestion:.2g}" if self.lr_suggestion else "finished"
            if "accuracy" in m:
                return (f"finished: model #{self.model_id}, {m.get('split', 'test')} accuracy "
                        f"{_pct(m.get('accuracy'))}, RMSE {_num(m.get('rmse'))}")
            return "finished"
        return f"{self.state}: {self.reason}" if self.reason else self.state

    def tail_text(self, lines: int = 15) -> str:
        return "\n".join(list(self.tail)[-lines:])


def _pct(v: Any) -> str:
    return "\u2013" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * float(v):.1f}%"


def _num(v: Any) -> str:
    return "\u2013" if v is None else f"{float(v):.3f}"


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "\u2013"
    s = int(round(seconds))
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


class TrainingProcess(RunMonitor):
    """One `python -m training` subprocess (see the module docstring). cancel() asks it to stop cleanly."""

    def __init__(self, request: TrainingRequest, parent: Optional[QObject] = None):
        super().__init__(request.command, request.title, parent)
        self.request = request
        self.cancel_requested = False
        self.process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        self.process.setProcessEnvironment(env)
        self.process.setWorkingDirectory(str(Path(request.db_path).parent))
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._process_finished)
        self.process.errorOccurred.connect(self._process_error)
        self.process.started.connect(lambda: setattr(self, "pid", int(self.process.processId()) or self.pid))
        self._stdout_buffer = b""
        self._stderr_buffer = b""
        self._kill_timer = QTimer(self, singleShot=True, interval=KILL_AFTER_MS)
        self._kill_timer.timeout.connect(self.kill)

    def start(self) -> None:
        log.info("starting training: %s", self.request.command_line())
        self.tail.append(f"$ {self.request.command_line()}")
        self.process.start(sys.executable, self.request.argv())
        self.pid = int(self.process.processId()) or None

    def cancel(self) -> None:
        """SIGTERM: the module stops after the current batch, saves a checkpoint and emits "cancelled"."""
        if not self.active or self.process.state() == QProcess.ProcessState.NotRunning:
            return
        self.cancel_requested = True
        self.reason = "stopping after the current batch\u2026"
        self.process.terminate()
        self._kill_timer.start()
        self.changed.emit()

    def kill(self) -> None:
        if self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()

    def wait_stopped(self, ms: int) -> bool:
        """Block up to ms for the process to exit (only when the app is quitting)."""
        return self.process.state() == QProcess.ProcessState.NotRunning or self.process.waitForFinished(ms)

    # ------------------------------------------------------------------ output
    def _read_stdout(self) -> None:
        self._stdout_buffer += bytes(self.process.readAllStandardOutput().data())
        *lines, self._stdout_buffer = self._stdout_buffer.split(b"\n")
        for raw in lines:
            self._stdout_line(raw.decode("utf-8", "replace").rstrip("\r"))

    def _stdout_line(self, line: str) -> None:
        if not line.strip():
            return
        event = None
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                event = None
        if isinstance(event, dict) and "event" in event:
            if event["event"] == "started":
                self.tail.append(f"[stream] started run {event.get('run_id')} ({event.get('kind')}, "
                                 f"{event.get('recipe')}, device {event.get('device')})")
            elif event["event"] in FINAL_EVENTS:
                self.tail.append(f"[stream] {event['event']}: {event.get('reason') or ''}")
            self.handle(event)
        else:
            self.output.append(line)
            self.tail.append(line)
            self.changed.emit()

    def _read_stderr(self) -> None:
        self._stderr_buffer += bytes(self.process.readAllStandardError().data())
        *lines, self._stderr_buffer = self._stderr_buffer.split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip()
            if text:
                self.tail.append(text)

    def _flush(self) -> None:
        self._read_stdout()
        self._read_stderr()
        for rest, is_stdout in ((self._stdout_buffer, True), (self._stderr_buffer, False)):
            text = rest.decode("utf-8", "replace").strip()
            if text:
                self._stdout_line(text) if is_stdout else self.tail.append(text)
        self._stdout_buffer = self._stderr_buffer = b""

    # ------------------------------------------------------------------ the end
    def _process_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        self._flush()
        crashed = status == QProcess.ExitStatus.CrashExit
        how = "was killed (ended by a signal or crashed)" if crashed else f"exited with code {code}"
        if self.final is not None:
            self.finish(str(self.final["event"]))
        elif self.cancel_requested:
            self.finish(CANCELLED, "stopped before it could save a checkpoint")
        elif self.command == "baselines" and not crashed and code == 0:
            self.finish(FINISHED, "done")
        else:
            self.finish(CRASHED, f"the training process {how} without a final event")

    def _process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.tail.append(self.process.errorString())
            self.finish(CRASHED, f"the training process could not start: {self.process.errorString()}")


def replay_run(run: dict[str, Any], parent: Optional[QObject] = None) -> RunMonitor:
    """A finished (or abandoned) run from the store, with its epochs read back from metrics.jsonl."""
    command = str(run.get("kind") or "run")
    title = {"resnet": "ResNet run", "svm": "SVM run", "lr-find": "Learning-rate range test"}.get(command, "Run")
    monitor = RunMonitor(command, title, parent)
    monitor.run_id, monitor.run_dir, monitor.model_id = run["id"], run.get("run_dir"), run.get("model_id")
    config = run.get("config") if isinstance(run.get("config"), dict) else {}
    run_dir = Path(run["run_dir"]) if run.get("run_dir") else None
    rows: list[dict[str, Any]] = []
    if run_dir is not None and (run_dir / "metrics.jsonl").is_file():
        try:
            rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
        except (OSError, ValueError):
            rows = []
    monitor.total_epochs = max([int(r.get("epoch", 0)) for r in rows] + [int(config.get("epochs") or 0)])
    for row in rows:
        monitor.handle({"event": "epoch", **row})
    plot = run_dir / "lr_finder.png" if run_dir is not None else None
    if plot is not None and plot.is_file():
        monitor.lr_plot = str(plot)
    metrics = run.get("metrics") if isinstance(run.get("metrics"), dict) else {}
    status = str(run.get("status") or "")
    monitor.final = {"event": status, "metrics": metrics, "model_id": run.get("model_id"),
                     "reason": run.get("reason") or ""}
    if command == "lr-find":
        monitor.lr_suggestion = metrics.get("suggestion")
    monitor.state = status if status in FINAL_EVENTS else (RUNNING if status == "running" else status or FAILED)
    monitor.reason = str(run.get("reason") or "")
    monitor.start_time = _timestamp(run.get("started_at")) or monitor.start_time
    monitor.end_time = None if status == "running" else (_timestamp(run.get("finished_at")) or monitor.start_time)
    report = run_dir / "report.md" if run_dir is not None else None
    if report is not None and report.is_file():
        monitor.tail.extend(report.read_text(errors="replace").splitlines()[:TAIL_LINES])
    if status == "running" and run.get("pid") and not _alive(int(run["pid"])):
        monitor.state, monitor.end_time = CRASHED, time.time()
        monitor.reason = "the training process is gone without a final event"
    return monitor


def _timestamp(iso: Any) -> Optional[float]:
    try:
        return datetime.fromisoformat(str(iso)).timestamp() if iso else None
    except ValueError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
