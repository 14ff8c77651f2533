"""Run a Python function on a QThreadPool and get its result back on the GUI thread as a signal."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger("binaudit.gui")


class Cancelled(Exception):
    """A task cancelled before it ran (reported through failed, so its owner always hears back)."""


class TaskSignals(QObject):
    finished = Signal(object)   # the function's return value
    failed = Signal(object)     # the exception (with __traceback_text__ set)
    progress = Signal(int, int)


class Task(QRunnable):
    """fn(*args, **kwargs) in a worker thread; results arrive through queued signals on the GUI thread.

    The signals object lives in the thread that created the task (the GUI thread), so connected
    slots run there. Keep a reference to the task while it runs if you need to cancel it.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any):
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = TaskSignals()
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def run(self) -> None:
        try:
            if self.cancelled:
                raise Cancelled("cancelled before it started")
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # reported to the GUI thread, never lost in the worker
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            try:
                self.signals.failed.emit(exc)
            except RuntimeError:  # the receiver is gone (window closed)
                log.debug("task failure after shutdown: %s", exc)
            return
        try:
            self.signals.finished.emit(result)
        except RuntimeError:
            pass


_running: set[Task] = set()


def start(fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None] | None = None,
          on_error: Callable[[BaseException], None] | None = None, pool: QThreadPool | None = None,
          priority: int = 0, owner: QObject | None = None, **kwargs: Any) -> Task:
    """Start fn in the pool (global by default); on_done/on_error run on the GUI thread.

    With an owner, the callbacks are skipped once the owner has been deleted (a closed window).
    """
    task = Task(fn, *args, **kwargs)
    _running.add(task)

    def gone() -> bool:
        return owner is not None and not shiboken6.isValid(owner)

    def finish(result: Any) -> None:
        _running.discard(task)
        if on_done is not None and not gone():
            on_done(result)

    def fail(exc: BaseException) -> None:
        _running.discard(task)
        if gone() or isinstance(exc, Cancelled):
            return
        if on_error is not None:
            on_error(exc)
        else:
            log.error("background task failed: %s", getattr(exc, "__traceback_text__", exc))

    task.signals.finished.connect(finish)
    task.signals.failed.connect(fail)
    (pool or QThreadPool.globalInstance()).start(task, priority)
    return task


class Job(QObject):
    """Background work with progress and cancel; exactly one of finished(result), cancelled() or
    failed(message) arrives on the GUI thread. Subclasses say what to do in work(); start() runs it
    with `start(...)` above, on `pool` (the global pool by default)."""

    progress = Signal(int, int)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None):
        super().__init__(parent)
        self._cancel = threading.Event()
        self.pool = pool
        self.running = False

    def start(self) -> None:
        """Run work() in a worker thread; its outcome arrives as one of the signals."""
        self.running = True
        start(self.work, self._report_progress, self._cancel.is_set, on_done=self._done, on_error=self._error,
              pool=self.pool, owner=self)

    def work(self, progress: Callable[[int, int], None], cancel: Callable[[], bool]) -> Any:
        """The job itself, in a worker thread: report progress(done, total), stop early when cancel() is true."""
        raise NotImplementedError(f"{type(self).__name__} does not say what to do")

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def _report_progress(self, done: int, total: int) -> None:
        self.progress.emit(done, total)

    def _done(self, result: Any) -> None:
        self.running = False
        self.finished.emit(result)

    def _error(self, exc: BaseException) -> None:
        from binaudit.core.progress import Cancelled as CancelledByUser

        self.running = False
        if isinstance(exc, CancelledByUser):
            self.cancelled.emit()
        else:
            self.failed.emit(self.describe_error(exc))

    def describe_error(self, exc: BaseException) -> str:
        from binaudit.gui.common.errors import user_message

        return user_message(exc)
