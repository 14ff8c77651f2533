"""A training run as the app sees it: `python -m training ...` in a QProcess, followed through its JSON-lines stream.

The folding of the stream into state lives in training.run_state (Qt-free); RunMonitor is its thin Qt
face, re-emitting every change as a signal. TrainingProcess feeds it from a QProcess; a past run is
replayed into a plain RunMonitor from its run directory. The process is never waited on: output
arrives through signals, so the GUI stays responsive.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from training.run_state import CRASHED, RunState, replay

log = logging.getLogger("binaudit.gui")

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
    """One run's RunState with signals: `changed` after each event, `ended(state)` once at the end.

    Reads of the state's fields and queries (state, epochs, fraction(), status_text(), ...) go
    through to the RunState in `run`; only the state changes it.
    """

    changed = Signal()
    eventReceived = Signal(dict)
    ended = Signal(str)

    def __init__(self, command: str, title: str, parent: QObject | None = None, run: RunState | None = None):
        super().__init__(parent)
        self.run = run if run is not None else RunState(command, title)

    def __getattr__(self, name: str) -> Any:
        if name == "run":  # not set yet (during construction)
            raise AttributeError(name)
        return getattr(self.run, name)

    def handle(self, event: dict[str, Any]) -> None:
        """Fold one stream event into the state and say so."""
        self.run.handle(event)
        self.eventReceived.emit(event)
        self.changed.emit()

    def finish(self, state: str, reason: str = "") -> None:
        """The run is over (only the first call counts): FINISHED/FAILED/CANCELLED, or CRASHED."""
        if self.run.finish(state, reason):
            self.changed.emit()
            self.ended.emit(state)


class TrainingProcess(RunMonitor):
    """One `python -m training` subprocess (see the module docstring). cancel() asks it to stop cleanly."""

    def __init__(self, request: TrainingRequest, parent: QObject | None = None):
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
        self.process.started.connect(lambda: setattr(self.run, "pid", int(self.process.processId()) or self.run.pid))
        self._stdout_buffer = b""
        self._stderr_buffer = b""
        self._kill_timer = QTimer(self, singleShot=True, interval=KILL_AFTER_MS)
        self._kill_timer.timeout.connect(self.kill)

    def start(self) -> None:
        log.info("starting training: %s", self.request.command_line())
        self.tail.append(f"$ {self.request.command_line()}")
        self.process.start(sys.executable, self.request.argv())
        self.run.pid = int(self.process.processId()) or None

    def cancel(self) -> None:
        """SIGTERM: the module stops after the current batch, saves a checkpoint and emits "cancelled"."""
        if not self.active or self.process.state() == QProcess.ProcessState.NotRunning:
            return
        self.cancel_requested = True
        self.run.reason = "stopping after the current batch\u2026"
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
        event = self.run.read_line(line)
        if event is not None:
            self.handle(event)
        else:
            self.changed.emit()  # a line of plain output

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
        self.finish(*self.run.exit_outcome(code, crashed, self.cancel_requested))

    def _process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.tail.append(self.process.errorString())
            self.finish(CRASHED, f"the training process could not start: {self.process.errorString()}")


def replay_run(run: dict[str, Any], parent: QObject | None = None) -> RunMonitor:
    """A finished (or abandoned) run from the store, with its epochs read back from metrics.jsonl."""
    state = replay(run)
    return RunMonitor(state.command, state.title, parent, run=state)
