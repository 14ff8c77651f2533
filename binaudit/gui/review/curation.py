"""The curator's bulk decisions on the selected rows of the open workspace, and the list's context menu.

Bulk actions (exclude, uncountable with one reason, one count) become one LabelController.decide_many
call: one store event per image, each checked against the event the list showed, one undo step.
The label-issue queue itself is a QueueSpec the window switches like the audit queue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from PySide6.QtCore import QObject, QPoint, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from binaudit.core import labels as L
from binaudit.gui.browse.browser import BrowserPanel
from binaudit.gui.common.session import WorkspaceSession
from binaudit.gui.review.labeling import Decision, LabelController, LabelState, count_status


class BulkPrompts(Protocol):
    """The two questions a bulk decision may ask (dialogs.Prompts answers them)."""

    def bulk_reason(self, n: int) -> str | None: ...

    def bulk_count(self, n: int, initial: int) -> int | None: ...


class Curation(QObject):
    """Bulk decisions over the browser's selected rows, written by the workspace's label controller.

    `recorded()` is the recorded count of the image on screen (the count dialog's first guess);
    `menu_actions` fill the list's context menu (None = a separator). message(text, ms) is for the status bar.
    """

    message = Signal(str, int)

    def __init__(self, session: WorkspaceSession, browser: BrowserPanel, controller: LabelController,
                 prompts: BulkPrompts, recorded: Callable[[], int | None],
                 menu_actions: Sequence[QAction | None], parent: QObject | None = None):
        super().__init__(parent)
        self.session, self.browser, self.controller = session, browser, controller
        self.prompts, self.recorded, self.menu_actions = prompts, recorded, list(menu_actions)
        browser.contextMenuRequested.connect(self.context_menu)

    def context_menu(self, at: QPoint) -> None:
        """The selected rows' menu at a global position: how many, the bulk actions, undo/redo."""
        menu = QMenu(self.browser)
        title = menu.addAction(f"{len(self.selection())} selected row(s)")
        title.setEnabled(False)
        for action in self.menu_actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        menu.popup(at)

    # ------------------------------------------------------------------ bulk decisions
    def selection(self) -> list[str]:
        return self.browser.selected_image_ids()

    def decisions(self, image_ids: list[str], status: str, count: int | None = None,
                  reason: str | None = None) -> list[Decision]:
        """One Decision per image, expecting the label event the list shows (conflicts are detected per image)."""
        index = self.session.index
        out = []
        for image_id in image_ids:
            pos = index.position(image_id)
            if pos is None:
                continue
            st = count_status(count, int(index.recorded[pos])) if status == "count" else status
            expected = int(index.event_id[pos]) or None
            out.append(Decision(image_id, LabelState(st, count, reason), expected, self._shown(pos)))
        return out

    def _shown(self, pos: int) -> dict[str, Any]:
        """The predictions the table showed for the row (recorded with the event, as for single decisions)."""
        index = self.session.index
        blind = bool(self.browser.blind)
        out: dict[str, Any] = {"blind": blind, "bulk": True}
        for kind in index.model_kinds():
            m = index.models[kind]
            entry: dict[str, Any] = {"model_id": m.model_id}
            if not blind and m.predicted[pos] >= 0:
                entry.update(predicted=int(m.predicted[pos]), confidence=round(float(m.confidence[pos]), 4))
            out[kind] = entry
        return out

    def _apply(self, title: str, image_ids: list[str], status: str, count: int | None = None,
               reason: str | None = None) -> bool:
        if not image_ids:
            self.message.emit("Select rows in the list first (Shift/Ctrl+click).", 5000)
            return False
        return self.controller.decide_many(title, self.decisions(image_ids, status, count, reason))

    def bulk_exclude(self) -> bool:
        ids = self.selection()
        return self._apply(f"exclude {len(ids)} images", ids, L.EXCLUDED)

    def bulk_uncountable(self) -> bool:
        ids = self.selection()
        if not ids:
            return self._apply("", ids, L.UNCOUNTABLE)
        reason = self.prompts.bulk_reason(len(ids))
        return reason is not None and self._apply(f"{len(ids)} images uncountable: {reason}", ids, L.UNCOUNTABLE,
                                                  reason=reason)

    def bulk_count(self) -> bool:
        ids = self.selection()
        if not ids:
            return self._apply("", ids, "count")
        count = self.prompts.bulk_count(len(ids), self.recorded() or 0)
        return count is not None and self._apply(f"count {count} for {len(ids)} images", ids, "count", count=count)
