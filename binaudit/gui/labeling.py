"""Label decisions -> the store, with undo/redo and conflict handling.

Every decision, undo and redo is one `store.record_label` call made on the session's single
writer thread (never the GUI thread) and checked against the event the user was looking at
(`expected_event_id`). Only after the commit returns does the undo stack move and the view
advance, so the screen never shows a label that is not on disk. The QUndoStack is the history
of what this window did; its commands never write themselves (the controller writes first,
then moves the stack), so a failed or conflicting write leaves the stack as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from binaudit.core import labels as L
from binaudit.core.labels import EffectiveLabel, LabelEvent, StaleLabelError
from binaudit.gui import workers
from binaudit.gui.errors import user_message
from binaudit.gui.session import WorkspaceSession

log = logging.getLogger("binaudit.gui")

KEEP_MINE = "mine"
TAKE_THEIRS = "theirs"


@dataclass(frozen=True)
class LabelState:
    """A label as the undo stack remembers it."""

    status: str
    count: Optional[int] = None
    reason: Optional[str] = None

    @classmethod
    def of(cls, label: EffectiveLabel | LabelEvent) -> "LabelState":
        return cls(label.status, label.count, label.reason)

    def event_fields(self) -> dict[str, Any]:
        """record_label arguments that bring an image back to this state."""
        if self.status in (L.RECORDED, L.RESET):
            return {"status": L.RESET, "count": None, "reason": None}
        if self.status in (L.CONFIRMED, L.CORRECTED):
            return {"status": self.status, "count": self.count, "reason": None}
        return {"status": self.status, "count": None, "reason": self.reason}

    def describe(self) -> str:
        return L.describe_label(self.status, self.count, self.reason)


@dataclass(frozen=True)
class Decision:
    """What the user decided about the image on screen, and what they were looking at."""

    image_id: str
    after: LabelState
    expected_event_id: Optional[int]
    predictions: Optional[dict[str, Any]] = None


@dataclass
class Conflict:
    """Someone else changed the image since it was shown; the resolver picks mine or theirs."""

    image_id: str
    operation: str                 # "label", "undo" or "redo"
    mine: LabelState
    theirs: EffectiveLabel
    extra: dict[str, Any] = field(default_factory=dict)


class LabelCommand(QUndoCommand):
    """One applied decision. undo()/redo() only notify: the controller has written the event already."""

    def __init__(self, controller: "LabelController", image_id: str, before: LabelState, after: LabelState):
        super().__init__(f"{image_id}: {after.describe()}")
        self.controller, self.image_id, self.before, self.after = controller, image_id, before, after
        self._pushed = False

    def redo(self) -> None:
        if not self._pushed:  # QUndoStack.push calls redo(); the decision is already stored
            self._pushed = True

    def undo(self) -> None:
        pass


class LabelController(QObject):
    """Turns decisions, undo and redo into store events (see the module docstring)."""

    written = Signal(str, object, str)   # image_id, LabelEvent, operation ("label", "undo", "redo")
    declined = Signal(str)               # image_id whose conflict the user resolved by taking theirs
    failed = Signal(str)                 # a message for the user; nothing was written
    busyChanged = Signal(bool)

    def __init__(self, session: WorkspaceSession, user: Callable[[], Optional[str]],
                 resolve_conflict: Callable[[Conflict], str], parent: Optional[QObject] = None):
        super().__init__(parent)
        self.session = session
        self.user = user
        self.resolve_conflict = resolve_conflict
        self.stack = QUndoStack(self)
        self.stack.setUndoLimit(0)
        self._latest_own: dict[str, int] = {}  # image -> the last event this window wrote for it
        self._busy = False

    @property
    def busy(self) -> bool:
        return self._busy

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    def _ready(self) -> Optional[str]:
        """The auditor's name when a write may start now; otherwise report why not and return None."""
        if self._busy:
            self.failed.emit("Still saving the previous label; try again in a moment.")
            return None
        if self.session.readonly or self.session.writer is None:
            self.failed.emit("This workspace is open read-only; labels cannot be saved. "
                             "Open a copy in a writable folder.")
            return None
        name = self.user()
        if not name:
            self.failed.emit("Labels need the auditor's name; nothing was saved.")
            return None
        return name

    # ------------------------------------------------------------------ decisions
    def decide(self, decision: Decision) -> bool:
        """Store a decision (off the GUI thread); written/failed/declined report the outcome."""
        user = self._ready()
        if user is None:
            return False
        self._write(user, decision.image_id, decision.after, decision.expected_event_id, "label",
                    decision.predictions, on_stored=lambda event: self._push(decision.image_id, event, decision.after))
        return True

    def _push(self, image_id: str, event: LabelEvent, after: LabelState) -> None:
        """Record the stored decision in the undo history; its 'before' is the event it replaced."""
        previous = self.session.store.get_event(event.previous_event_id) if event.previous_event_id else None
        before = LabelState.of(previous) if previous is not None else LabelState(L.RECORDED)
        self.stack.push(LabelCommand(self, image_id, before, after))

    # ------------------------------------------------------------------ undo / redo
    def undo(self) -> bool:
        if not self.stack.canUndo():
            return False
        user = self._ready()
        if user is None:
            return False
        cmd: LabelCommand = self.stack.command(self.stack.index() - 1)
        self._write(user, cmd.image_id, cmd.before, self._expected(cmd.image_id), "undo", None,
                    on_stored=lambda event: self.stack.undo(),
                    on_declined=lambda: self._drop(cmd, self.stack.undo))
        return True

    def redo(self) -> bool:
        if not self.stack.canRedo():
            return False
        user = self._ready()
        if user is None:
            return False
        cmd: LabelCommand = self.stack.command(self.stack.index())
        self._write(user, cmd.image_id, cmd.after, self._expected(cmd.image_id), "redo", None,
                    on_stored=lambda event: self.stack.redo(),
                    on_declined=lambda: self._drop(cmd, self.stack.redo))
        return True

    def _expected(self, image_id: str) -> Optional[int]:
        latest = self._latest_own.get(image_id)
        return latest if latest is not None else self.session.store.effective_label(image_id).event_id

    @staticmethod
    def _drop(cmd: LabelCommand, move: Callable[[], None]) -> None:
        """The user kept another auditor's label over this step: remove the step from the history."""
        cmd.setObsolete(True)
        move()

    # ------------------------------------------------------------------ the write
    def _write(self, user: str, image_id: str, state: LabelState, expected: Optional[int], operation: str,
               predictions: Optional[dict[str, Any]], on_stored: Callable[[LabelEvent], None],
               on_declined: Optional[Callable[[], None]] = None, action: Optional[str] = None) -> None:
        writer = self.session.writer
        fields = state.event_fields()
        self._set_busy(True)

        def work() -> LabelEvent:
            return writer.record_label(image_id, user=user, expected_event_id=expected,
                                       predictions=predictions, action=action or operation, **fields)

        def done(event: LabelEvent) -> None:
            if self.session.closed:  # stored; the window that asked is closing
                self._set_busy(False)
                return
            self._latest_own[image_id] = event.id
            self.session.own_event_ids.add(event.id)
            try:
                on_stored(event)
                self.session.refresh_rows([image_id])
            finally:
                self._set_busy(False)
            self.written.emit(image_id, event, operation)

        def fail(exc: BaseException) -> None:
            if self.session.closed:
                self._set_busy(False)
                return
            if isinstance(exc, StaleLabelError):  # stays busy until the user has chosen
                self._conflict(user, image_id, state, operation, predictions, on_stored, on_declined, exc)
                return
            self._set_busy(False)
            log.error("saving a label failed: %s", getattr(exc, "__traceback_text__", exc))
            self.failed.emit(f"The label for {image_id} was not saved: {user_message(exc)}")

        workers.start(work, on_done=done, on_error=fail, pool=self.session.write_pool, owner=self)

    def _conflict(self, user: str, image_id: str, state: LabelState, operation: str,
                  predictions: Optional[dict[str, Any]], on_stored: Callable[[LabelEvent], None],
                  on_declined: Optional[Callable[[], None]], exc: StaleLabelError) -> None:
        try:
            self.session.refresh_rows([image_id])
            choice = self.resolve_conflict(Conflict(image_id, operation, state, exc.current))
        except BaseException:
            self._set_busy(False)
            raise
        if choice == KEEP_MINE:
            self._write(user, image_id, state, exc.current.event_id, operation, predictions, on_stored,
                        on_declined, action="conflict-keep" if operation == "label" else operation)
            return
        self._latest_own.pop(image_id, None)
        try:
            if on_declined is not None:
                on_declined()
        finally:
            self._set_busy(False)
        self.declined.emit(image_id)

    def clear(self) -> None:
        self.stack.clear()
        self._latest_own.clear()
