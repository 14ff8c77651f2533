"""The main window: composes the browser, the bin view and the label controller of the open workspace.

It wires signals to slots and owns the menus, toolbar and status bar; filtering, loading, decoding
and writing happen in the parts it composes (see binaudit/gui/__init__.py for the map).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (QFileDialog, QLabel, QMainWindow, QPushButton, QSplitter, QVBoxLayout, QWidget)

from binaudit.core import labels as L
from binaudit.core.labels import LabelEvent
from binaudit.core.store import StoreError
from binaudit.core.workspace import Workspace, default_workspace_for_dataset, demo_workspace
from binaudit.gui.shell import dialogs
from binaudit.gui.common import settings
from binaudit.gui.shell.actions import build_actions, build_menus, build_toolbar
from binaudit.gui.review.bin_view import BinView
from binaudit.gui.browse.table_model import AUDIT_QUEUE, LABEL_ISSUE_QUEUE, QueueSpec
from binaudit.gui.browse.browser import BrowserPanel
from binaudit.gui.charts.dock import ChartsDock
from binaudit.gui.review.curation import Curation
from binaudit.gui.data.export_menu import ExportMenu
from binaudit.gui.training.menu import TrainingMenu
from binaudit.gui.training.device_probe import DeviceProbe
from binaudit.gui.common.errors import show_error, user_message
from binaudit.gui.data.importing import ImportJob, progress_dialog
from binaudit.gui.review.labeling import Decision, LabelController, LabelState, count_status
from binaudit.gui.common.resources import icon
from binaudit.gui.common.session import POLL_MS, WorkspaceSession
from binaudit.gui.browse.thumbnails import ImageLoader

log = logging.getLogger("binaudit.gui")
PREFETCH_PHOTOS = 3


class MainWindow(QMainWindow):
    """See the module docstring. `workspace=None` shows a welcome page with Open and Import."""

    def __init__(self, workspace: Optional[Workspace] = None, *, detect_device: bool = True,
                 poll_ms: int = POLL_MS):
        super().__init__()
        self.setWindowTitle("binaudit")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.poll_ms = poll_ms
        self.prompts = dialogs.Prompts(self)
        self.session: Optional[WorkspaceSession] = None
        self.loader: Optional[ImageLoader] = None
        self.browser: Optional[BrowserPanel] = None
        self.bin_view: Optional[BinView] = None
        self.controller: Optional[LabelController] = None
        self.curation: Optional[Curation] = None
        self.import_job: Optional[ImportJob] = None
        self._pending_open: Optional[Workspace] = None
        self.actions_ = build_actions(self)
        self.menus = build_menus(self, self.actions_)
        self.toolbar = build_toolbar(self, self.actions_)
        self._build_status_bar()
        self._connect_actions()
        self.charts_dock = ChartsDock(self)  # part 2: confusion matrix and count charts of the open workspace
        self.training = TrainingMenu(self)   # part 2: Training menu, runs dock, models, compare, activation
        self.exports = ExportMenu(self)      # part 2: Export menu
        self._compose_parts()
        self.actions_.blind.setChecked(settings.get_bool(settings.BLIND))
        self.actions_.grid.setChecked(settings.get(settings.VIEW_MODE, "table") == "grid")
        self._restore_geometry()
        self.device_probe: Optional[DeviceProbe] = None
        if detect_device:
            self.device_probe = DeviceProbe(str(settings.get(settings.DEVICE, "auto")), self)
            self.device_probe.found.connect(lambda d: self.sb_device.setText(f"device: {d}"))
            QTimer.singleShot(1500, self.device_probe.start)
        if workspace is not None:  # opened right after the first paint: the window shows up at once
            opening = QLabel(f"Opening {workspace.root}\u2026", alignment=Qt.AlignmentFlag.AlignCenter)
            opening.setObjectName("placeholder")
            self.setCentralWidget(opening)
            self._pending_open = workspace
            QTimer.singleShot(500, self._open_pending)  # in case no paint comes (a hidden window)
        else:
            self._show_welcome()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.Paint and self._pending_open is not None:
            QTimer.singleShot(0, self._open_pending)
        return handled

    def _open_pending(self) -> None:
        workspace, self._pending_open = self._pending_open, None
        if workspace is not None:
            self.open_workspace(workspace)

    # ------------------------------------------------------------------ building
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.sb_workspace, self.sb_counts, self.sb_models, self.sb_device = (QLabel() for _ in range(4))
        self.sb_device.setText("device: \u2026")
        for label in (self.sb_workspace, self.sb_counts, self.sb_models, self.sb_device):
            bar.addPermanentWidget(label)

    def _connect_actions(self) -> None:
        a = self.actions_
        a.open_workspace.triggered.connect(self.choose_workspace)
        a.import_dataset.triggered.connect(self.choose_dataset)
        a.open_demo.triggered.connect(lambda: self.open_workspace(demo_workspace()))
        a.auditor.triggered.connect(lambda: self.auditor(ask=True))
        a.quit.triggered.connect(self.close)
        a.undo.triggered.connect(lambda: self.controller and self.controller.undo())
        a.redo.triggered.connect(lambda: self.controller and self.controller.redo())
        a.confirm.triggered.connect(self.confirm_recorded)
        for n, action in enumerate(a.counts):
            action.triggered.connect(lambda _=False, n=n: self.set_count(n))
        a.enter_count.triggered.connect(self.enter_count)
        a.uncountable.triggered.connect(self.mark_uncountable)
        a.exclude.triggered.connect(lambda: self.decide(L.EXCLUDED))
        a.next_image.triggered.connect(lambda: self.browser and self.browser.step(1))
        a.previous_image.triggered.connect(lambda: self.browser and self.browser.step(-1))
        a.grid.toggled.connect(self.set_grid)
        a.audit_queue.toggled.connect(lambda on: self._queue_toggled(a.audit_queue, on))
        a.issue_queue.toggled.connect(lambda on: self._queue_toggled(a.issue_queue, on))
        a.blind.toggled.connect(self.set_blind)
        a.fit.triggered.connect(lambda: self.bin_view and self.bin_view.photo.fit())
        a.actual_size.triggered.connect(lambda: self.bin_view and self.bin_view.photo.actual_size())
        a.zoom_in.triggered.connect(lambda: self.bin_view and self.bin_view.photo.zoom_by(1.25))
        a.zoom_out.triggered.connect(lambda: self.bin_view and self.bin_view.photo.zoom_by(0.8))
        a.reset_adjustments.triggered.connect(lambda: self.bin_view and self.bin_view.reset_adjustments())
        a.search.triggered.connect(self.focus_search)
        a.reload.triggered.connect(self.reload)
        a.shortcuts.triggered.connect(lambda: dialogs.shortcuts(self))
        a.about.triggered.connect(lambda: dialogs.about(self))
        self._enable_workspace_actions(False)

    def _compose_parts(self) -> None:
        """Place the parts' docks and status, connect their menu commands and listen to their signals."""
        a, bar = self.actions_, self.statusBar()
        for dock, area, menu, before in (
                (self.charts_dock, Qt.DockWidgetArea.BottomDockWidgetArea, "view", a.reload),
                (self.training.dock, Qt.DockWidgetArea.RightDockWidgetArea, "training", a.models)):
            self.addDockWidget(area, dock)
            dock.hide()
            self.menus[menu].insertAction(before, dock.toggleViewAction())
        bar.addPermanentWidget(self.training.job_status)
        self.charts_dock.subsetRequested.connect(self._show_subset)
        for action, command in ((a.retrain_resnet, "resnet"), (a.retrain_svm, "svm"), (a.find_lr, "lr-find"),
                                (a.baselines, "baselines")):
            action.triggered.connect(lambda _=False, c=command: self.training.setup(c))
        a.models.triggered.connect(self.training.show_models)
        self.training.imageRequested.connect(self.open_image)
        self.training.modelActivated.connect(lambda _model_id: self.reload())
        for action, kind in ((a.export_csv, "csv"), (a.export_json, "json"), (a.export_metadata, "metadata"),
                             (a.export_folders, "folders")):
            action.triggered.connect(lambda _=False, k=kind: self.exports.choose(k))
        for part in (self.training, self.exports):
            part.message.connect(bar.showMessage)
        a.bulk_exclude.triggered.connect(lambda: self.curation and self.curation.bulk_exclude())
        a.bulk_uncountable.triggered.connect(lambda: self.curation and self.curation.bulk_uncountable())
        a.bulk_count.triggered.connect(lambda: self.curation and self.curation.bulk_count())

    def _enable_workspace_actions(self, enabled: bool) -> None:
        a = self.actions_
        for action in (*a.labelling, *a.workspace, a.next_image, a.previous_image, a.audit_queue, a.reload, a.search,
                       a.fit, a.actual_size, a.zoom_in, a.zoom_out, a.reset_adjustments):
            action.setEnabled(enabled)
        if not enabled:
            a.undo.setEnabled(False)
            a.redo.setEnabled(False)

    def _show_welcome(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        title = QLabel("binaudit", alignment=Qt.AlignmentFlag.AlignCenter)
        title.setObjectName("welcomeTitle")
        layout.addWidget(title)
        layout.addWidget(QLabel("Open a workspace, import a dataset folder, or drop a folder here.",
                                alignment=Qt.AlignmentFlag.AlignCenter))
        self.actions_.open_demo.setEnabled(demo_workspace().exists())
        for action in (self.actions_.open_workspace, self.actions_.import_dataset, self.actions_.open_demo):
            button = QPushButton(action.icon(), action.text().replace("&", ""))
            button.clicked.connect(action.trigger)
            button.setFixedWidth(260)
            button.setEnabled(action.isEnabled())
            button.setToolTip(action.toolTip() if action.isEnabled() else "Build it with `binaudit demo`")
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        self.setCentralWidget(page)
        self.sb_workspace.setText("no workspace")

    # ------------------------------------------------------------------ workspace lifecycle
    def open_workspace(self, workspace: Workspace) -> bool:
        """Close the current workspace and open another; False (with a message) if it cannot be opened."""
        if not workspace.exists():
            show_error(self, "Open workspace", f"There is no binaudit workspace at {workspace.root}.\n"
                       "To start one, use File > Import Dataset Folder.")
            return False
        self.close_workspace()
        try:
            session = WorkspaceSession(workspace, self, poll_ms=self.poll_ms)
        except (StoreError, OSError) as exc:
            show_error(self, "Open workspace", f"Cannot open {workspace.root}: {user_message(exc)}")
            self._show_welcome()
            return False
        self.session = session
        self.loader = ImageLoader(self, db_path=str(workspace.db_path))
        self.browser = BrowserPanel(session, self.loader)
        self.bin_view = BinView(session, self.loader)
        self.controller = LabelController(session, self.auditor, self.prompts.conflict, self)
        a = self.actions_
        self.curation = Curation(session, self.browser, self.controller, self.prompts, self._recorded,
                                 [a.bulk_exclude, a.bulk_uncountable, a.bulk_count, None, a.undo, a.redo], self)
        self.curation.message.connect(self.statusBar().showMessage)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("mainSplitter")
        splitter.addWidget(self.browser)
        splitter.addWidget(self.bin_view)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 6)
        splitter.setChildrenCollapsible(False)
        state = settings.get(settings.SPLITTER)
        if not (isinstance(state, QByteArray) and splitter.restoreState(state)):
            width = max(self.width(), 1000)
            splitter.setSizes([int(width * 0.46), int(width * 0.54)])
        self.splitter = splitter
        container = QWidget()
        layout = QVBoxLayout(container)
        layout.setContentsMargins(6, 4, 6, 0)
        layout.addWidget(splitter)
        self.setCentralWidget(container)
        self._wire_workspace()
        self.browser.set_grid(self.actions_.grid.isChecked())
        self.set_blind(self.actions_.blind.isChecked())
        self.setWindowTitle(f"binaudit \u2014 {workspace.root.name}" + (" (read-only)" if session.readonly else ""))
        self.sb_workspace.setText(str(workspace.root))
        self.sb_workspace.setToolTip(str(workspace.db_path))
        settings.put(settings.LAST_WORKSPACE, str(workspace.root))
        self._enable_workspace_actions(True)
        self._update_models()
        self.browser.show_message("Loading the workspace\u2026")
        session.load_index()
        self.loader.start()
        for part in (self.charts_dock, self.training, self.exports):
            part.set_session(session)
        return True

    def _wire_workspace(self) -> None:
        assert self.session and self.browser and self.bin_view and self.controller
        s, b, c = self.session, self.browser, self.controller
        s.indexLoaded.connect(self._index_loaded)
        s.indexProgress.connect(lambda done, total: self.sb_counts.setText(f"loading {done:,} / {total:,}"))
        s.indexFailed.connect(lambda msg: b.show_message(f"The workspace could not be read: {msg}"))
        s.rowsChanged.connect(self._rows_changed)
        s.externalEvents.connect(self._external_events)
        b.currentImageChanged.connect(self._current_changed)
        b.viewChanged.connect(self._update_counts)
        c.written.connect(self._written)
        c.bulkWritten.connect(self._bulk_written)
        c.failed.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
        c.declined.connect(lambda image_id: self.statusBar().showMessage(f"Kept the other auditor's label for {image_id}.", 8000))
        c.stack.canUndoChanged.connect(self.actions_.undo.setEnabled)
        c.stack.canRedoChanged.connect(self.actions_.redo.setEnabled)
        c.stack.undoTextChanged.connect(lambda t: self._step_text(self.actions_.undo, "Undo", t))
        c.stack.redoTextChanged.connect(lambda t: self._step_text(self.actions_.redo, "Redo", t))

    @staticmethod
    def _step_text(action: QAction, verb: str, what: str) -> None:
        """Menu text names the step ("Undo 00012: corrected to 4"); the toolbar keeps its short label."""
        action.setText(f"&{verb} {what}" if what else f"&{verb}")
        action.setIconText(verb)

    def close_workspace(self) -> None:
        if self.session is None:
            return
        for part in (self.charts_dock, self.training, self.exports):
            part.set_session(None)
        if self.controller is not None:
            self.controller.clear()
        if self.loader is not None:
            self.loader.shutdown()
        self.session.close()
        self.actions_.audit_queue.setChecked(False)
        self.actions_.issue_queue.setChecked(False)
        for obj in (self.curation, self.controller, self.loader, self.session):
            if obj is not None:
                obj.deleteLater()
        self.session = self.loader = self.browser = self.bin_view = self.controller = self.curation = None
        self._enable_workspace_actions(False)

    def reload(self) -> None:
        """Re-read the workspace (rows, labels, active models), e.g. after a model was activated."""
        if self.session is not None:
            self._update_models()
            self.session.load_index()
            if self.bin_view is not None:
                self.bin_view.refresh()

    def _index_loaded(self) -> None:
        assert self.browser is not None
        self.browser.index_loaded()
        if self.current_queue() is not None:
            self.browser.set_queue(self.current_queue())
        self._update_counts()
        self._update_models()
        self.browser.focus_view()

    # ------------------------------------------------------------------ labelling
    def auditor(self, ask: bool = False) -> Optional[str]:
        """The auditor's name, asked once and remembered (ask=True to change it)."""
        name = settings.auditor()
        if name and not ask:
            return name
        name = self.prompts.auditor(name or settings.default_auditor_name())
        if name:
            settings.put(settings.AUDITOR, name)
        return name or settings.auditor()

    def decide(self, status: str, count: Optional[int] = None, reason: Optional[str] = None) -> bool:
        """Record a decision about the image on screen (with the event id and predictions shown)."""
        view = self.bin_view
        if self.controller is None or view is None or not view.image_id or view.label is None:
            self.statusBar().showMessage("No image selected.", 4000)
            return False
        decision = Decision(view.image_id, LabelState(status, count, reason), view.label.event_id,
                            view.shown_predictions())
        return self.controller.decide(decision)

    def set_count(self, count: int) -> bool:
        if self.bin_view is None:
            return False
        return self.decide(count_status(count, self.bin_view.recorded), count)

    def _recorded(self) -> Optional[int]:
        """The recorded count of the image on screen (the bulk count dialog's first guess)."""
        return self.bin_view.recorded if self.bin_view is not None else None

    def confirm_recorded(self) -> bool:
        if self.bin_view is None or not self.bin_view.image_id:
            return False
        if self.bin_view.recorded is None:
            self.statusBar().showMessage("This bin has no recorded count to confirm; type the count instead.", 6000)
            return False
        return self.decide(L.CONFIRMED, self.bin_view.recorded)

    def enter_count(self) -> bool:
        if self.bin_view is None or not self.bin_view.image_id:
            return False
        count = self.prompts.count(self.bin_view.image_id, self.bin_view.recorded or 0)
        return count is not None and self.set_count(count)

    def mark_uncountable(self) -> bool:
        if self.bin_view is None or not self.bin_view.image_id:
            return False
        reason = self.prompts.reason(self.bin_view.image_id)
        return reason is not None and self.decide(L.UNCOUNTABLE, reason=reason)

    def _written(self, image_id: str, event: LabelEvent, operation: str) -> None:
        assert self.browser is not None
        verb = {"label": "Saved", "undo": "Undone", "redo": "Redone"}[operation]
        self.statusBar().showMessage(f"{verb}: {image_id} \u2192 {event.describe()} (event {event.id})", 6000)
        if operation == "label":
            if self.browser.current_image_id == image_id:
                self.browser.advance()
        elif self.browser.current_image_id != image_id:
            self.browser.select_image(image_id)
        self._update_counts()

    def _bulk_written(self, _image_ids: list[str], message: str) -> None:
        self.statusBar().showMessage(message[:1].upper() + message[1:], 10000)
        self._update_counts()

    def _rows_changed(self, image_ids: list[str]) -> None:
        if self.bin_view is not None and self.bin_view.image_id in image_ids:
            self.bin_view.refresh()
        self._update_counts()

    def _external_events(self, events: list[LabelEvent]) -> None:
        if self.bin_view is None:
            return
        for event in events:
            if event.image_id == self.bin_view.image_id:
                self.bin_view.notify_external(event)
        who = sorted({e.user for e in events})
        self.statusBar().showMessage(f"{len(events)} label(s) changed by {', '.join(who)}; the list is updated.", 8000)

    # ------------------------------------------------------------------ view
    def _current_changed(self, image_id: str) -> None:
        if self.bin_view is None or self.browser is None or self.loader is None:
            return
        self.bin_view.show_image(image_id)
        for action in self.actions_.labelling:
            action.setEnabled(bool(image_id))
        for upcoming_id, path in self.browser.upcoming(PREFETCH_PHOTOS):
            self.loader.photo(upcoming_id, path, prefetch=True)

    def set_grid(self, grid: bool) -> None:
        settings.put(settings.VIEW_MODE, "grid" if grid else "table")
        if self.browser is not None:
            self.browser.set_grid(grid)

    def current_queue(self) -> Optional[QueueSpec]:
        a = self.actions_
        return AUDIT_QUEUE if a.audit_queue.isChecked() else LABEL_ISSUE_QUEUE if a.issue_queue.isChecked() else None

    def _queue_toggled(self, action: QAction, on: bool) -> None:
        """The two queues exclude each other; the browser walks the one that is on (or none)."""
        other = self.actions_.issue_queue if action is self.actions_.audit_queue else self.actions_.audit_queue
        if on and other.isChecked():
            other.blockSignals(True)
            other.setChecked(False)
            other.blockSignals(False)
        if self.browser is not None and self.session is not None and self.session.loaded:
            self.browser.set_queue(self.current_queue())
            self.browser.focus_view()
            if on and self.browser.shown_count() == 0:
                self.statusBar().showMessage("This queue is empty: no active model has scored these images yet "
                                             "(Training > Models > Activate).", 10000)

    def set_blind(self, blind: bool) -> None:
        settings.put(settings.BLIND, blind)
        if self.browser is not None and self.bin_view is not None:
            self.browser.set_blind(blind)
            self.bin_view.set_blind(blind)

    def focus_search(self) -> None:
        if self.browser is not None:
            self.browser.focus_search()

    def _show_subset(self, title: str, image_ids: list[str]) -> None:
        """List only the bins a chart picked (e.g. a confusion-matrix cell)."""
        if self.browser is not None:
            self.browser.show_subset(title, image_ids)
            self.browser.focus_view()

    def open_image(self, image_id: str) -> bool:
        """Show an image in the browser (from a comparison's flip list), leaving queue, chart selection and
        filters when they hide it."""
        if self.browser is None:
            return False
        if not self.browser.select_image(image_id):
            for action in (self.actions_.audit_queue, self.actions_.issue_queue):
                action.setChecked(False)
            self.browser.show_all()
        found = self.browser.select_image(image_id)
        if found:
            self.raise_()
            self.activateWindow()
        return found

    def _update_counts(self) -> None:
        if self.session is None or self.browser is None or not self.session.loaded:
            return
        index = self.session.index
        reviewed = int(index.reviewed_mask().sum())
        self.sb_counts.setText(f"{len(index):,} images \u00b7 {self.browser.shown_count():,} shown \u00b7 "
                               f"{reviewed:,} reviewed")

    def _update_models(self) -> None:
        if self.session is None:
            self.sb_models.setText("")
            return
        models = self.session.active_models()
        parts = [f"{kind}: {m.get('name') or m.get('architecture')} #{m['id']}" if m else f"{kind}: none"
                 for kind, m in models.items()]
        self.sb_models.setText("  ".join(parts))

    # ------------------------------------------------------------------ open and import
    def choose_workspace(self) -> None:
        start = str(self.session.workspace.root.parent) if self.session else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open workspace folder", start)
        if folder:
            self.open_workspace(Workspace.at(folder))

    def choose_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import dataset folder", str(Path.home()))
        if folder:
            self.import_folder(Path(folder))

    def import_folder(self, dataset: Path, target: Optional[Workspace] = None) -> Optional[ImportJob]:
        """Import a dataset folder in the background (asks where to, unless target is given)."""
        if self.import_job is not None and self.import_job.running:
            show_error(self, "Import dataset", "An import is already running.")
            return None
        if target is None:
            target = default_workspace_for_dataset(dataset)
            if self.session is not None:
                choice = self.prompts.import_target(dataset.name, self.session.workspace.root.name)
                if choice is None:
                    return None
                if choice == "add":
                    target = self.session.workspace
        job = ImportJob(dataset, target, self)
        self.import_job = job
        dialog = progress_dialog(job, self)
        job.finished.connect(lambda summary: self._imported(job, summary))
        job.cancelled.connect(lambda: self.statusBar().showMessage(
            "Import cancelled; the files imported so far are kept.", 8000))
        job.failed.connect(lambda msg: show_error(self, "Import dataset", f"The import stopped: {msg}"))
        job.start()
        dialog.show()
        return job

    def _imported(self, job: ImportJob, summary: object) -> None:
        self.statusBar().showMessage(f"Imported {job.dataset.name}: {summary.describe()}", 12000)  # type: ignore[attr-defined]
        if self.session is not None and job.workspace.db_path == self.session.workspace.db_path:
            self.session.load_index()
        else:
            self.open_workspace(job.workspace)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if urls and all(u.isLocalFile() and Path(u.toLocalFile()).is_dir() for u in urls[:1]):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        folder = Path(event.mimeData().urls()[0].toLocalFile())
        event.acceptProposedAction()
        QTimer.singleShot(0, lambda: self.import_folder(folder))

    # ------------------------------------------------------------------ window state
    def _restore_geometry(self) -> None:
        geometry, state = settings.get(settings.GEOMETRY), settings.get(settings.STATE)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1480, 900)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.training.shutdown():
            event.ignore()
            return
        settings.put(settings.GEOMETRY, self.saveGeometry())
        settings.put(settings.STATE, self.saveState())
        if self.session is not None:
            settings.put(settings.SPLITTER, self.splitter.saveState())
        if self.import_job is not None and self.import_job.running:
            self.import_job.cancel()
        if self.device_probe is not None:
            self.device_probe.stop()
        self.close_workspace()
        super().closeEvent(event)
