"""The audit loop in the app: fold the auditors' verified counts back into the queue without blocking them.

An update (Label > Update the Queue, or automatically after every N decisions, N a setting) runs
core.audit.loop.update_queue in a worker on its own store connection (and its own browse index): it fits
the recalibration on the standing reviews and records it as the update in force. Back on the GUI thread the
app's browse index takes it (apply_queue_update: the audit queue's scores and order follow), the list is
recomputed keeping the auditor's bin and place on screen (browse.place), and the status bar says what
changed. Labelling goes on meanwhile: decisions are written by the session's writer thread as always, and
the undo history is the label controller's, which an update never touches. An index loaded later (F5, a
model activated) reads the latest update from the store by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal

from binaudit.core.audit.loop import QueueUpdate, update_queue
from binaudit.core.browse import BrowseIndex
from binaudit.core.store import Store
from binaudit.gui.audit.order import OrderChange, order_change, unreviewed_queue_ids
from binaudit.gui.common import settings, workers
from binaudit.gui.common.errors import user_message
from binaudit.gui.common.session import WorkspaceSession

log = logging.getLogger("binaudit.gui")


@dataclass(frozen=True)
class Fitted:
    """A recorded update and the app index's logit P(variance) under it, computed in the worker."""

    update: QueueUpdate
    index: BrowseIndex
    logits: np.ndarray


def run_update(db_path: str, user: str, index: BrowseIndex) -> Fitted:
    """One queue update on a connection of its own (a worker thread), then the app index's new P(variance)
    under it (read-only arithmetic over the index's model columns, so the GUI thread does not do it)."""
    with Store.open(db_path) as store:
        update = update_queue(store, user=user)
    return Fitted(update, index, index.queue_update_logits(update.row))


@dataclass(frozen=True)
class UpdateOutcome:
    """What one update did: the loop's QueueUpdate and how the queue's order moved."""

    update: QueueUpdate
    change: OrderChange
    automatic: bool

    def describe(self) -> str:
        u = self.update
        found = f"{u.positives} variance{'s' if u.positives != 1 else ''} found"
        return f"Queue updated from {u.reviewed:,} reviews: {found}; {self.change.describe()}."


class QueueUpdater(QObject):
    """Runs queue updates for the open workspace (see the module docstring).

    `relist()` recomputes the list's rows (keeping the place) once the index took an update. started(automatic)
    when an update begins; updated(UpdateOutcome) once the new order is on screen; failed(message);
    message(text, ms) for the status bar.
    """

    started = Signal(bool)
    updated = Signal(object)
    failed = Signal(str)
    message = Signal(str, int)

    def __init__(self, auditor: Callable[[], str | None], parent: QObject | None = None):
        super().__init__(parent)
        self.auditor = auditor
        self.session: WorkspaceSession | None = None
        self.relist: Callable[[], None] = lambda: None
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.since_update = 0  # decisions made since the last update began
        self.applied: dict[str, Any] | None = None  # the queue_updates row this window put in force last
        self._task: workers.Task | None = None
        self._automatic = False

    @property
    def running(self) -> bool:
        """An update is in flight (fitting in the worker, or comparing the orders)."""
        return self._task is not None

    @staticmethod
    def every() -> int:
        """Decisions between automatic updates (0: only when asked)."""
        return max(0, settings.get_int(settings.QUEUE_UPDATE_EVERY, settings.DEFAULT_QUEUE_UPDATE_EVERY))

    def set_session(self, session: WorkspaceSession | None, relist: Callable[[], None] | None = None) -> None:
        """The workspace whose queue is updated (None: closing; a running update's result is dropped)."""
        if self.session is not None:
            try:
                self.session.indexLoaded.disconnect(self._index_loaded)
            except (RuntimeError, TypeError):
                pass
        if self._task is not None:
            self._task.cancel()
        self.session, self.relist = session, relist or (lambda: None)
        self.since_update, self.applied, self._task = 0, None, None
        if session is not None:
            session.indexLoaded.connect(self._index_loaded)

    # ------------------------------------------------------------------ triggers
    def decided(self, count: int = 1) -> bool:
        """`count` decisions were stored; start an automatic update when N have been made since the last one."""
        self.since_update += count
        n = self.every()
        if n and self.since_update >= n and not self.running:
            return self.update(automatic=True)
        return False

    def update(self, automatic: bool = False) -> bool:
        """Start an update in the background; False (with a message) when it cannot start now."""
        session = self.session
        if session is None or not session.loaded:
            return False
        if self.running:
            if not automatic:
                self.message.emit("The queue is already being updated.", 5000)
            return False
        if session.readonly:
            self.message.emit("This workspace is open read-only: the queue cannot be updated.", 8000)
            return False
        user = self.auditor()
        if not user:
            self.message.emit("A queue update needs the auditor's name (File > Auditor Name).", 8000)
            return False
        self._automatic = automatic
        self.since_update = 0
        self._task = workers.start(run_update, str(session.workspace.db_path), user, session.index,
                                   on_done=self._fitted, on_error=self._failed, pool=self.pool, owner=self)
        self.started.emit(automatic)
        self.message.emit("Updating the queue from the reviews in the background\u2026", 4000)
        return True

    # ------------------------------------------------------------------ the update's steps
    def _fitted(self, fitted: Fitted) -> None:
        """The recalibration is recorded: the index takes it, the list follows, the orders are compared."""
        session, update = self.session, fitted.update
        if session is None or session.closed:
            self._task = None
            return
        before = unreviewed_queue_ids(session.index)
        self.applied = update.row
        same_index = session.index is fitted.index  # else it was reloaded meanwhile: it computes its own
        session.index.apply_queue_update(update.row, fitted.logits if same_index else None)
        self.relist()
        after = unreviewed_queue_ids(session.index)
        self._task = workers.start(order_change, before, after, on_done=lambda change: self._compared(update, change),
                                   on_error=self._failed, pool=self.pool, owner=self)

    def _compared(self, update: QueueUpdate, change: OrderChange) -> None:
        """Say what changed; run again when N more decisions came in meanwhile."""
        self._task = None
        outcome = UpdateOutcome(update, change, self._automatic)
        self.message.emit(outcome.describe(), 15000)
        self.updated.emit(outcome)
        n = self.every()
        if n and self.since_update >= n:
            self.update(automatic=True)

    def _index_loaded(self) -> None:
        """An index that began loading before the latest update was recorded lacks it: put it in force."""
        session, row = self.session, self.applied
        if session is None or row is None:
            return
        current = session.index.queue_update
        if current is None or current.id < int(row["id"]):
            session.index.apply_queue_update(row)
            self.relist()

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        log.error("updating the queue failed: %s", getattr(exc, "__traceback_text__", exc))
        text = f"The queue was not updated: {user_message(exc)}"
        self.message.emit(text, 10000)
        self.failed.emit(text)
