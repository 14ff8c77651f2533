"""The main window: opens and closes workspaces and composes the parts of the app around them.

For an open workspace it makes a Workbench (browser, bin view, label controller, decisions, curation);
for the window's lifetime the charts dock, the Training and Export menus and the importer. It wires
actions and signals to them and owns the menus, toolbar and status bar; filtering, loading, decoding,
writing and training happen in the parts (see binaudit/gui/__init__.py for the map).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow

from binaudit.core.store import StoreError
from binaudit.core.workspace import Workspace, demo_workspace
from binaudit.gui.audit.menu import AuditMenu
from binaudit.gui.browse.browser import BrowserPanel
from binaudit.gui.browse.table_model import AUDIT_QUEUE, LABEL_ISSUE_QUEUE, QueueSpec
from binaudit.gui.browse.thumbnails import ImageLoader
from binaudit.gui.charts.dock import ChartsDock
from binaudit.gui.common import settings
from binaudit.gui.common.errors import show_error, user_message
from binaudit.gui.common.formatting import active_models_text, set_status_part
from binaudit.gui.common.resources import icon
from binaudit.gui.common.session import POLL_MS, WorkspaceSession
from binaudit.gui.data.export_menu import ExportMenu
from binaudit.gui.data.importing import Importer, ImportJob
from binaudit.gui.review.bin_view import BinView
from binaudit.gui.review.labeling import LabelController
from binaudit.gui.shell import dialogs
from binaudit.gui.shell.actions import build_actions, build_menus, build_toolbar
from binaudit.gui.shell.dock_layout import DockLayout
from binaudit.gui.shell.welcome import welcome_page
from binaudit.gui.shell.workbench import Workbench
from binaudit.gui.shell.workspace_tools import WorkspaceTools
from binaudit.gui.training.device_probe import DeviceProbe, probe_into
from binaudit.gui.training.menu import TrainingMenu

log = logging.getLogger("binaudit.gui")


class MainWindow(QMainWindow):
    """See the module docstring. `workspace=None` shows a welcome page with Open and Import."""

    def __init__(self, workspace: Workspace | None = None, *, detect_device: bool = True,
                 poll_ms: int = POLL_MS):
        super().__init__()
        self.setWindowTitle("binaudit")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.poll_ms = poll_ms
        self.prompts = dialogs.Prompts(self)
        self.session: WorkspaceSession | None = None
        self.workbench: Workbench | None = None  # the open workspace's parts, four of them below
        self.loader: ImageLoader | None = None
        self.browser: BrowserPanel | None = None
        self.bin_view: BinView | None = None
        self.controller: LabelController | None = None
        self._pending_open: Workspace | None = None
        self.actions_ = build_actions(self)
        self.menus = build_menus(self, self.actions_)
        self.toolbar = build_toolbar(self, self.actions_)
        self._build_status_bar()
        self._connect_actions()
        self.charts_dock = ChartsDock(self)  # part 2: confusion matrix and count charts of the open workspace
        self.training = TrainingMenu(self)   # part 2: Training menu, runs dock, models, compare, activation
        self.audit = AuditMenu(self, self.training, self.prompts.auditor_name)  # queue updates, quality dock, samples
        self.exports = ExportMenu(self)      # part 2: Export menu
        self.importer = Importer(self.prompts, self)
        self.docks = DockLayout(self)
        self._compose_parts()
        self.tools = WorkspaceTools(self)  # Import Model, Recent Workspaces, the folder link, the no-model panel
        self.actions_.blind.setChecked(settings.get_bool(settings.BLIND))
        self.actions_.grid.setChecked(settings.get(settings.VIEW_MODE, "table") == "grid")
        if settings.restore_window(self):
            self.docks.restored()
        self.device_probe: DeviceProbe | None = (
            probe_into(self.sb_device, str(settings.get(settings.DEVICE, "auto")), self) if detect_device else None)
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

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.sb_workspace, self.sb_counts, self.sb_models, self.sb_device = (QLabel() for _ in range(4))
        self.sb_device.setText("device: \u2026")
        for label in (self.sb_workspace, self.sb_counts, self.sb_models, self.sb_device):
            bar.addPermanentWidget(label)

    def _connect_actions(self) -> None:
        a = self.actions_
        a.open_workspace.triggered.connect(self.choose_workspace)
        a.import_dataset.triggered.connect(lambda: self.importer.choose_dataset(self._workspace()))
        a.open_demo.triggered.connect(lambda: self.open_workspace(demo_workspace()))
        a.auditor.triggered.connect(lambda: self.prompts.auditor_name(ask=True))
        a.quit.triggered.connect(self.close)
        a.undo.triggered.connect(lambda: self.workbench and self.workbench.undo())
        a.redo.triggered.connect(lambda: self.controller and self.controller.redo())
        a.confirm.triggered.connect(lambda: self.workbench and self.workbench.decisions.confirm_recorded())
        for n, action in enumerate(a.counts):
            action.triggered.connect(lambda _=False, n=n: self.workbench and self.workbench.decisions.digit(n))
        a.enter_count.triggered.connect(lambda: self.workbench and self.workbench.decisions.enter_count())
        a.uncountable.triggered.connect(lambda: self.workbench and self.workbench.decisions.mark_uncountable())
        a.exclude.triggered.connect(lambda: self.workbench and self.workbench.decisions.exclude())
        a.next_image.triggered.connect(lambda: self.browser and self.browser.step(1))
        a.previous_image.triggered.connect(lambda: self.browser and self.browser.step(-1))
        a.grid.toggled.connect(self.set_grid)
        a.audit_queue.toggled.connect(lambda on: self._queue_toggled(a.audit_queue, on))
        a.issue_queue.toggled.connect(lambda on: self._queue_toggled(a.issue_queue, on))
        a.blind.toggled.connect(self.set_blind)
        a.fit.triggered.connect(lambda: self.bin_view and self.bin_view.fit_photo())
        a.actual_size.triggered.connect(lambda: self.bin_view and self.bin_view.photo_actual_size())
        a.zoom_in.triggered.connect(lambda: self.bin_view and self.bin_view.zoom_photo(1.25))
        a.zoom_out.triggered.connect(lambda: self.bin_view and self.bin_view.zoom_photo(0.8))
        a.reset_adjustments.triggered.connect(lambda: self.bin_view and self.bin_view.reset_adjustments())
        a.search.triggered.connect(self.focus_search)
        a.go_to.triggered.connect(lambda: self.workbench and self.workbench.go_to_bin(self.prompts.bin_id(),
                                                                                     self.open_image))
        a.reload.triggered.connect(self.reload)
        a.shortcuts.triggered.connect(lambda: dialogs.shortcuts(self))
        a.about.triggered.connect(lambda: dialogs.about(self))
        self._enable_workspace_actions(False)

    def _compose_parts(self) -> None:
        """Place the parts' docks and status, connect their menu commands and listen to their signals."""
        a, bar = self.actions_, self.statusBar()
        for dock, menu, before in ((self.charts_dock, "view", a.reload), (self.audit.dock, "view", a.reload),
                                   (self.training.dock, "training", a.models)):
            self.docks.add(dock)  # beside the photo, closed until asked for
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
        for part in (self.training, self.exports, self.importer, self.audit):
            part.message.connect(bar.showMessage)
        self.audit.connect_actions(a)
        self.audit.sampleRequested.connect(lambda title, ids: self._show_subset(title, ids, ordered=True))
        self.importer.imported.connect(self._imported)
        a.bulk_exclude.triggered.connect(lambda: self.workbench and self.workbench.curation.bulk_exclude())
        a.bulk_uncountable.triggered.connect(lambda: self.workbench and self.workbench.curation.bulk_uncountable())
        a.bulk_count.triggered.connect(lambda: self.workbench and self.workbench.curation.bulk_count())

    def _enable_workspace_actions(self, enabled: bool) -> None:
        a = self.actions_
        for action in (*a.labelling, *a.workspace, a.next_image, a.previous_image, a.audit_queue, a.reload, a.search,
                       a.fit, a.actual_size, a.zoom_in, a.zoom_out, a.reset_adjustments):
            action.setEnabled(enabled)
        if not enabled:
            a.undo.setEnabled(False)
            a.redo.setEnabled(False)

    def _show_welcome(self) -> None:
        a = self.actions_
        a.open_demo.setEnabled(demo_workspace().exists())
        self.setCentralWidget(welcome_page([a.open_workspace, a.import_dataset, a.open_demo]))
        self.sb_workspace.setText("no workspace")

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
        a = self.actions_
        wb = self.workbench = Workbench(session, self.prompts, self.prompts.auditor_name,
                                        [a.bulk_exclude, a.bulk_uncountable, a.bulk_count, None, a.undo, a.redo],
                                        self.width())
        self.loader, self.browser, self.bin_view, self.controller = wb.loader, wb.browser, wb.bin_view, wb.controller
        self.setCentralWidget(wb)
        self.docks.settle()  # the docks' saved widths again, now that the workspace is in the middle
        self._wire_workspace()
        self.browser.set_grid(self.actions_.grid.isChecked())
        self.set_blind(self.actions_.blind.isChecked())
        self.setWindowTitle(f"binaudit \u2014 {workspace.root.name}" + (" (read-only)" if session.readonly else ""))
        self.sb_workspace.setText(str(workspace.root))
        self.sb_workspace.setToolTip(str(workspace.db_path))
        settings.put(settings.LAST_WORKSPACE, str(workspace.root))
        self.tools.opened(workspace)
        self._enable_workspace_actions(True)
        self._update_models()
        self.browser.show_message("Loading the workspace\u2026")
        session.load_index()
        self.loader.start()
        for part in (self.charts_dock, self.training, self.exports):
            part.set_session(session)
        self.audit.set_session(session, wb)
        return True

    def _wire_workspace(self) -> None:
        assert self.session and self.workbench and self.browser and self.controller
        s, b, c, a = self.session, self.browser, self.controller, self.actions_
        s.indexLoaded.connect(self._index_loaded)
        s.indexProgress.connect(lambda done, total: self.sb_counts.setText(f"loading {done:,} / {total:,}"))
        self.workbench.message.connect(self.statusBar().showMessage)
        self.workbench.countsChanged.connect(self._update_counts)
        b.currentImageChanged.connect(self._enable_labelling)
        b.viewChanged.connect(self._update_counts)
        b.idRequested.connect(self.open_image)
        c.stack.canUndoChanged.connect(a.undo.setEnabled)
        c.stack.canRedoChanged.connect(a.redo.setEnabled)
        c.stack.undoTextChanged.connect(lambda t: self._step_text(a.undo, "Undo", t))
        c.stack.redoTextChanged.connect(lambda t: self._step_text(a.redo, "Redo", t))

    def _enable_labelling(self, image_id: str) -> None:
        for action in self.actions_.labelling:
            action.setEnabled(bool(image_id))

    @staticmethod
    def _step_text(action: QAction, verb: str, what: str) -> None:
        """Menu text names the step ("Undo 00012: corrected to 4"); the toolbar keeps its short label."""
        action.setText(f"&{verb} {what}" if what else f"&{verb}")
        action.setIconText(verb)

    def close_workspace(self) -> None:
        if self.session is None:
            return
        self.tools.closed()
        for part in (self.charts_dock, self.training, self.exports, self.audit):
            part.set_session(None)
        workbench, session = self.workbench, self.session
        self.session = self.workbench = self.loader = self.browser = self.bin_view = self.controller = None
        self._leave_queues()  # off for the next workspace; nothing here walks any more
        if workbench is not None:
            workbench.shutdown()
        session.close()
        session.deleteLater()
        self._enable_workspace_actions(False)

    def reload(self) -> None:
        """Re-read the workspace (rows, labels, active models), e.g. after a model was activated."""
        if self.session is not None:
            self._update_models()
            self.session.load_index()
            if self.bin_view is not None:
                self.bin_view.refresh()

    def _index_loaded(self) -> None:
        assert self.workbench is not None
        self.workbench.index_loaded(self.current_queue())
        self._update_counts()
        self._update_models()
        self.workbench.browser.focus_view()

    def set_count(self, count: int) -> bool:
        """Label the image on screen with a count (what the 0-9 keys do); False if nothing was written."""
        return self.workbench is not None and self.workbench.decisions.set_count(count)

    def set_grid(self, grid: bool) -> None:
        settings.put(settings.VIEW_MODE, "grid" if grid else "table")
        if self.browser is not None:
            self.browser.set_grid(grid)

    def current_queue(self) -> QueueSpec | None:
        a = self.actions_
        return AUDIT_QUEUE if a.audit_queue.isChecked() else LABEL_ISSUE_QUEUE if a.issue_queue.isChecked() else None

    def _queue_toggled(self, action: QAction, on: bool) -> None:
        """The two queues exclude each other; the browser walks the one that is on (or none)."""
        other = self.actions_.issue_queue if action is self.actions_.audit_queue else self.actions_.audit_queue
        if on and other.isChecked():
            other.blockSignals(True)
            other.setChecked(False)
            other.blockSignals(False)
        if self.workbench is not None and self.workbench.session.loaded:
            if not self.workbench.walk(self.current_queue()) and on:
                self.statusBar().showMessage("This queue is empty: see the list for what to do.", 10000)

    def set_blind(self, blind: bool) -> None:
        settings.put(settings.BLIND, blind)
        self.charts_dock.set_blind(blind)
        if self.workbench is not None:
            self.workbench.set_blind(blind)

    def focus_search(self) -> None:
        if self.browser is not None:
            self.browser.focus_search()

    def _leave_queues(self) -> None:
        for action in (self.actions_.audit_queue, self.actions_.issue_queue):
            action.setChecked(False)

    def _show_subset(self, title: str, image_ids: list[str], ordered: bool = False) -> None:
        """List only the bins a chart picked (e.g. a confusion-matrix cell), or (ordered) a random sample's bins
        in its review order, outside the queues, at the first one not yet reviewed."""
        if self.browser is None:
            return
        if ordered:
            self._leave_queues()
        self.browser.show_subset(title, image_ids, ordered=ordered)
        if ordered:
            self.browser.select_row(self.browser.next_unreviewed_row(-1))
        self.browser.focus_view()

    def open_image(self, image_id: str) -> bool:
        """Show an image in the browser (from a comparison's flip list), leaving queue, chart selection and
        filters when they hide it."""
        if self.browser is None:
            return False
        if not self.browser.select_image(image_id):
            self._leave_queues()
            self.browser.show_all()
        found = self.browser.select_image(image_id)
        if found:
            self.raise_()
            self.activateWindow()
        return found

    def _update_counts(self) -> None:
        text = self.workbench.counts_text() if self.workbench is not None else ""
        if text:
            self.sb_counts.setText(text)

    def _update_models(self) -> None:
        set_status_part(self.sb_models, active_models_text(self.session.active_models()) if self.session else "")

    # ------------------------------------------------------------------ open and import
    def _workspace(self) -> Workspace | None:
        return self.session.workspace if self.session is not None else None

    def choose_workspace(self) -> None:
        start = str(self.session.workspace.root.parent) if self.session else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open workspace folder", start)
        if folder:
            self.open_workspace(Workspace.at(folder))

    def import_folder(self, dataset: Path, target: Workspace | None = None) -> ImportJob | None:
        """Import a dataset folder in the background (asks where to, unless target is given)."""
        return self.importer.import_folder(dataset, self._workspace(), target)

    @property
    def import_job(self) -> ImportJob | None:
        """The latest import (running or done), None before the first."""
        return self.importer.job

    def _imported(self, workspace: Workspace) -> None:
        if self.session is not None and workspace.db_path == self.session.workspace.db_path:
            self.session.load_index()
        else:
            self.open_workspace(workspace)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if urls and all(u.isLocalFile() and Path(u.toLocalFile()).is_dir() for u in urls[:1]):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        folder = Path(event.mimeData().urls()[0].toLocalFile())
        event.acceptProposedAction()
        QTimer.singleShot(0, lambda: self.import_folder(folder))

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.training.shutdown():
            event.ignore()
            return
        settings.save_window(self)
        if self.workbench is not None:
            settings.put(settings.SPLITTER, self.workbench.splitter.saveState())
            settings.put(settings.DETAILS_HEIGHT, self.workbench.bin_view.details_height())
        self.importer.cancel()
        if self.device_probe is not None:
            self.device_probe.stop()
        self.close_workspace()
        self.audit.shutdown()
        super().closeEvent(event)
