"""The curator's tools in the main window: bulk decisions on the selected rows and the Charts dock.

Bulk actions (exclude, uncountable with one reason, one count) become one LabelController.decide_many
call: one store event per image, each checked against the event the list showed, one undo step.
The label-issue queue itself is a QueueSpec the window switches like the audit queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtWidgets import QDockWidget, QMenu, QWidget

from binaudit.core import labels as L
from binaudit.gui.charts_panel import ChartsPanel
from binaudit.gui.labeling import Decision, LabelState

if TYPE_CHECKING:
    from binaudit.gui.main_window import MainWindow


class Curation(QObject):
    """Wires the bulk actions, the table's context menu and the Charts dock into the window."""

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.window = window
        a = window.actions_
        a.bulk_exclude.triggered.connect(self.bulk_exclude)
        a.bulk_uncountable.triggered.connect(self.bulk_uncountable)
        a.bulk_count.triggered.connect(self.bulk_count)
        self.dock = QDockWidget("Charts", window)
        self.dock.setObjectName("chartsDock")
        self.dock.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.dock.hide()
        toggle = self.dock.toggleViewAction()
        toggle.setText("&Charts")
        toggle.setShortcut("Ctrl+Shift+C")
        toggle.setStatusTip("Confusion matrix, per-class accuracy and count distributions of the active models")
        window.menus["view"].insertAction(window.actions_.reload, toggle)
        self.charts: Optional[ChartsPanel] = None
        window.workspaceOpened.connect(self._opened)
        window.workspaceClosing.connect(self._closing)

    # ------------------------------------------------------------------ workspace
    def _opened(self) -> None:
        w = self.window
        assert w.session is not None and w.browser is not None and w.controller is not None
        self.charts = ChartsPanel(w.session)
        self.charts.subsetRequested.connect(self._show_subset)
        self.dock.setWidget(self.charts)
        w.controller.bulkWritten.connect(self._bulk_written)
        for view in (w.browser.table, w.browser.grid):
            view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            view.customContextMenuRequested.connect(lambda pos, v=view: self._context_menu(v, pos))

    def _closing(self) -> None:
        self.dock.setWidget(QWidget())
        if self.charts is not None:
            self.charts.deleteLater()
            self.charts = None

    def _show_subset(self, title: str, image_ids: list[str]) -> None:
        if self.window.browser is not None:
            self.window.browser.show_subset(title, image_ids)
            self.window.browser.focus_view()

    def open_image(self, image_id: str) -> bool:
        """Show an image in the browser (from a comparison's flip list), leaving queue, chart selection and
        filters when they hide it."""
        w = self.window
        if w.browser is None:
            return False
        if not w.browser.select_image(image_id):
            for action in (w.actions_.audit_queue, w.actions_.issue_queue):
                action.setChecked(False)
            w.browser.clear_subset()
            w.browser.filter_bar.reset()
        found = w.browser.select_image(image_id)
        if found:
            w.raise_()
            w.activateWindow()
        return found

    def _context_menu(self, view: QWidget, pos: QPoint) -> None:
        a = self.window.actions_
        menu = QMenu(view)
        n = len(self.window.browser.selected_image_ids()) if self.window.browser else 0
        title = menu.addAction(f"{n} selected row(s)")
        title.setEnabled(False)
        menu.addActions([a.bulk_exclude, a.bulk_uncountable, a.bulk_count])
        menu.addSeparator()
        menu.addActions([a.undo, a.redo])
        menu.popup(view.viewport().mapToGlobal(pos) if hasattr(view, "viewport") else view.mapToGlobal(pos))

    # ------------------------------------------------------------------ bulk decisions
    def selection(self) -> list[str]:
        return self.window.browser.selected_image_ids() if self.window.browser is not None else []

    def decisions(self, image_ids: list[str], status: str, count: Optional[int] = None,
                  reason: Optional[str] = None) -> list[Decision]:
        """One Decision per image, expecting the label event the list shows (conflicts are detected per image)."""
        index = self.window.session.index
        out = []
        for image_id in image_ids:
            pos = index.position(image_id)
            if pos is None:
                continue
            recorded = int(index.recorded[pos])
            st = status
            if status == "count":
                st = L.CONFIRMED if recorded == count else L.CORRECTED
            expected = int(index.event_id[pos]) or None
            out.append(Decision(image_id, LabelState(st, count, reason), expected, self._shown(pos)))
        return out

    def _shown(self, pos: int) -> dict[str, Any]:
        """The predictions the table showed for the row (recorded with the event, as for single decisions)."""
        index = self.window.session.index
        blind = bool(self.window.browser and self.window.browser.blind)
        out: dict[str, Any] = {"blind": blind, "bulk": True}
        for kind in index.model_kinds():
            m = index.models[kind]
            entry: dict[str, Any] = {"model_id": m.model_id}
            if not blind and m.predicted[pos] >= 0:
                entry.update(predicted=int(m.predicted[pos]), confidence=round(float(m.confidence[pos]), 4))
            out[kind] = entry
        return out

    def _apply(self, title: str, image_ids: list[str], status: str, count: Optional[int] = None,
               reason: Optional[str] = None) -> bool:
        w = self.window
        if w.controller is None or not image_ids:
            w.statusBar().showMessage("Select rows in the list first (Shift/Ctrl+click).", 5000)
            return False
        return w.controller.decide_many(title, self.decisions(image_ids, status, count, reason))

    def bulk_exclude(self) -> bool:
        ids = self.selection()
        return self._apply(f"exclude {len(ids)} images", ids, L.EXCLUDED)

    def bulk_uncountable(self) -> bool:
        ids = self.selection()
        if not ids:
            return self._apply("", ids, L.UNCOUNTABLE)
        reason = self.window.prompts.bulk_reason(len(ids))
        return reason is not None and self._apply(f"{len(ids)} images uncountable: {reason}", ids, L.UNCOUNTABLE,
                                                  reason=reason)

    def bulk_count(self) -> bool:
        ids = self.selection()
        if not ids:
            return self._apply("", ids, "count")
        count = self.window.prompts.bulk_count(len(ids), self.window.bin_view.recorded or 0)
        return count is not None and self._apply(f"count {count} for {len(ids)} images", ids, "count", count=count)

    def _bulk_written(self, image_ids: list[str], message: str) -> None:
        self.window.statusBar().showMessage(message[:1].upper() + message[1:], 10000)
        self.window._update_counts()
