"""Label decisions -> the store, with undo/redo and conflict handling.

Every decision, undo and redo is one `store.record_label` call made on the session's single
writer thread (never the GUI thread) and checked against the event the user was looking at
(`expected_event_id`). Only after the commit returns does the undo stack move and the view
advance, so the screen never shows a label that is not on disk. The QUndoStack is the history
of what this window did; its commands never write themselves (the controller writes first,
then moves the stack), so a failed or conflicting write leaves the stack as it was.

Bulk decisions (decide_many) write one event per image, each checked against the event the list
showed; images changed by someone else meanwhile are skipped and reported (no dialog per image).
They form one BulkLabelCommand: one undo step whose undo and redo again write an event per image.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from binaudit.core import labels as L
from binaudit.core.labels import EffectiveLabel, LabelEvent, StaleLabelError
from binaudit.gui.common import workers
from binaudit.gui.common.errors import user_message
from binaudit.gui.common.session import WorkspaceSession

log = logging.getLogger("binaudit.gui")

KEEP_MINE = "mine"
TAKE_THEIRS = "theirs"


def count_status(count: int | None, recorded: int | None) -> str:
    """The status of a counted label: confirmed when it agrees with the recorded count, else corrected."""
    return L.CONFIRMED if recorded == count else L.CORRECTED


@dataclass(frozen=True)
class LabelState:
    """A label as the undo stack remembers it."""

    status: str
    count: int | None = None
    reason: str | None = None

    @classmethod
    def of(cls, label: EffectiveLabel | LabelEvent) -> LabelState:
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
    expected_event_id: int | None
    predictions: dict[str, Any] | None = None


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

    def __init__(self, image_id: str, before: LabelState, after: LabelState):
        super().__init__(f"{image_id}: {after.describe()}")
        self.image_id, self.before, self.after = image_id, before, after

    def redo(self) -> None:
        pass  # QUndoStack.push calls redo(); the controller has stored the decision already

    def undo(self) -> None:
        pass


@dataclass(frozen=True)
class BulkItem:
    """One image of a bulk step: its label before and after."""

    image_id: str
    before: LabelState
    after: LabelState


@dataclass
class BulkResult:
    """What a bulk write did: items stored, images skipped as changed by someone else, an error that stopped it."""

    items: list[BulkItem] = field(default_factory=list)
    event_ids: dict[str, int] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    error: BaseException | None = None

    def message(self, verb: str) -> str:
        text = f"{verb}: {len(self.items)} label event(s) written"
        if self.stale:
            more = "\u2026" if len(self.stale) > 5 else ""
            text += (f"; {len(self.stale)} changed by someone else since you selected them "
                     f"were left as they are ({', '.join(self.stale[:5])}{more})")
        if self.error is not None:
            text += f"; stopped: {user_message(self.error)}"
        return text + "."


class BulkLabelCommand(QUndoCommand):
    """One bulk decision over many images: a single undo step (its undo/redo write one event per image)."""

    def __init__(self, title: str, items: list[BulkItem]):
        super().__init__(title)
        self.items = items

    def redo(self) -> None:
        pass  # written by the controller before the push, and again by the controller on redo

    def undo(self) -> None:
        pass


class LabelController(QObject):
    """Turns decisions, undo and redo into store events (see the module docstring)."""

    written = Signal(str, object, str)   # image_id, LabelEvent, operation ("label", "undo", "redo")
    declined = Signal(str)               # image_id whose conflict the user resolved by taking theirs
    failed = Signal(str)                 # a message for the user; nothing was written
    bulkWritten = Signal(list, str)      # image ids whose labels a bulk step (or its undo/redo) changed, message
    busyChanged = Signal(bool)

    def __init__(self, session: WorkspaceSession, user: Callable[[], str | None],
                 resolve_conflict: Callable[[Conflict], str], parent: QObject | None = None):
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

    def _ready(self) -> str | None:
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
        self.stack.push(LabelCommand(image_id, before, after))

    # ------------------------------------------------------------------ undo / redo
    def undo(self) -> bool:
        if not self.stack.canUndo():
            return False
        user = self._ready()
        if user is None:
            return False
        cmd = self.stack.command(self.stack.index() - 1)
        if isinstance(cmd, BulkLabelCommand):
            self._write_bulk(user, [(i.image_id, i.before, self._expected(i.image_id), None) for i in cmd.items],
                             "undo", lambda result: self._bulk_moved(result, self.stack.undo, f"Undone: {cmd.text()}"))
            return True
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
        cmd = self.stack.command(self.stack.index())
        if isinstance(cmd, BulkLabelCommand):
            self._write_bulk(user, [(i.image_id, i.after, self._expected(i.image_id), None) for i in cmd.items],
                             "redo", lambda result: self._bulk_moved(result, self.stack.redo, f"Redone: {cmd.text()}"))
            return True
        self._write(user, cmd.image_id, cmd.after, self._expected(cmd.image_id), "redo", None,
                    on_stored=lambda event: self.stack.redo(),
                    on_declined=lambda: self._drop(cmd, self.stack.redo))
        return True

    def _expected(self, image_id: str) -> int | None:
        latest = self._latest_own.get(image_id)
        return latest if latest is not None else self.session.store.effective_label(image_id).event_id

    @staticmethod
    def _drop(cmd: LabelCommand, move: Callable[[], None]) -> None:
        """The user kept another auditor's label over this step: remove the step from the history."""
        cmd.setObsolete(True)
        move()

    # ------------------------------------------------------------------ the write
    def _write(self, user: str, image_id: str, state: LabelState, expected: int | None, operation: str,
               predictions: dict[str, Any] | None, on_stored: Callable[[LabelEvent], None],
               on_declined: Callable[[], None] | None = None, action: str | None = None) -> None:
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
                  predictions: dict[str, Any] | None, on_stored: Callable[[LabelEvent], None],
                  on_declined: Callable[[], None] | None, exc: StaleLabelError) -> None:
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

    # ------------------------------------------------------------------ bulk decisions
    def decide_many(self, title: str, decisions: list[Decision]) -> bool:
        """Store one decision per image (event by event, each checked against the event the list showed)
        and push them as one undo step. Images changed by someone else meanwhile are skipped and reported."""
        user = self._ready()
        if user is None or not decisions:
            return False
        entries = [(d.image_id, d.after, d.expected_event_id, d.predictions) for d in decisions]

        def stored(result: BulkResult) -> None:
            if result.items:
                self.stack.push(BulkLabelCommand(title, result.items))
            self.bulkWritten.emit([i.image_id for i in result.items], result.message(title))

        self._write_bulk(user, entries, "bulk", stored)
        return True

    def _bulk_moved(self, result: BulkResult, move: Callable[[], None], verb: str) -> None:
        move()
        self.bulkWritten.emit([i.image_id for i in result.items], result.message(verb))

    def _write_bulk(self, user: str, entries: list[tuple[str, LabelState, int | None, dict[str, Any] | None]],
                    operation: str, on_stored: Callable[[BulkResult], None]) -> None:
        """Write (image, state, expected event, predictions) entries one event each, on the writer thread."""
        writer = self.session.writer
        self._set_busy(True)

        def work() -> BulkResult:
            result = BulkResult()
            for image_id, state, expected, predictions in entries:
                try:
                    event = writer.record_label(image_id, user=user, expected_event_id=expected, predictions=predictions,
                                                action=operation, **state.event_fields())
                except StaleLabelError:
                    result.stale.append(image_id)
                    continue
                except Exception as exc:  # disk full, database gone: keep what was stored, report the rest
                    result.error = exc
                    break
                previous = writer.get_event(event.previous_event_id) if event.previous_event_id else None
                before = LabelState.of(previous) if previous is not None else LabelState(L.RECORDED)
                result.items.append(BulkItem(image_id, before, state))
                result.event_ids[image_id] = event.id
            return result

        def done(result: BulkResult) -> None:
            try:
                if self.session.closed:
                    return
                for image_id, event_id in result.event_ids.items():
                    self._latest_own[image_id] = event_id
                    self.session.own_event_ids.add(event_id)
                on_stored(result)
                self.session.refresh_rows(list(result.event_ids) + result.stale)
            finally:
                self._set_busy(False)

        def fail(exc: BaseException) -> None:
            self._set_busy(False)
            if not self.session.closed:
                log.error("a bulk label write failed: %s", getattr(exc, "__traceback_text__", exc))
                self.failed.emit(f"The labels were not saved: {user_message(exc)}")

        workers.start(work, on_done=done, on_error=fail, pool=self.session.write_pool, owner=self)

    def clear(self) -> None:
        self.stack.clear()
        self._latest_own.clear()
