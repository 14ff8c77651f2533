"""The audit loop's part of the window: queue updates, the Queue quality dock, random-sample audits.

This object composes the pieces (updater, finetune, dock, dialogs, samples); the window places the
dock, connects the Label menu's actions to update_queue(), random_sample() and edit_settings(),
hands it each workspace's session and workbench, and lists the bins of sampleRequested(title, ids).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtWidgets import QDialog, QWidget

from binaudit.core.labels import LabelEvent
from binaudit.gui.audit.dialogs import QueueUpdateSettingsDialog, RandomSampleDialog, SampleInfo
from binaudit.gui.audit.dock import QueueQualityDock
from binaudit.gui.audit.finetune import FineTuner
from binaudit.gui.audit.samples import SampleMarks, SampleReader, draw_sample_job
from binaudit.gui.audit.updater import QueueUpdater, UpdateOutcome
from binaudit.gui.browse.browser import BrowserPanel
from binaudit.gui.common import settings, workers
from binaudit.gui.common.errors import show_error, user_message
from binaudit.gui.common.session import WorkspaceSession
from binaudit.gui.review.labeling import LabelController
from binaudit.gui.training.menu import TrainingMenu


class Bench(Protocol):
    """What the audit part uses of an open workspace's workbench."""

    browser: BrowserPanel
    controller: LabelController


class AuditMenu(QObject):
    """See the module docstring. message(text, ms) is for the status bar; sampleRequested(title, image ids in
    review order) asks the window to list a random sample's bins."""

    message = Signal(str, int)
    sampleRequested = Signal(str, list)

    def __init__(self, parent: QWidget, training: TrainingMenu, auditor: Callable[[], str | None]):
        super().__init__(parent)
        self.dialog_parent = parent
        self.auditor = auditor
        self.pool = QThreadPool(self)  # reports and sample reads, one at a time, never on the GUI thread
        self.pool.setMaxThreadCount(1)
        self.dock = QueueQualityDock(self.pool, parent)
        self.updater = QueueUpdater(auditor, self)
        self.finetuner = FineTuner(training, self)
        self.marks = SampleMarks(self)
        self.session: WorkspaceSession | None = None
        self.bench: Bench | None = None
        self.updater.message.connect(self.message)
        self.updater.updated.connect(self._updated)
        self.finetuner.message.connect(self.message)
        self._drawing: workers.Task | None = None

    # ------------------------------------------------------------------ the open workspace
    def set_session(self, session: WorkspaceSession | None, bench: Bench | None = None) -> None:
        """The workspace (and its workbench) the loop works on; None when it closes."""
        if self.bench is not None:
            for signal, slot in ((self.bench.controller.written, self._written),
                                 (self.bench.controller.bulkWritten, self._bulk_written)):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self.session, self.bench = session, bench
        self.updater.set_session(session, bench.browser.model.refresh_view if bench is not None else None)
        self.finetuner.set_session(session)
        self.dock.set_session(session)
        self.marks.set_session(session, bench.browser if bench is not None else None)
        if bench is not None:
            bench.controller.written.connect(self._written)
            bench.controller.bulkWritten.connect(self._bulk_written)

    def _written(self, _image_id: str, _event: LabelEvent, operation: str) -> None:
        if operation == "label":
            self.updater.decided(1)
        self.dock.refresh_soon()

    def _bulk_written(self, image_ids: list[str], _message: str) -> None:
        self.updater.decided(len(image_ids))
        self.dock.refresh_soon()

    # ------------------------------------------------------------------ queue updates
    def connect_actions(self, actions: Any) -> None:
        """Label > Update the Queue, Random-Sample Audit and Queue Update Settings."""
        actions.update_queue.triggered.connect(self.update_queue)
        actions.random_sample.triggered.connect(self.random_sample)
        actions.queue_settings.triggered.connect(self.edit_settings)

    def update_queue(self) -> bool:
        """Label > Update the Queue: refit the queue on the reviews in the background."""
        return self.updater.update(automatic=False)

    def _updated(self, outcome: UpdateOutcome) -> None:
        self.dock.refresh_soon()
        if settings.get_bool(settings.QUEUE_FINETUNE):
            self.finetuner.start()

    def edit_settings(self) -> bool:
        """Label > Queue Update Settings: how often, and whether to fine-tune too (kept in QSettings)."""
        dialog = QueueUpdateSettingsDialog(self.dialog_parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return False
            dialog.save()
        finally:
            dialog.deleteLater()
            self.dialog_parent.activateWindow()  # the keyboard back to the list
        n = self.updater.every()
        self.message.emit(f"The queue updates itself after every {n} decisions." if n else
                          "The queue updates only when asked (Label > Update the Queue).", 8000)
        return True

    # ------------------------------------------------------------------ random samples
    def random_sample(self) -> bool:
        """Label > Random-Sample Audit: draw a sample (or review the latest again) and list its bins."""
        session = self.session
        if session is None or not session.loaded:
            return False
        reader = SampleReader(session)
        latest = reader.latest_info()
        dialog = RandomSampleDialog(reader.population(), latest, self.dialog_parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return False
            choice = dialog.choice()
        finally:
            dialog.deleteLater()
            self.dialog_parent.activateWindow()
        if not choice.draw and choice.sample_id is not None:
            self._show_sample(choice.sample_id)
            return True
        return self._draw(choice.size, choice.stratified)

    def _draw(self, size: int, stratified: bool) -> bool:
        session = self.session
        user = self.auditor()
        if session is None or not user:
            self.message.emit("A random sample needs the auditor's name (File > Auditor Name).", 8000)
            return False
        if session.readonly:
            self.message.emit("This workspace is open read-only: no sample can be drawn.", 8000)
            return False
        self.message.emit(f"Drawing a random sample of {size:,} bins\u2026", 4000)
        self._drawing = workers.start(draw_sample_job, str(session.workspace.db_path), size, stratified, user,
                                      on_done=self._drawn, on_error=self._draw_failed, pool=self.pool, owner=self)
        return True

    def _drawn(self, sample_id: int) -> None:
        self._drawing = None
        if self.session is None:
            return
        self.message.emit(f"Random sample #{sample_id} drawn: review every bin of it (it is marked in the list).",
                          12000)
        self._show_sample(sample_id)
        self.dock.refresh_soon()

    def _draw_failed(self, exc: BaseException) -> None:
        self._drawing = None
        show_error(self.dialog_parent, "Random-sample audit", f"No sample was drawn: {user_message(exc)}")

    def _show_sample(self, sample_id: int) -> None:
        """Mark every sampled bin and ask the window to list this sample's bins in review order."""
        session = self.session
        if session is None:
            return
        reader = SampleReader(session)
        ids = reader.sample_ids(sample_id)
        self.marks.reload()
        self.sampleRequested.emit(f"Random sample #{sample_id}", ids)

    @property
    def latest_sample(self) -> SampleInfo | None:
        return SampleReader(self.session).latest_info() if self.session is not None else None

    def shutdown(self) -> None:
        """The window is closing: let the update, report and draw in flight finish (they are short)."""
        self.set_session(None)
        self.pool.waitForDone(30_000)
        self.updater.pool.waitForDone(30_000)
