"""One open workspace on screen: the browser beside the bin view, and the parts that work on them.

The main window makes a Workbench when a workspace opens: the image loader, BrowserPanel, BinView,
the LabelController with its Decisions and Curation. The workbench keeps the bin view on the
browser's current image, moves on after a decision and shows what other auditors changed. The window
owns the actions and the status bar: it listens to message(text, ms) and countsChanged().
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from PySide6.QtCore import QByteArray, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QVBoxLayout, QWidget

from binaudit.core.labels import LabelEvent
from binaudit.gui.browse.browser import BrowserPanel
from binaudit.gui.browse.table_model import QueueSpec
from binaudit.gui.browse.thumbnails import ImageLoader
from binaudit.gui.common import settings
from binaudit.gui.common.session import WorkspaceSession
from binaudit.gui.review.bin_view import BinView
from binaudit.gui.review.curation import BulkPrompts, Curation
from binaudit.gui.review.decisions import Decisions, LabelPrompts
from binaudit.gui.review.labeling import Conflict, LabelController
from binaudit.gui.shell.photo_splitter import PhotoFirstSplitter

PREFETCH_PHOTOS = 3
HANDLE_W = 7  # the browser/bin view splitter handle: wide enough to grab, drawn so it can be seen
HANDLE_STYLE = ("QSplitter#mainSplitter::handle { background: palette(midlight); border-left: 1px solid palette(mid);"
                " border-right: 1px solid palette(mid); margin: 40px 2px; }"
                "QSplitter#mainSplitter::handle:hover { background: palette(highlight); }")
PHOTO_SHARE = 0.64  # of the width, for the bin view, until the user moves the handle
LIST_MAX_W = 520  # the list's first width at most (a wide window gives the rest to the photo)


class WorkbenchPrompts(LabelPrompts, BulkPrompts, Protocol):
    """Every question the labelling parts ask (shell.dialogs.Prompts answers them)."""

    def conflict(self, conflict: Conflict) -> str: ...


class Workbench(QWidget):
    """See the module docstring. `auditor()` names who labels; `menu_actions` fill the list's context menu."""

    message = Signal(str, int)
    countsChanged = Signal()  # labels were written or refreshed: the reviewed count may have changed

    def __init__(self, session: WorkspaceSession, prompts: WorkbenchPrompts, auditor: Callable[[], str | None],
                 menu_actions: Sequence[QAction | None], width: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.loader = ImageLoader(self, db_path=str(session.workspace.db_path))
        self.browser = BrowserPanel(session, self.loader)
        self.bin_view = BinView(session, self.loader)
        self.controller = LabelController(session, auditor, prompts.conflict, self)
        self.decisions = Decisions(self.bin_view, self.controller, prompts, self)
        self.curation = Curation(session, self.browser, self.controller, prompts, self._first_guess, menu_actions, self)
        self.splitter = self._splitter(width)
        self.bin_view.keep_details_height(settings.get_int(settings.DETAILS_HEIGHT))  # as the user left it
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 0)
        layout.addWidget(self.splitter)
        self._wire()

    def _splitter(self, width: int) -> PhotoFirstSplitter:
        """The browser beside the bin view, split as the user left it last time (else the photo the wider); when
        space runs short the list gives way first (shell.photo_splitter)."""
        splitter = PhotoFirstSplitter()
        splitter.setObjectName("mainSplitter")
        splitter.setHandleWidth(HANDLE_W)
        splitter.setStyleSheet(HANDLE_STYLE)
        splitter.addWidget(self.browser)
        splitter.addWidget(self.bin_view)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        state = settings.get(settings.SPLITTER)
        if not (isinstance(state, QByteArray) and splitter.restore(state)):
            splitter.want(min(1 - PHOTO_SHARE, LIST_MAX_W / max(width, 1000)))
        return splitter

    def _first_guess(self) -> int | None:
        """The bulk count dialog's first guess: the recorded count on screen, none while blind review hides it."""
        return None if self.bin_view.counts_hidden else self.bin_view.recorded

    def _wire(self) -> None:
        s, b, c = self.session, self.browser, self.controller
        s.indexFailed.connect(lambda msg: b.show_message(f"The workspace could not be read: {msg}"))
        s.rowsChanged.connect(self._rows_changed)
        s.externalEvents.connect(self._external_events)
        b.currentImageChanged.connect(self._current_changed)
        c.written.connect(self._written)
        c.bulkWritten.connect(self._bulk_written)
        c.failed.connect(lambda msg: self.message.emit(msg, 8000))
        c.declined.connect(lambda image_id: self.message.emit(f"Kept the other auditor's label for {image_id}.", 8000))
        for part in (self.decisions, self.curation, b):
            part.message.connect(self.message)

    # ------------------------------------------------------------------ reactions
    def _current_changed(self, image_id: str) -> None:
        self.decisions.flush()  # a 1 typed on the bin left behind is recorded for that bin
        self.bin_view.show_image(image_id)
        for upcoming_id, path in self.browser.upcoming(PREFETCH_PHOTOS):
            self.loader.photo(upcoming_id, path, prefetch=True)

    def _written(self, image_id: str, event: LabelEvent, operation: str) -> None:
        verb = {"label": "Saved", "undo": "Undone", "redo": "Redone"}[operation]
        text = f"{verb}: {image_id} \u2192 {event.describe()} (event {event.id})"
        if self.bin_view.blind and operation == "label" and self.bin_view.image_id == image_id:
            text += "  \u00b7  " + self.bin_view.comparison(event.status, event.count, event.reason)
        self.message.emit(text, 8000)
        if operation == "label":
            if self.browser.current_image_id == image_id:
                self.browser.advance()
        elif self.browser.current_image_id != image_id:
            self.browser.select_image(image_id)
        self.countsChanged.emit()

    def _bulk_written(self, _image_ids: list[str], message: str) -> None:
        self.message.emit(message[:1].upper() + message[1:], 10000)
        self.countsChanged.emit()

    def _rows_changed(self, image_ids: list[str]) -> None:
        if self.bin_view.image_id in image_ids:
            self.bin_view.refresh()
        self.countsChanged.emit()

    def _external_events(self, events: list[LabelEvent]) -> None:
        for event in events:
            if event.image_id == self.bin_view.image_id:
                self.bin_view.notify_external(event)
        who = sorted({e.user for e in events})
        self.message.emit(f"{len(events)} label(s) changed by {', '.join(who)}; the list is updated.", 8000)

    # ------------------------------------------------------------------ commands
    def index_loaded(self, queue: QueueSpec | None) -> None:
        """The browse index is in: fill the list (walking `queue` if one is on) and give it the keyboard."""
        self.browser.index_loaded()
        if queue is not None and queue != self.browser.model.queue:  # a reload keeps the place in the queue
            self.browser.set_queue(queue)

    def walk(self, queue: QueueSpec | None) -> bool:
        """Walk a review queue (None: the plain list) from the keyboard; False when the queue is empty."""
        self.browser.set_queue(queue)
        self.browser.focus_view()
        return self.browser.shown_count() > 0

    def counts_text(self) -> str:
        """The status bar's count of images, shown rows and reviewed images ('' while the index loads)."""
        if not self.session.loaded:
            return ""
        index = self.session.index
        reviewed = int(index.reviewed_mask().sum())
        return f"{len(index):,} images \u00b7 {self.browser.shown_count():,} shown \u00b7 {reviewed:,} reviewed"

    def undo(self) -> bool:
        """Undo: a typed 1 still waiting for its second digit is dropped, else the last decision is undone."""
        if self.decisions.cancel_typed():
            self.message.emit("Dropped the typed 1 (nothing was saved).", 4000)
            return True
        return self.controller.undo()

    def go_to_bin(self, image_id: str | None, show: Callable[[str], bool]) -> bool:
        """Show a bin by its exact id (`show` leaves the queue and filters that hide it); say so when none has it."""
        if not image_id or not self.session.loaded:
            return False
        if not self.browser.is_bin_id(image_id):
            self.message.emit(f"No bin has the id \u201c{image_id}\u201d (ids are exact: 1 and 00001 differ).", 8000)
            return False
        found = show(image_id)
        self.browser.focus_view()
        return found

    def set_blind(self, blind: bool) -> None:
        """Blind review: hide the predictions and, until a bin is decided, every count of it."""
        self.browser.set_blind(blind)
        self.bin_view.set_blind(blind)

    def shutdown(self) -> None:
        """The workspace is closing: forget the undo history, stop decoding, let the parts go."""
        self.decisions.flush()  # a typed 1 waiting for its pause is saved, like any decision made before closing
        self.controller.clear()
        self.loader.shutdown()
        for part in (self.curation, self.decisions, self.controller, self.loader):
            part.deleteLater()
